"""Adversarial and paraphrase suites built from a real analysis' report.

Each deterministic sentence is turned into false variants, one kind of error at a
time (wrong side, wrong lobe, 8 vs 18 mm, cm for mm, "stable" when it grew,
"decreased" when it grew, an invented lesion or lymph node, a wrong category or
date, a dropped negation, hedging turned into certainty, no citation), and into
true paraphrases (reordered, rounded as a radiologist would, cm instead of mm,
dates in words). :func:`score` runs the verifier on them: the catch rate on false
sentences and the acceptance of true ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from radcycle.domain import Fact
from radcycle.reporting.report import Report
from radcycle.reporting.verifier import verify_sentence
from radcycle.reporting.wording import LOBES, STABLE_RANGE_PCT

__all__ = ["Case", "SuiteScore", "adversarial_cases", "paraphrase_cases", "score"]

_MONTH_NAMES = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_MM = re.compile(r"(\d+(?:\.\d+)?)( x (\d+(?:\.\d+)?))? mm\b(?!3)")
_SWAP_CATEGORY = {"PD": "PR", "PR": "PD", "SD": "PD", "CR": "PD", "NE": "SD"}
_RESPONSE_NAMES = {
    "progressive disease": "partial response",
    "partial response": "progressive disease",
    "stable disease": "progressive disease",
    "complete response": "progressive disease",
}


@dataclass(frozen=True)
class Case:
    """One sentence to verify, what kind of case it is, and the truth."""

    kind: str
    text: str
    cited: tuple[str, ...]
    true: bool
    origin: str


def _swap_side(t: str) -> str:
    return re.sub(r"\b(right|left)\b", lambda m: "left" if m[1] == "right" else "right", t)


def _swap_lobe(t: str) -> str:
    return re.sub(
        r"\b(upper|middle|lower) lobe\b",
        lambda m: ("lower" if m[1] != "lower" else "upper") + " lobe",
        t,
    )


def _ten_more(t: str) -> str:
    return _MM.sub(lambda m: f"1{m[1]}{m[2] or ''} mm", t, count=1)


def _cm_for_mm(t: str) -> str:
    return _MM.sub(lambda m: f"{m[1]}{m[2] or ''} cm", t, count=1)


def _stable(t: str) -> str:
    # only a change beyond the stable range makes "stable" false
    def swap(m: re.Match[str]) -> str:
        inside = STABLE_RANGE_PCT[0] < float(m[2]) < STABLE_RANGE_PCT[1]
        return m[0] if inside else "is stable"

    return re.sub(r"has (increased|decreased) by ([\d.]+)% from baseline", swap, t)


def _reverse(t: str) -> str:
    return re.sub(
        r"\b(increased|decreased)\b",
        lambda m: "decreased" if m[1] == "increased" else "increased",
        t,
    )


def _invent_lesion(t: str) -> str:
    return re.sub(r"\bLesion \d+\b", "Lesion 97", t)


def _wrong_category(t: str) -> str:
    for name, other in _RESPONSE_NAMES.items():
        if name in t:
            return t.replace(name, other)
    t = re.sub(r"category (\w+)", lambda m: "category 1" if m[1] != "1" else "category 4B", t)
    return re.sub(r"\b(PD|PR|SD|CR|NE)\b", lambda m: _SWAP_CATEGORY[m[1]], t)


def _wrong_date(t: str) -> str:
    def later(m: re.Match[str]) -> str:
        y, mo, d = int(m[1]), int(m[2]), min(int(m[3]), 28)
        return date(y + (mo == 12), mo % 12 + 1, d).isoformat()

    return _ISO.sub(later, t, count=1)


def _drop_negation(t: str) -> str:
    return re.sub(r"^No new lesion", "New lesion", t)


def _certain(t: str) -> str:
    return t.replace("possible ", "")


_FALSE: dict[str, Callable[[str], str]] = {
    "wrong side": _swap_side,
    "wrong lobe": _swap_lobe,
    "8 vs 18 mm": _ten_more,
    "cm/mm confusion": _cm_for_mm,
    "stable when it changed": _stable,
    "reversed direction": _reverse,
    "invented lesion": _invent_lesion,
    "wrong category": _wrong_category,
    "wrong date": _wrong_date,
    "dropped negation": _drop_negation,
    "hedging made certain": _certain,
}


def adversarial_cases(report: Report) -> list[Case]:
    """False variants of every sentence of ``report`` (see the module docstring)."""
    cases = []
    for s in report.sentences():
        for kind, mutate in _FALSE.items():
            text = mutate(s.text)
            if text != s.text:
                cases.append(Case(kind, text, s.fact_ids, False, s.id))
        if s.fact_ids:
            cases.append(Case("uncited claim", s.text, (), False, s.id))
    lesion = next((s for s in report.sentences() if re.match(r"Lesion \d+:", s.text)), None)
    if lesion is not None:
        node = "A 14 mm lymph node in the right hilum."
        cases.append(Case("invented lymph node", node, lesion.fact_ids, False, lesion.id))
        taken = {f.value for f in report.facts if f.name == "lobe"}
        free = next((name for code, name in LOBES.items() if code not in taken), LOBES["LLL"])
        nodule = f"There is also a 9 mm solid nodule in the {free}."
        cases.append(Case("invented nodule", nodule, lesion.fact_ids, False, lesion.id))
    return cases


def _words_date(t: str) -> str:
    return _ISO.sub(lambda m: f"{int(m[3])} {_MONTH_NAMES[int(m[2]) - 1]} {m[1]}", t)


def _round(t: str) -> str:
    return _MM.sub(
        lambda m: f"{round(float(m[1]))}" + (f" x {round(float(m[3]))}" if m[3] else "") + " mm",
        t,
    )


def _in_cm(t: str) -> str:
    return _MM.sub(
        lambda m: (
            f"{float(m[1]) / 10:.1f}" + (f" x {float(m[3]) / 10:.1f}" if m[3] else "") + " cm"
        ),
        t,
    )


def _reorder(t: str) -> str:
    m = re.match(r"On (\S+) it measures (.+? mm)(.*)$", t)
    if m:
        return f"It measures {m[2]} on {m[1]}{m[3]}"
    m = re.match(r"(Lesion \d+): (.+?) in the (.+)\.$", t)
    if m:
        return f"In the {m[3]}, {m[1].lower()} is a {m[2]}."
    return t


def _percent(t: str) -> str:
    return re.sub(r"(\d+\.\d)%", lambda m: f"{round(float(m[1]))}%", t)


_TRUE: dict[str, Callable[[str], str]] = {
    "reordered": _reorder,
    "rounded": _round,
    "in cm": _in_cm,
    "date in words": _words_date,
    "percent rounded": _percent,
}


def paraphrase_cases(report: Report) -> list[Case]:
    """True paraphrases of every sentence of ``report``, and the sentences themselves."""
    cases = []
    for s in report.sentences():
        cases.append(Case("as written", s.text, s.fact_ids, True, s.id))
        for kind, rewrite in _TRUE.items():
            text = rewrite(s.text)
            if text != s.text:
                cases.append(Case(kind, text, s.fact_ids, True, s.id))
    return cases


@dataclass(frozen=True)
class SuiteScore:
    """Catch rate on false sentences, acceptance of true ones, and the misses."""

    false_total: int
    caught: int
    true_total: int
    accepted: int
    misses: tuple[tuple[str, str], ...]

    @property
    def catch_rate(self) -> float:
        return self.caught / self.false_total if self.false_total else 1.0

    @property
    def acceptance(self) -> float:
        return self.accepted / self.true_total if self.true_total else 1.0


def score(cases: Sequence[Case], facts: Sequence[Fact], cited: bool = True) -> SuiteScore:
    """Verify every case (with its citations, or against all facts) and count.

    Example:
        >>> score([], []).catch_rate
        1.0
    """
    caught = accepted = 0
    misses = []
    for case in cases:
        use = case.cited if cited else None
        if cited is False and case.kind == "uncited claim":
            continue  # without citations there is nothing to leave out
        supported = verify_sentence(case.text, facts, use).supported
        if case.true and supported:
            accepted += 1
        elif not case.true and not supported:
            caught += 1
        else:
            misses.append((case.kind, case.text))
    false_total = sum(1 for c in cases if not c.true and (cited or c.kind != "uncited claim"))
    return SuiteScore(false_total, caught, sum(1 for c in cases if c.true), accepted, tuple(misses))
