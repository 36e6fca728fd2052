"""The patient timeline: ordered events, lines of therapy, treatment at a date, lab trends.

Everything here is computed from the record's facts and keeps their sources;
nothing is generated.

Lines of therapy (the rule, also in docs/clinical.md):

1. Each medication becomes an exposure of one agent (the lower-case name,
   first word, e.g. "Pembrolizumab 200 mg" -> "pembrolizumab") from its start
   to its end (or its start when it has no end). Exposures of the same agent
   less than :data:`GAP_DAYS` apart are merged.
2. Agents are taken in order of start. The first opens line 1; an agent
   starting within :data:`REGIMEN_WINDOW_DAYS` of its line's start joins that
   line (a combination regimen).
3. A later agent opens a new line, unless it replaces an agent of the same
   drug class in the current line (carboplatin -> cisplatin continues the
   line). Dropping agents (maintenance) never opens a line.
4. An agent restarting after a gap of more than :data:`GAP_DAYS` in all
   therapy opens a new line (re-challenge).

A line is "current" at a date from its start to its end plus
:data:`ON_TREATMENT_GRACE_DAYS` (one cycle: a dose given on day 1 of a 21-day
cycle still acts on day 20). Immunotherapy (PD-1, PD-L1 or CTLA-4 blockade)
is flagged, since response then follows iRECIST.

Example:
    >>> from radcycle.domain.clinical import MedicationExposure as M
    >>> meds = [M("a", date(2024, 1, 1), date(2024, 3, 1), "carboplatin"),
    ...         M("b", date(2024, 1, 1), date(2024, 3, 1), "pemetrexed"),
    ...         M("c", date(2024, 5, 1), None, "pembrolizumab")]
    >>> [(l.number, l.agents, l.immunotherapy) for l in lines_of_therapy(meds)]
    [(1, ('carboplatin', 'pemetrexed'), False), (2, ('pembrolizumab',), True)]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from radcycle.domain.clinical import ClinicalRecord, LabResult, MedicationExposure, TimelineEvent

__all__ = [
    "DRUG_CLASSES",
    "GAP_DAYS",
    "IMMUNOTHERAPY_CLASSES",
    "ON_TREATMENT_GRACE_DAYS",
    "REGIMEN_WINDOW_DAYS",
    "LabTrend",
    "LineOfTherapy",
    "build_timeline",
    "current_treatment",
    "lab_trends",
    "lines_of_therapy",
]

GAP_DAYS = 90
REGIMEN_WINDOW_DAYS = 28
ON_TREATMENT_GRACE_DAYS = 21

# Agent to drug class (thoracic oncology first; extend as needed).
DRUG_CLASSES: dict[str, str] = {
    "cisplatin": "platinum",
    "carboplatin": "platinum",
    "oxaliplatin": "platinum",
    "paclitaxel": "taxane",
    "nab-paclitaxel": "taxane",
    "docetaxel": "taxane",
    "pemetrexed": "antifolate",
    "gemcitabine": "antimetabolite",
    "fluorouracil": "antimetabolite",
    "capecitabine": "antimetabolite",
    "etoposide": "topoisomerase inhibitor",
    "irinotecan": "topoisomerase inhibitor",
    "topotecan": "topoisomerase inhibitor",
    "vinorelbine": "vinca alkaloid",
    "pembrolizumab": "PD-1 inhibitor",
    "nivolumab": "PD-1 inhibitor",
    "cemiplimab": "PD-1 inhibitor",
    "atezolizumab": "PD-L1 inhibitor",
    "durvalumab": "PD-L1 inhibitor",
    "avelumab": "PD-L1 inhibitor",
    "ipilimumab": "CTLA-4 inhibitor",
    "tremelimumab": "CTLA-4 inhibitor",
    "osimertinib": "EGFR inhibitor",
    "erlotinib": "EGFR inhibitor",
    "gefitinib": "EGFR inhibitor",
    "afatinib": "EGFR inhibitor",
    "alectinib": "ALK inhibitor",
    "crizotinib": "ALK inhibitor",
    "lorlatinib": "ALK inhibitor",
    "brigatinib": "ALK inhibitor",
    "sotorasib": "KRAS G12C inhibitor",
    "adagrasib": "KRAS G12C inhibitor",
    "bevacizumab": "VEGF inhibitor",
    "ramucirumab": "VEGF inhibitor",
}
IMMUNOTHERAPY_CLASSES: frozenset[str] = frozenset(
    {"PD-1 inhibitor", "PD-L1 inhibitor", "CTLA-4 inhibitor"}
)


@dataclass(frozen=True)
class LineOfTherapy:
    """One line of systemic therapy derived from the medications.

    Attributes:
        number: 1 for first line, and so on.
        agents: agents in order of first start.
        classes: their drug classes ("unknown" when not in :data:`DRUG_CLASSES`).
        start: first dose or order.
        end: last known date of any agent of the line.
        sources: the medication resources the line is built from.
    """

    number: int
    agents: tuple[str, ...]
    classes: tuple[str, ...]
    start: date
    end: date
    sources: tuple[str, ...]

    @property
    def immunotherapy(self) -> bool:
        """True when an agent blocks PD-1, PD-L1 or CTLA-4 (response by iRECIST)."""
        return any(c in IMMUNOTHERAPY_CLASSES for c in self.classes)


@dataclass
class _Exposure:
    agent: str
    start: date
    end: date
    sources: list[str]


def _agent(name: str) -> str:
    words = name.strip().lower().split()
    return words[0] if words else ""


def _exposures(medications: Iterable[MedicationExposure]) -> list[_Exposure]:
    dated = sorted(
        (m for m in medications if m.name), key=lambda m: (m.start or date.min, m.source)
    )
    merged: dict[str, list[_Exposure]] = {}
    for med in dated:
        start = med.start
        if start is None:
            continue  # an undated medication cannot be placed on the timeline
        end = med.end or start
        runs = merged.setdefault(_agent(med.name), [])
        if runs and (start - runs[-1].end).days <= GAP_DAYS:
            runs[-1].end = max(runs[-1].end, end)
            runs[-1].sources.append(med.source)
        else:
            runs.append(_Exposure(_agent(med.name), start, end, [med.source]))
    return sorted((e for runs in merged.values() for e in runs), key=lambda e: (e.start, e.agent))


def lines_of_therapy(medications: Iterable[MedicationExposure]) -> list[LineOfTherapy]:
    """Lines of therapy by the rule in this module's docstring."""
    lines: list[list[_Exposure]] = []
    for exposure in _exposures(medications):
        current = lines[-1] if lines else None
        if current is None or _opens_new_line(current, exposure):
            lines.append([exposure])
        else:
            current.append(exposure)
    return [_line(number, group) for number, group in enumerate(lines, start=1)]


