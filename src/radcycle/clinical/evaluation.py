"""Score report mining against manual MeSH index terms (Open-i chest X-ray reports).

Pure functions over parsed reports (:class:`~radcycle.clinical.openi.OpenIReport`):
the caller reads the files. MeSH terms are mapped to the 14 CheXpert
observations by :data:`MESH_TO_LABEL` (documented in docs/clinical.md); the miner
and a keyword baseline without negation are scored per label (precision,
recall, F1) and by macro-F1 over labels with at least ``min_support`` positives.

Example:
    >>> sorted(mesh_labels(["Pleural Effusion/left/small", "Catheters, Indwelling/right"]))
    ['Pleural Effusion', 'Support Devices']
    >>> sorted(mesh_labels(["normal"]))
    ['No Finding']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from radcycle.clinical.nlp.labels import CHEXPERT_LABELS, NO_FINDING, find_mentions, no_finding
from radcycle.clinical.nlp.miner import mine_sections
from radcycle.clinical.nlp.sections import MINED_SECTIONS, split_sentences
from radcycle.clinical.openi import OpenIReport

__all__ = [
    "EXCLUDED_MESH",
    "MESH_TO_LABEL",
    "LabelScore",
    "keyword_baseline",
    "macro_f1",
    "mesh_labels",
    "miner_labels",
    "negation_window_baseline",
    "score",
]

# MeSH heading (text before the first "/") and an optional qualifier that must
# appear among the subheadings, to the CheXpert observation it stands for.
MESH_TO_LABEL: tuple[tuple[str, str | None, str], ...] = (
    ("normal", None, NO_FINDING),
    ("Mediastinum", "widened", "Enlarged Cardiomediastinum"),
    ("Mediastinum", "enlarged", "Enlarged Cardiomediastinum"),
    ("Mediastinum", "prominent", "Enlarged Cardiomediastinum"),
    ("Cardiomegaly", None, "Cardiomegaly"),
    ("Cardiac Shadow", "enlarged", "Cardiomegaly"),
    ("Heart", "enlarged", "Cardiomegaly"),
    ("Nodule", None, "Lung Lesion"),
    ("Mass", None, "Lung Lesion"),
    ("Cavitation", None, "Lung Lesion"),
    ("Opacity", None, "Lung Opacity"),
    ("Airspace Disease", None, "Lung Opacity"),
    ("Density", None, "Lung Opacity"),
    ("Infiltrate", None, "Lung Opacity"),
    ("Cicatrix", None, "Lung Opacity"),
    ("Markings", "interstitial", "Lung Opacity"),
    ("Lung Diseases, Interstitial", None, "Lung Opacity"),
    ("Pulmonary Fibrosis", None, "Lung Opacity"),
    ("Pulmonary Edema", None, "Edema"),
    ("Pulmonary Congestion", None, "Edema"),
    ("Heart Failure", None, "Edema"),
    ("Consolidation", None, "Consolidation"),
    ("Pneumonia", None, "Pneumonia"),
    ("Pulmonary Atelectasis", None, "Atelectasis"),
    ("Pneumothorax", None, "Pneumothorax"),
    ("Hydropneumothorax", None, "Pneumothorax"),
    ("Hemopneumothorax", None, "Pneumothorax"),
    ("Pleural Effusion", None, "Pleural Effusion"),
    ("Hydropneumothorax", None, "Pleural Effusion"),
    ("Thickening", "pleura", "Pleural Other"),
    ("Pleura", None, "Pleural Other"),
    ("Calcinosis", "pleura", "Pleural Other"),
    ("Cicatrix", "pleura", "Pleural Other"),
    ("Fractures, Bone", None, "Fracture"),
    ("Catheters, Indwelling", None, "Support Devices"),
    ("Implanted Medical Device", None, "Support Devices"),
    ("Tube, Inserted", None, "Support Devices"),
    ("Medical Device", None, "Support Devices"),
    ("Stents", None, "Support Devices"),
    ("Surgical Instruments", None, "Support Devices"),
)

# Reports indexed with these terms carry no usable annotation and are left out.
EXCLUDED_MESH: frozenset[str] = frozenset({"No Indexing"})


def mesh_labels(terms: Iterable[str]) -> frozenset[str]:
    """The CheXpert observations a set of MeSH terms stands for."""
    labels = set()
    for term in terms:
        heading, *qualifiers = (part.strip() for part in term.split("/"))
        lowered = {q.lower() for q in qualifiers}
        for mesh, qualifier, label in MESH_TO_LABEL:
            if heading.lower() == mesh.lower() and (qualifier is None or qualifier in lowered):
                labels.add(label)
    return frozenset(labels)


def _mined_text(sections: Mapping[str, str]) -> list[str]:
    return [s.lower() for name in MINED_SECTIONS for s in split_sentences(sections.get(name, ""))]


def keyword_baseline(sections: Mapping[str, str]) -> frozenset[str]:
    """Every label whose lexicon phrase occurs, negated or not (the baseline).

    "No Finding" is given when no other label's phrase occurs at all.
    """
    found = {m.label for s in _mined_text(sections) for m in find_mentions(s)}
    labels = {label for label in found if label in CHEXPERT_LABELS}
    if no_finding(dict.fromkeys(found, True)):
        labels.add(NO_FINDING)
    return frozenset(labels)


# A NegEx-like window: a negation word at most this many words before a mention.
_WINDOW_WORDS = 5
_WINDOW_NEGATION_RE = re.compile(r"\b(?:no|not|without|negative for|free of)\b")


def negation_window_baseline(sections: Mapping[str, str]) -> frozenset[str]:
    """Keywords with a simple negation window (the second baseline).

    A mention is negated when "no", "not", "without", "negative for" or
    "free of" occurs at most five words before it in the same sentence; no
    scope termination, no uncertainty. "No Finding" as in :func:`keyword_baseline`.
    """
    found: set[str] = set()
    for sentence in _mined_text(sections):
        for mention in find_mentions(sentence):
            before = sentence[: mention.start].split()[-_WINDOW_WORDS:]
            if not _WINDOW_NEGATION_RE.search(" ".join(before)):
                found.add(mention.label)
    labels = {label for label in found if label in CHEXPERT_LABELS}
    if no_finding(dict.fromkeys(found, True)):
        labels.add(NO_FINDING)
    return frozenset(labels)


def miner_labels(
    sections: Mapping[str, str], *, uncertain_positive: bool = False
) -> frozenset[str]:
    """Labels the miner asserts; an uncertain mention counts as negative unless told otherwise.

    Uncertain = negative ("U-Zeros" in CheXpert's terms) matches the MeSH
    indexing, where hedged differentials are mostly left untagged.
    """
    accepted = (True, "uncertain") if uncertain_positive else (True,)
    assertions = mine_sections(sections).labels()
    return frozenset(
        label
        for label, value in assertions.items()
        if label in CHEXPERT_LABELS and value in accepted
    )


@dataclass(frozen=True)
class LabelScore:
    """Counts and scores for one label."""

    label: str
    support: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(
    truth: Sequence[frozenset[str]],
    predicted: Sequence[frozenset[str]],
    labels: Sequence[str] = CHEXPERT_LABELS,
) -> list[LabelScore]:
    """Per-label counts of predicted against true label sets (same order)."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} truths but {len(predicted)} predictions")
    scores = []
    for label in labels:
        tp = sum(label in t and label in p for t, p in zip(truth, predicted, strict=True))
        fp = sum(label not in t and label in p for t, p in zip(truth, predicted, strict=True))
        fn = sum(label in t and label not in p for t, p in zip(truth, predicted, strict=True))
        scores.append(LabelScore(label, tp + fn, tp, fp, fn))
    return scores


