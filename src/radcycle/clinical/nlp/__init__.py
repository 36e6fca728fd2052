"""Rule-based mining of free-text radiology reports (no model files).

Modules, one step each: :mod:`.sections` (sections and sentences),
:mod:`.labels` (the 14 CheXpert observations and their lexicon),
:mod:`.context` (negation and uncertainty, ConText style), :mod:`.sizes`,
:mod:`.findings` (laterality, site, comparisons, recommendations) and
:mod:`.miner` (all of them together).
"""

from radcycle.clinical.nlp.labels import CHEXPERT_LABELS, NO_FINDING
from radcycle.clinical.nlp.miner import (
    Comparison,
    MinedFinding,
    MinedReport,
    Recommendation,
    mine_sections,
    mine_text,
)

__all__ = [
    "CHEXPERT_LABELS",
    "NO_FINDING",
    "Comparison",
    "MinedFinding",
    "MinedReport",
    "Recommendation",
    "mine_sections",
    "mine_text",
]