def _opens_new_line(line: list[_Exposure], exposure: _Exposure) -> bool:
    line_start = line[0].start
    line_end = max(e.end for e in line)
    if (exposure.start - line_end).days > GAP_DAYS:
        return True  # rule 4: restart after a gap in all therapy
    if (exposure.start - line_start).days <= REGIMEN_WINDOW_DAYS:
        return False  # rule 2: part of the starting regimen
    if exposure.agent in {e.agent for e in line}:
        return False
    klass = DRUG_CLASSES.get(exposure.agent)
    return klass is None or klass not in {DRUG_CLASSES.get(e.agent) for e in line}  # rule 3


def _line(number: int, group: list[_Exposure]) -> LineOfTherapy:
    agents = tuple(dict.fromkeys(e.agent for e in group))
    return LineOfTherapy(
        number=number,
        agents=agents,
        classes=tuple(DRUG_CLASSES.get(a, "unknown") for a in agents),
        start=min(e.start for e in group),
        end=max(e.end for e in group),
        sources=tuple(s for e in group for s in e.sources),
    )


def current_treatment(lines: Sequence[LineOfTherapy], when: date) -> LineOfTherapy | None:
    """The line of therapy running at ``when`` (the latest started, if several)."""
    grace = timedelta(days=ON_TREATMENT_GRACE_DAYS)
    running = [line for line in lines if line.start <= when <= line.end + grace]
    return running[-1] if running else None