def macro_f1(
    scores: Iterable[LabelScore], min_support: int = 30, labels: Collection[str] | None = None
) -> float:
    """Mean F1 over labels with at least ``min_support`` positives in the data.

    Args:
        scores: per-label scores.
        min_support: fewest true positives a label needs to count.
        labels: if given, average over exactly these labels instead.
    """
    if labels is not None:
        kept = [s.f1 for s in scores if s.label in labels]
    else:
        kept = [s.f1 for s in scores if s.support >= min_support]
    return sum(kept) / len(kept) if kept else 0.0


def usable(report: OpenIReport) -> bool:
    """A report with findings or impression text and a usable manual index."""
    has_text = any(report.sections.get(name) for name in ("findings", "impression"))
    return has_text and not EXCLUDED_MESH.intersection(t.strip() for t in report.mesh)


def evaluate(
    reports: Iterable[OpenIReport],
    predictors: Mapping[str, Callable[[Mapping[str, str]], frozenset[str]]],
) -> dict[str, list[LabelScore]]:
    """Score each predictor on the usable reports.

    Args:
        reports: parsed Open-i reports.
        predictors: name to a function from sections to predicted labels.

    Returns:
        Name to its per-label scores, in :data:`CHEXPERT_LABELS` order.
    """
    kept = [r for r in reports if usable(r)]
    truth = [mesh_labels(r.mesh) for r in kept]
    return {
        name: score(truth, [predict(r.sections) for r in kept])
        for name, predict in predictors.items()
    }


__all__ += ["evaluate", "usable"]
