"""The deterministic writer: facts -> a concise radiology report, every sentence cited.

Always available, and the fallback for every sentence a drafting model gets wrong.
Sections: clinical information (record, prior reports), technique (each study
and its image quality), comparison, findings (by organ, lesion by lesion with tracking identifiers),
impression (RECIST 1.1 / iRECIST, Lung-RADS) and recommendations (guideline
follow-up with dates). Each sentence states only the facts whose ids it carries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from radcycle.domain import Fact
from radcycle.reporting.claims import QUALITY_ANALYSES
from radcycle.reporting.report import Report, number_sentences
from radcycle.reporting.wording import LOBES, RESPONSES, direction_word, fmt_mm

__all__ = ["FactIndex", "write_report"]

Item = tuple[str, tuple[str, ...]]
_MASS_MM = 30.0


@dataclass(frozen=True)
class FactIndex:
    """Facts looked up by lesion, name and time point."""

    facts: tuple[Fact, ...]

    def get(self, name: str, tid: str | None = None, when: str | None = None) -> Fact | None:
        for f in self.facts:
            if (
                f.name == name
                and f.tracking_identifier == tid
                and (when is None or f.time_point == when)
            ):
                return f
        return None

    def by_id(self, fid: str) -> Fact | None:
        return next((f for f in self.facts if f.id == fid), None)

    def named(self, name: str) -> list[Fact]:
        return [f for f in self.facts if f.name == name]

    def lesions(self) -> list[str]:
        return list(
            dict.fromkeys(f.tracking_identifier for f in self.facts if f.tracking_identifier)
        )

    def dates(self) -> list[str]:
        return sorted({f.time_point for f in self.named("modality") if f.time_point})


def _ids(*facts: Fact | None) -> tuple[str, ...]:
    return tuple(f.id for f in facts if f is not None)


def _clinical(ix: FactIndex) -> list[Item]:
    out: list[Item] = []
    for dx in ix.named("diagnosis"):
        stage = next((f for f in ix.named("stage") if f.id == f"{dx.id}-stage"), None)
        text = f"Known {dx.value}" + (f", stage {stage.value}" if stage else "") + "."
        out.append((text, _ids(dx, stage)))
    treatment = next(iter(ix.named("treatment")), None)
    if treatment is not None:
        since = f" since {treatment.time_point}" if treatment.time_point else ""
        out.append((f"Current treatment: {treatment.value}{since}.", _ids(treatment)))
    priors = ix.named("prior_finding") + ix.named("prior_finding_uncertain")
    for f in priors:
        hedge = "possible " if f.name == "prior_finding_uncertain" else ""
        source = (f.provenance.prior_report or "").rsplit("/", 1)[-1]
        out.append((f"Prior report ({source}): {hedge}{f.value}.", _ids(f)))
    return out


def _technique(ix: FactIndex) -> list[Item]:
    out: list[Item] = []
    for when in ix.dates():
        modality = ix.get("modality", None, when)
        thickness = ix.get("slice_thickness", None, when)
        text = f"{modality.value if modality else 'CT'} of the chest on {when}"
        if thickness is not None:
            text += f", {fmt_mm(float(thickness.value or 0))} mm slices"
        out.append((text + ".", _ids(modality, thickness)))
        out.extend(_quality(ix, when))
    return out


_ANALYSIS_WORDS = {v: k for k, v in QUALITY_ANALYSES.items()}
_ANALYSIS_WORDS["recist"] = "RECIST 1.1 measurement"


def _quality(ix: FactIndex, when: str) -> list[Item]:
    """Image quality of one study: the verdict per analysis and the findings behind them."""
    verdicts = [
        f
        for f in ix.facts
        if f.name.startswith("image_quality_") and f.time_point == when and f.value is not None
    ]
    if not verdicts:
        return []
    parts = [
        f"{f.value} for {_ANALYSIS_WORDS.get(f.name.removeprefix('image_quality_'), '?')}"
        for f in verdicts
    ]
    found = [f for f in ix.named("quality_finding") if f.time_point == when]
    text = f"Image quality on {when}: {', '.join(parts)}"
    if found:
        text += f" ({', '.join(str(f.value).replace('-', ' ') for f in found)})"
    out: list[Item] = [(text + ".", _ids(*verdicts, *found))]
    phase = next((f for f in ix.named("contrast_phase_from_image") if f.time_point == when), None)
    if phase is not None:
        out.append((f"Contrast phase from the aorta on {when}: {phase.value}.", _ids(phase)))
    return out


def _near(ix: FactIndex, tid: str | None, when: str, what: str) -> list[Item]:
    """Sentences for measurements within their own noise of a threshold."""
    out: list[Item] = []
    for near in ix.named("near_threshold"):
        if near.tracking_identifier != tid or near.time_point != when:
            continue
        band, threshold = ix.by_id(f"{near.id}-band"), ix.by_id(f"{near.id}-threshold")
        if band is None or threshold is None:
            continue
        unit = str(band.unit)
        gap = " " if unit == "mm" else ""
        subject = "its mean diameter" if str(near.value).startswith("Lung-RADS") else what
        text = (
            f"On {when} {subject} lies within its measurement noise "
            f"(±{float(band.value or 0):.1f}{gap}{unit}) of the {near.value} threshold; "
            "a repeat scan may fall on the other side."
        )
        out.append((text, _ids(near, band, threshold)))
    return out


def _comparison(ix: FactIndex) -> list[Item]:
    dates = ix.dates()
    if len(dates) < 2:
        modality = ix.get("modality", None, dates[0]) if dates else None
        return [("No prior study is available for comparison.", _ids(modality))]
    earlier = [ix.get("modality", None, d) for d in dates[:-1]]
    return [(f"Compared with {', '.join(dates[:-1])}.", _ids(*earlier))]


def _where(ix: FactIndex, tid: str) -> tuple[str, tuple[str, ...]]:
    organ, side, lobe, kind = (ix.get(n, tid) for n in ("organ", "side", "lobe", "kind"))
    noun = "lymph node" if kind is not None and kind.value == "lymph node" else "lesion"
    if organ is not None and organ.value == "lung" and noun == "lesion":
        sizes = [f.value for f in ix.named("long_axis") if f.tracking_identifier == tid]
        # a lung lesion larger than 3 cm is a mass, not a nodule (Fleischner glossary)
        big = any(isinstance(v, float) and v >= _MASS_MM for v in sizes)
        shape = "mass" if big else "nodule"
        noun = f"{kind.value} {shape}" if kind is not None else shape
    place = ""
    if lobe is not None and str(lobe.value) in LOBES:
        place = f" in the {LOBES[str(lobe.value)]}"
    elif side is not None:
        place = f" in the {side.value} {organ.value if organ else ''}".rstrip()
    elif organ is not None and organ.value != "lung":
        place = f" in the {organ.value}"
    parent = ix.get("split_from", tid)
    split = f", split from {parent.value}" if parent is not None else ""
    text = f"{tid.capitalize()}: {noun}{place}{split}."
    if "mass" in noun:
        largest = max(
            (f for f in ix.named("long_axis") if f.tracking_identifier == tid),
            key=lambda f: float(f.value or 0),
        )
        return text, (
            *_ids(organ, side if place and lobe is None else None),
            *_ids(lobe if "lobe" in place else None, kind, parent, largest),
        )
    return text, _ids(
        organ,
        side if place and lobe is None else None,
        lobe if "lobe" in place else None,
        kind,
        parent,
    )


def _size(ix: FactIndex, tid: str, when: str) -> Item | None:
    status = ix.get("status", tid, when)
    assessed = ix.get("assessment", tid, when)
    reason = ix.get("assessment_reason", tid, when)
    long, short = ix.get("long_axis", tid, when), ix.get("short_axis", tid, when)
    gone = assessed.value == "disappeared" if assessed is not None else None
    if gone or (gone is None and status is not None and status.value == "disappeared"):
        return (f"On {when} it is no longer seen (disappeared).", _ids(assessed, reason, status))
    if long is None:
        if status is not None or assessed is not None:
            return (f"On {when} it was not evaluated.", _ids(assessed, reason, status))
        return None
    text = f"On {when} it measures {fmt_mm(float(long.value or 0))}"
    if short is not None:
        text += f" x {fmt_mm(float(short.value or 0))}"
    text += " mm"
    volume = ix.get("volume", tid, when)
    if volume is not None:
        text += f", volume {float(volume.value or 0):.0f} mm3"
    new = status is not None and status.value == "new"
    text += " (new)." if new else "."
    return text, _ids(long, short, volume, status if new else None)


def _change(ix: FactIndex, tid: str, when: str) -> Item | None:
    change = ix.get("change_from_baseline", tid, when)
    if change is None or not isinstance(change.value, int | float):
        return None
    value = float(change.value)
    word = direction_word(value)
    if word == "unchanged":
        return (f"It is unchanged in diameter from baseline ({value:+.1f}%).", _ids(change))
    return (f"It has {word} by {abs(value):.1f}% from baseline.", _ids(change))


def _findings(ix: FactIndex) -> list[Item]:
    by_organ: dict[str, list[str]] = defaultdict(list)
    for tid in ix.lesions():
        organ_fact = ix.get("organ", tid)
        by_organ[str(organ_fact.value) if organ_fact else "other"].append(tid)
    out: list[Item] = []
    if not by_organ:
        modality = ix.get("modality", None, ix.dates()[-1]) if ix.dates() else None
        return [("No measurable lesion was found or given.", _ids(modality))]
    for organ in sorted(by_organ, key=lambda o: (o != "lung", o)):
        for tid in by_organ[organ]:
            out.append(_where(ix, tid))
            dates = [d for d in ix.dates() if ix.get("status", tid, d) is not None]
            for when in dates:
                item = _size(ix, tid, when)
                if item is not None:
                    out.append(item)
                out.extend(_near(ix, tid, when, "its long axis"))
            if len(dates) > 1:
                item = _change(ix, tid, dates[-1])
                if item is not None:
                    out.append(item)
    return out


def _impression(ix: FactIndex) -> list[Item]:
    out: list[Item] = []
    dates = ix.dates()
    for when in dates:
        recist = next((f for f in ix.facts if f.id == f"f-recist-{when}"), None)
        if recist is None:
            continue
        name = RESPONSES.get(str(recist.value), str(recist.value))
        rule = recist.provenance.rule
        guideline = f"{rule.guideline} {rule.version}" if rule else "RECIST 1.1"
        text = f"{guideline} response on {when}: {name}"
        total = ix.by_id(f"f-recist-{when}-sum")
        change = ix.by_id(f"f-recist-{when}-sum_change")
        if total is not None:
            text += f"; sum of target diameters {fmt_mm(float(total.value or 0))} mm"
            if change is not None and isinstance(change.value, int | float):
                text += f" ({float(change.value):+.1f}% from baseline)"
        out.append((text + ".", _ids(recist, total, change)))
        out.extend(_near(ix, None, when, "the change of the sum of diameters"))
        new = [f for f in ix.named("status") if f.time_point == when and f.value == "new"]
        if not new:
            out.append((f"No new lesion on {when}.", _ids(recist)))
    best = ix.by_id("f-recist-best")
    if best is not None and len(dates) > 1:
        name = RESPONSES.get(str(best.value), str(best.value))
        out.append((f"Best overall response: {name}.", _ids(best)))
    for when in dates:
        lr = ix.by_id(f"f-lungrads-{when}")
        if lr is None:
            continue
        if lr.value == "not applicable":
            # a screening scheme: its category would be misread beside a known cancer
            dx = [f for f in ix.facts if f.name == "diagnosis"]
            text = f"Lung-RADS v2022 (a screening scheme) is not applicable on {when}."
            out.append((text, _ids(lr, *dx[:1])))
        else:
            text = f"Lung-RADS v2022 screening category {lr.value} on {when}."
            out.append((text, _ids(lr)))
    return out


def _recommendations(ix: FactIndex) -> list[Item]:
    out: list[Item] = []
    dates = ix.dates()
    if not dates:
        return out
    last = dates[-1]
    for key, title in (("lungrads", "Lung-RADS v2022"), ("fleischner", "Fleischner 2017")):
        nxt = ix.by_id(f"f-{key}-{last}-next_exam")
        interval = ix.by_id(f"f-{key}-{last}-interval")
        if nxt is not None:
            within = f" (in {interval.value})" if interval is not None else ""
            out.append((f"{title}: next CT on or after {nxt.value}{within}.", _ids(nxt, interval)))
    return out


def write_report(facts: Sequence[Fact], patient_id: str, generated: str) -> Report:
    """The deterministic report of ``facts``.

    Args:
        facts: from :func:`radcycle.pipeline.facts.build_facts` (or a report.json).
        patient_id: PatientID, for the header.
        generated: ISO date-time of drafting (a parameter: nothing reads the clock here).

    Example:
        >>> from radcycle.domain import FactKind, FactProvenance
        >>> f = Fact("f-tech-2025-01-06-modality", FactKind.TECHNIQUE, "CT", None, None,
        ...          "2025-01-06", FactProvenance(), "modality")
        >>> r = write_report([f], "P1", "2025-01-07T09:00:00+00:00")
        >>> [s.text for s in r.sections[1].sentences]
        ['CT of the chest on 2025-01-06.']
    """
    ix = FactIndex(tuple(facts))
    sections = number_sentences(
        [
            ("clinical_information", _clinical(ix)),
            ("technique", _technique(ix)),
            ("comparison", _comparison(ix)),
            ("findings", _findings(ix)),
            ("impression", _impression(ix)),
            ("recommendations", _recommendations(ix)),
        ]
    )
    return Report(patient_id, generated, "deterministic", sections, tuple(facts))