@dataclass(frozen=True)
class LabTrend:
    """The course of one lab or tumour marker, computed from its values.

    Attributes:
        ratio_to_baseline: latest / first value (None when the first is 0).
        doubling_time_days: days for the value to double at the observed
            exponential rate, first to latest (None unless it rose).
        sources: the first and the latest observations.
    """

    name: str
    code: str
    unit: str
    baseline: LabResult
    latest: LabResult
    count: int

    @property
    def ratio_to_baseline(self) -> float | None:
        base, last = self.baseline.value, self.latest.value
        if base is None or last is None or base == 0:
            return None
        return last / base

    @property
    def doubled(self) -> bool:
        """True when the latest value is at least twice the baseline."""
        ratio = self.ratio_to_baseline
        return ratio is not None and ratio >= 2.0

    @property
    def above_reference(self) -> bool | None:
        return self.latest.above_reference

    @property
    def doubling_time_days(self) -> float | None:
        ratio = self.ratio_to_baseline
        if ratio is None or ratio <= 1.0 or not (self.baseline.date and self.latest.date):
            return None
        days = (self.latest.date - self.baseline.date).days
        return days * math.log(2) / math.log(ratio) if days > 0 else None

    @property
    def sources(self) -> tuple[str, str]:
        return (self.baseline.source, self.latest.source)


def lab_trends(labs: Iterable[LabResult]) -> list[LabTrend]:
    """One trend per numeric lab (grouped by code, else name, and unit), ordered by name."""
    groups: dict[tuple[str, str], list[LabResult]] = {}
    for lab in labs:
        if lab.value is not None and lab.date is not None:
            groups.setdefault((lab.code or lab.name.lower(), lab.unit), []).append(lab)
    trends = []
    for (code, unit), values in groups.items():
        values.sort(key=lambda v: (v.date or date.min, v.source))
        trends.append(
            LabTrend(values[-1].name or code, code, unit, values[0], values[-1], len(values))
        )
    return sorted(trends, key=lambda t: t.name.lower())


def build_timeline(record: ClinicalRecord) -> list[TimelineEvent]:
    """Every dated fact of the record as one ordered list (undated ones last)."""
    events = [
        TimelineEvent(d.date, "diagnosis", _join(d.name, d.stage), d.source)
        for d in record.diagnoses
    ]
    events += [
        TimelineEvent(lab.date, lab.kind, _lab_summary(lab), lab.source) for lab in record.labs
    ]
    events += [
        TimelineEvent(
            m.start, "medication", _join(m.name, f"until {m.end}" if m.end else ""), m.source
        )
        for m in record.medications
    ]
    events += [
        TimelineEvent(p.date, "procedure", _join(p.name, p.category), p.source)
        for p in record.procedures
    ]
    events += [
        TimelineEvent(r.date, "report", _join(r.title, r.category), r.source)
        for r in record.reports
    ]
    events += [
        TimelineEvent(
            s.date,
            "imaging_study",
            _join(s.modality, s.description, s.study_instance_uid),
            s.source,
        )
        for s in record.studies
    ]
    for line in lines_of_therapy(record.medications):
        summary = f"line {line.number}: {' + '.join(line.agents)}"
        events.append(
            TimelineEvent(line.start, "line_of_therapy", summary, ", ".join(line.sources))
        )
    return sorted(events, key=lambda e: (e.date is None, e.date or date.min, e.kind, e.source))


def _lab_summary(lab: LabResult) -> str:
    value = f"{lab.value:g} {lab.unit}".strip() if lab.value is not None else lab.value_text
    flag = " (above reference)" if lab.above_reference else ""
    return f"{lab.name}: {value}{flag}"


def _join(*parts: str) -> str:
    return ", ".join(p for p in parts if p)
