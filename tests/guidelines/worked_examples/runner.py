"""Run one worked example (a JSON record) through the guideline engines.

Each example names its ``kind``, gives its ``input`` and the ``expect``ed output,
and quotes the ``rule`` sentence (with its ``source``) it was written from. The
functions here turn the plain JSON into engine inputs and the engine's answer
back into plain values, so that a test can compare them key by key.

Lesion records use short keys: ``id``, ``organ``, ``node`` (lymph node), ``long``
and ``short`` (mm), ``status``, ``type`` (nodule type), ``solid`` (solid part,
mm), ``equivocal``, ``split_from``, ``merged_into``, ``reproducible``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from radcycle.domain import LesionMeasurement
from radcycle.guidelines.fleischner import FleischnerPatient, fleischner
from radcycle.guidelines.lungrads import LungRadsExam, LungRadsNodule, lung_rads
from radcycle.guidelines.recist import measurability, select_targets
from radcycle.guidelines.recist_response import (
    NonTargetResponse,
    RecistFollowUp,
    TargetResponse,
    overall_response,
)
from radcycle.guidelines.recist_series import RecistOptions, assess_series
from radcycle.guidelines.tnm import t_category

Json = Mapping[str, Any]
D0 = date(2025, 1, 6)
_KEYS = {
    "id": "lesion_id",
    "organ": "organ",
    "node": "is_lymph_node",
    "long": "long_axis_mm",
    "short": "short_axis_mm",
    "status": "status",
    "type": "nodule_type",
    "solid": "solid_component_mm",
    "equivocal": "equivocal",
    "split_from": "split_from",
    "merged_into": "merged_into",
    "reproducible": "reproducible",
}


def lesion(record: Json) -> LesionMeasurement:
    """A :class:`LesionMeasurement` from a short-key record."""
    unknown = set(record) - set(_KEYS)
    if unknown:
        raise KeyError(f"unknown lesion keys {sorted(unknown)}")
    kwargs = {_KEYS[k]: v for k, v in record.items()}
    kwargs.setdefault("lesion_id", "n")
    return LesionMeasurement(**kwargs)


def _measurability(inp: Json) -> dict[str, Any]:
    found = measurability(lesion(inp["lesion"]), inp.get("slice_mm", 5.0))
    return {"class": found.value}


def _selection(inp: Json) -> dict[str, Any]:
    b = select_targets([lesion(r) for r in inp["lesions"]], D0, chosen_target_ids=inp.get("chosen"))
    return {
        "targets": [t.lesion_id for t in b.targets],
        "non_targets": sorted(n.lesion_id for n in b.non_targets),
        "baseline_sum": b.baseline_sum,
    }


def _follow_up(record: Json) -> RecistFollowUp:
    return RecistFollowUp(
        D0 + timedelta(days=record["day"]),
        tuple(lesion(r) for r in record.get("lesions", ())),
        tuple(lesion(r) for r in record.get("new", ())),
        unequivocal_non_target_progression=record.get("nt_pd", False),
        non_target_increase_since_last=record.get("nt_increase", False),
        new_non_target_increase=record.get("new_nt_increase", False),
        new_symptom_or_sign=record.get("symptom"),
    )


def _series(inp: Json) -> dict[str, Any]:
    baseline = select_targets(
        [lesion(r) for r in inp["baseline"]], D0, chosen_target_ids=inp.get("chosen")
    )
    options = RecistOptions(**inp.get("options", {}))
    series = assess_series(baseline, [_follow_up(f) for f in inp["follow_ups"]], options)
    dated = [tp.progression_dated_from for tp in series.timepoints]
    return {
        "responses": [tp.category for tp in series.timepoints],
        "targets": [tp.target.response.value if tp.target else None for tp in series.timepoints],
        "sums": [tp.target.sum_mm if tp.target else None for tp in series.timepoints],
        "best": series.best_overall_response,
        "progression_dated_from_day": [None if d is None else (d - D0).days for d in dated],
    }


def _table(inp: Json) -> dict[str, Any]:
    target = None if inp["target"] is None else TargetResponse(inp["target"])
    result = overall_response(target, NonTargetResponse(inp["non_target"]), inp["new_lesions"])
    return {"overall": result.value}


def _nodule(record: Json) -> LungRadsNodule:
    prior = record.get("prior")
    return LungRadsNodule(
        lesion(record["current"]),
        prior=None if prior is None else lesion(prior),
        months_since_prior=record.get("months"),
        features=frozenset(record.get("features", ())),
        prior_category=record.get("prior_category"),
        airway=record.get("airway"),
        cyst=record.get("cyst"),
    )


def _result(result: Any) -> dict[str, Any]:
    interval = result.interval
    return {
        "category": result.category,
        "recommendation": result.recommendation,
        "interval": None if interval is None else [interval.min_months, interval.max_months],
        "applicable": result.applicable,
    }


def _lung_rads(inp: Json) -> dict[str, Any]:
    exam = LungRadsExam(
        D0,
        tuple(_nodule(n) for n in inp.get("nodules", ())),
        baseline_round=inp.get("baseline_round", True),
        incomplete=inp.get("incomplete"),
        significant_other_findings=inp.get("S", False),
    )
    return _result(lung_rads(exam))


def _fleischner(inp: Json) -> dict[str, Any]:
    priors = {r.get("id", "n"): lesion(r) for r in inp.get("priors", ())}
    patient = FleischnerPatient(**inp["patient"])
    nodules = [lesion(r) for r in inp["nodules"]]
    return _result(fleischner(nodules, patient, D0, priors))


def _tnm(inp: Json) -> dict[str, Any]:
    return _result(t_category(lesion(inp["tumour"]), inp.get("descriptors", ())))


KINDS: dict[str, Callable[[Json], dict[str, Any]]] = {
    "recist.measurability": _measurability,
    "recist.selection": _selection,
    "recist.series": _series,
    "recist.table": _table,
    "lung_rads": _lung_rads,
    "fleischner": _fleischner,
    "tnm": _tnm,
}


def run(example: Json) -> dict[str, Any]:
    """The engine's answer to one example, as plain values."""
    return KINDS[example["kind"]](example["input"])


def mismatches(expect: Json, actual: Json) -> list[str]:
    """Expected keys whose values differ; ``recommendation_contains`` is a substring test."""
    wrong = []
    for key, wanted in expect.items():
        if key == "recommendation_contains":
            if wanted not in actual["recommendation"]:
                wrong.append(f"recommendation lacks {wanted!r}: {actual['recommendation']!r}")
        elif actual.get(key) != wanted:
            wrong.append(f"{key}: expected {wanted!r}, got {actual.get(key)!r}")
    return wrong
