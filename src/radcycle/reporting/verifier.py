"""The verifier: is every claim of a sentence supported by the facts?

A sentence is read into claims (:func:`~radcycle.reporting.claims.read_claims`)
and checked against facts:

* with citations (a drafted sentence): against the facts it cites; a sentence
  with no citation, citing an unknown fact, or stating nothing checkable is
  rejected;
* without (``radcycle verify`` on any text): against the whole fact set, the
  supporting facts are found.

Claims about one lesion (size, side, lobe, kind, change) must all hold for the
same lesion: "8 mm in the left lower lobe" is false when the 8 mm nodule is in the
right upper lobe and the left lower lobe one measures 18 mm. Numbers are compared
after unit conversion (cm to mm, ml to mm3) within the precision they are stated
to; dates exactly; directions of change against the measured change and the
response category; "new", "no new", "disappeared" against the tracking status;
a sentence stated as certain may not rest on a finding its source hedged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from radcycle.domain import Fact, FactKind
from radcycle.reporting.claims import Claims, read_claims
from radcycle.reporting.wording import LOBES, STABLE_RANGE_PCT

__all__ = ["Verdict", "verify_sentence"]

_CHANGES = ("change_from_baseline", "change_from_nadir", "sum_change_from_baseline")
_SIZE_NAMES = ("long_axis", "short_axis", "solid_component")
_DAYS_PER_MONTH = 30.4375
_MASS_MM = 30.0
# The report states facts to 0.1; a paraphrase rounds the stated value again.
_REPORT_ROUNDING = 0.05  # a lung lesion larger than 3 cm is a mass
_LOBE_SIDE = {"RUL": "right", "RML": "right", "RLL": "right", "LUL": "left", "LLL": "left"}
_GROWTH = {"PD", "iUPD", "iCPD"}
_SHRINK = {"PR", "CR", "iPR", "iCR"}
_STABLE = {"SD", "iSD"}


@dataclass(frozen=True)
class Verdict:
    """The verifier's answer for one sentence.

    Args:
        text: the sentence.
        supported: every claim is supported.
        fact_ids: the facts that support its claims.
        reasons: why it is not supported (empty when it is).
    """

    text: str
    supported: bool
    fact_ids: tuple[str, ...]
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "supported": self.supported,
            "fact_ids": list(self.fact_ids),
            "reasons": list(self.reasons),
        }


class _Check:
    """Claims against one candidate set of facts; collects reasons and the facts used."""

    def __init__(
        self,
        claims: Claims,
        facts: Sequence[Fact],
        everything: Sequence[Fact],
        quoting: bool = False,
    ) -> None:
        self.claims, self.facts, self.everything = claims, facts, everything
        # only a sentence about the record or a prior report may rest on their words
        self.quoting = quoting
        self.reasons: list[str] = []
        self.used: dict[str, Fact] = {}

    def named(self, *names: str) -> list[Fact]:
        return [f for f in self.facts if f.name in names]

    def use(self, facts: Sequence[Fact]) -> None:
        for f in facts:
            self.used.setdefault(f.id, f)

    def quoted(self, phrase: str) -> list[Fact]:
        """Record and prior-report facts whose text holds ``phrase`` (what a source said)."""
        if not self.quoting:
            return []
        kinds = (FactKind.RECORD, FactKind.PRIOR_FINDING)
        return [f for f in self.facts if f.kind in kinds and phrase in str(f.value).lower()]

    def fail(self, reason: str) -> None:
        self.reasons.append(reason)

    def run(self) -> None:
        for step in (
            self._quantities,
            self._dates,
            self._intervals,
            self._place,
            self._kinds,
            self._findings,
            self._categories,
            self._directions,
            self._status,
            self._certainty,
            self._quality,
            self._noise,
        ):
            step()

    def _quantities(self) -> None:
        # a sum or a slice thickness is only what a sentence about one says it is
        sizes: tuple[str, ...] = (*_SIZE_NAMES, *(("sum_of_diameters",) if self.claims.sum else ()))
        if self.claims.noise:
            sizes = (*sizes, "noise_band", "threshold")
        if self.claims.slices:
            sizes = ("slice_thickness",)
        directions = self.claims.directions
        sign = next(iter(directions)) if len(directions) == 1 and 0 not in directions else 0
        for q in self.claims.quantities:
            # "increased by 16 %" is +16 %: a signed change where a direction is stated
            wanted = q.value * sign if q.unit == "%" and sign else None
            hits = [
                f
                for f in self.facts
                if f.unit == q.unit
                and isinstance(f.value, int | float)
                and not isinstance(f.value, bool)
                and abs(
                    (float(f.value) - wanted)
                    if wanted is not None
                    else abs(float(f.value)) - q.value
                )
                <= q.tolerance + _REPORT_ROUNDING
                and (q.unit != "mm" or f.name in sizes)
            ]
            hits = hits or self.quoted(f"{q.value:g} {q.unit}")
            if hits:
                self.use(hits[:1])
            else:
                self.fail(f"{q.text.strip()}: no such value in the facts")

    def _dates(self) -> None:
        for d in self.claims.dates:
            hits = [f for f in self.facts if d in (f.time_point, f.value)]
            if hits:
                self.use(hits[:1])
            else:
                self.fail(f"date {d}: not in the facts")

    def _intervals(self) -> None:
        known = {str(f.time_point) for f in self.everything if f.time_point}
        days = sorted(date.fromisoformat(d) for d in known if _iso(d))
        gaps = {round((b - a).days / _DAYS_PER_MONTH) for a in days for b in days if b > a}
        for low, high in self.claims.intervals_months:
            text = f"{low} months" if low == high else f"{low}-{high} months"
            hits = [f for f in self.facts if f.value == text]
            if hits:
                self.use(hits[:1])
            elif not (low == high and low in gaps):
                self.fail(f"interval {text}: not in the facts")

    def _place(self) -> None:
        sides = {str(f.value) for f in self.named("side")}
        lobes = self.named("lobe")
        sides |= {_LOBE_SIDE.get(str(f.value), "") for f in lobes}
        for side in self.claims.sides:
            if side not in sides and self.quoted(side):
                self.use(self.quoted(side)[:1])
            elif side in sides:
                self.use(
                    [
                        f
                        for f in (*self.named("side"), *lobes)
                        if side in (f.value, _LOBE_SIDE.get(str(f.value)))
                    ][:1]
                )
            else:
                self.fail(
                    f"{side} side: the facts say {', '.join(sorted(sides - {''})) or 'no side'}"
                )
        for lobe in self.claims.lobes:
            hits = [f for f in lobes if f.value == lobe] or self.quoted(LOBES[lobe])
            if hits:
                self.use(hits)
            else:
                held = ", ".join(sorted(str(f.value) for f in lobes)) or "no lobe"
                self.fail(f"lobe {lobe}: the facts say {held}")

    def _kinds(self) -> None:
        kinds = {str(f.value) for f in self.named("kind", "organ")}
        for kind in self.claims.kinds:
            if kind == "mass" and any(
                isinstance(f.value, float) and f.value >= _MASS_MM for f in self.named("long_axis")
            ):
                continue
            if kind in kinds:
                self.use([f for f in self.named("kind", "organ") if f.value == kind])
            else:
                self.fail(
                    f"{kind}: the facts say {', '.join(sorted(kinds)) or 'nothing of its kind'}"
                )
        for organ in self.claims.organs:
            if organ not in kinds:
                self.fail(f"{organ}: no such site in the facts")

    def _findings(self) -> None:
        texts = [
            str(f.value).lower()
            for f in self.facts
            if f.kind in (FactKind.RECORD, FactKind.PRIOR_FINDING) and f.value is not None
        ]
        for word in self.claims.findings:
            stem = word[:6]
            hits = [
                f
                for f in self.facts
                if f.kind in (FactKind.RECORD, FactKind.PRIOR_FINDING)
                and stem in str(f.value).lower()
            ]
            if hits and any(stem in t for t in texts):
                self.use(hits[:1])
            else:
                self.fail(f"'{word}': not in the facts")

    def _categories(self) -> None:
        responses = self.named("recist_category", "irecist_category", "best_overall_response")
        held = {str(f.value) for f in responses}
        for code in self.claims.responses:
            if code in held:
                self.use([f for f in responses if f.value == code])
            else:
                self.fail(f"response {code}: the facts say {', '.join(sorted(held)) or 'none'}")
        lung_rads = self.named("lung-rads_category")
        held_lr = {str(f.value).upper() for f in lung_rads}
        for cat in self.claims.lung_rads:
            if cat in held_lr:
                self.use([f for f in lung_rads if str(f.value).upper() == cat])
            else:
                self.fail(f"Lung-RADS {cat}: the facts say {', '.join(sorted(held_lr)) or 'none'}")
        if self.claims.lung_rads_not_applicable:
            hits = [f for f in lung_rads if f.value == "not applicable"]
            if hits:
                self.use(hits)
            else:
                shown = ", ".join(sorted(held_lr)) or "none"
                self.fail(f"Lung-RADS not applicable: the facts say {shown}")

    def _directions(self) -> None:
        changes = [f for f in self.named(*_CHANGES) if isinstance(f.value, int | float)]
        stated = [q for q in self.claims.quantities if q.unit == "%"]
        if stated:
            # the change the sentence quantifies is the one its direction is about
            changes = [
                f
                for f in changes
                if any(
                    abs(abs(float(f.value or 0)) - q.value) <= q.tolerance + 0.05 for q in stated
                )
            ]
        categories = {str(f.value) for f in self.named("recist_category", "irecist_category")}
        new = any(f.value == "new" for f in self.named("status"))
        for d in self.claims.directions:
            agree = [f for f in changes if _agrees(d, float(f.value or 0))]
            if d == 0 and (categories & _GROWTH or new):
                self.fail("stable/unchanged: the facts show progression or a new lesion")
            elif agree:
                self.use(agree[:1])
            elif not changes and _category_agrees(d, categories):
                continue
            else:
                word = {1: "increase", -1: "decrease", 0: "no change"}[d]
                shown = (
                    ", ".join(f"{float(f.value or 0):+.1f}%" for f in changes) or "no comparison"
                )
                self.fail(f"{word}: the facts show {shown}")

    def _status(self) -> None:
        status = self.named("status")
        when = set(self.claims.dates)
        if self.claims.new:
            hits = [f for f in status if f.value == "new" and (not when or f.time_point in when)]
            if hits:
                self.use(hits)
            else:
                self.fail("new: no lesion is new in the facts")
        if self.claims.no_new:
            whole = [f for f in self.everything if f.name == "status" and f.value == "new"]
            if any(not when or f.time_point in when for f in whole):
                self.fail("no new lesion: the facts hold a new lesion")
        if self.claims.no_prior:
            studies = {f.time_point for f in self.everything if f.name == "modality"}
            if len(studies) > 1:
                self.fail(f"no prior study: the facts hold {len(studies)} studies")
            else:
                self.use(self.named("modality")[:1])
        assessed = self.named("assessment")
        if self.claims.gone:
            hits = [f for f in status if f.value in ("disappeared", "merged")]
            hits += [f for f in assessed if f.value == "disappeared"]
            hits = [f for f in hits if not when or f.time_point in when]
            if hits:
                self.use(hits)
            else:
                self.fail("disappeared: no lesion disappeared in the facts")
        if self.claims.not_evaluated:
            hits = [f for f in status if f.value in ("not evaluated", "missing")]
            hits += [f for f in assessed if f.value == "not evaluated"]
            hits = [f for f in hits if not when or f.time_point in when]
            hits += [f for f in self.named("recist_category") if f.value == "NE"]
            if hits:
                self.use(hits)
            else:
                self.fail("not evaluated: the facts hold an evaluation")

    def _quality(self) -> None:
        when = set(self.claims.dates)

        def on_date(facts: list[Fact]) -> list[Fact]:
            # a study's quality is that study's: the date stated is the one checked
            return [f for f in facts if not when or f.time_point in when]

        for verdict, analysis in self.claims.quality:
            held = on_date(self.named(f"image_quality_{analysis}"))
            hits = [f for f in held if str(f.value).lower() == verdict]
            if hits:
                self.use(hits[:1])
            else:
                said = ", ".join(sorted({str(f.value) for f in held})) or "no verdict"
                self.fail(f"{verdict} for {analysis}: the facts say {said}")
        found = on_date(self.named("quality_finding"))
        codes = {str(f.value).replace("-", " "): f for f in found}
        for reason in self.claims.quality_reasons:
            if reason in codes:
                self.use([codes[reason]])
            else:
                self.fail(f"'{reason}': no such quality finding in the facts")
        if self.claims.phase is not None:
            phases = on_date(self.named("contrast_phase_from_image"))
            hits = [f for f in phases if str(f.value).lower() == self.claims.phase]
            if hits:
                self.use(hits[:1])
            else:
                said = ", ".join(str(f.value) for f in phases) or "none"
                self.fail(f"contrast phase {self.claims.phase}: the facts say {said}")

    def _noise(self) -> None:
        if not self.claims.noise:
            return
        when = set(self.claims.dates)
        hits = [f for f in self.named("near_threshold") if not when or f.time_point in when]
        if hits:
            self.use(hits)
        else:
            self.fail("within its noise of a threshold: no such fact")

    def _certainty(self) -> None:
        hedged = [f for f in self.used.values() if f.name.endswith("_uncertain")]
        if hedged and not self.claims.hedged:
            self.fail("states as certain what the source hedges")


def _iso(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _agrees(direction: int, change: float) -> bool:
    if direction == 0:
        return STABLE_RANGE_PCT[0] < change < STABLE_RANGE_PCT[1]
    return change * direction > 0


def _category_agrees(direction: int, categories: set[str]) -> bool:
    wanted = {1: _GROWTH, -1: _SHRINK, 0: _STABLE}[direction]
    return bool(categories & wanted)


def _lesion_claims(c: Claims) -> bool:
    return bool(
        c.sides or c.lobes or c.kinds or c.organs or c.quantities or c.directions or c.new or c.gone
    )


def _candidates(claims: Claims, pool: Sequence[Fact]) -> list[list[Fact]]:
    if claims.reported or (claims.findings and not claims.lesion_ids):
        # what a prior report or the record says is checked against their words only
        return [[f for f in pool if f.kind in (FactKind.PRIOR_FINDING, FactKind.RECORD)]]
    common = [f for f in pool if f.tracking_identifier is None]
    lesions = list(dict.fromkeys(f.tracking_identifier for f in pool if f.tracking_identifier))
    if claims.lesion_ids:
        wanted = set(claims.lesion_ids)
        return [common + [f for f in pool if (f.tracking_identifier or "").lower() in wanted]]
    if not _lesion_claims(claims) or not lesions:
        return [list(pool)]
    return [common] + [common + [f for f in pool if f.tracking_identifier == t] for t in lesions]


def verify_sentence(
    text: str, facts: Sequence[Fact], cited: Sequence[str] | None = None
) -> Verdict:
    """Check one sentence against the facts (see the module docstring).

    Args:
        text: the sentence.
        facts: every fact of the analysis.
        cited: the ids the sentence cites; None to search the whole fact set.

    Example:
        >>> from radcycle.domain import FactProvenance
        >>> f = Fact("f-1", "measurement", 12.3, "mm", None, "2025-01-06", FactProvenance(),
        ...          "long_axis", "lesion 1")
        >>> verify_sentence("Lesion 1 measures 1.2 cm.", [f]).supported
        True
        >>> verify_sentence("Lesion 1 measures 18 mm.", [f]).reasons
        ('18 mm: no such value in the facts',)
    """
    claims = read_claims(text)
    pool: Sequence[Fact] = facts
    reasons: list[str] = []
    if cited is not None:
        by_id = {f.id: f for f in facts}
        unknown = [i for i in cited if i not in by_id]
        if not cited:
            reasons.append("no citation")
        if unknown:
            reasons.append(f"cites unknown facts: {', '.join(unknown[:3])}")
        pool = [by_id[i] for i in cited if i in by_id]
    quotes = _quotes(text, pool) if claims.is_empty() else []
    if claims.is_empty() and not quotes:
        reasons.append("states nothing the facts can support")
    known = {(f.tracking_identifier or "").lower() for f in facts}
    for lesion in claims.lesion_ids:
        if lesion not in known:
            reasons.append(f"{lesion}: no such lesion in the analysis")
    best: _Check | None = None
    quoting = claims.reported or (bool(claims.findings) and not claims.lesion_ids)
    for candidate in _candidates(claims, pool):
        check = _Check(claims, candidate, facts, quoting)
        check.run()
        if best is None or len(check.reasons) < len(best.reasons):
            best = check
        if not check.reasons:
            break
    chosen = best if best is not None else _Check(claims, [], facts)
    reasons.extend(chosen.reasons)
    used = (*chosen.used, *(f.id for f in quotes))
    return Verdict(text, not reasons, used, tuple(dict.fromkeys(reasons)))


def _quotes(text: str, pool: Sequence[Fact]) -> list[Fact]:
    """Record or prior-report facts a sentence repeats word for word (a diagnosis)."""
    lower = text.lower()
    kinds = (FactKind.RECORD, FactKind.PRIOR_FINDING)
    return [
        f
        for f in pool
        if f.kind in kinds
        and isinstance(f.value, str)
        and len(f.value) > 3
        and f.value.lower() in lower
    ]
