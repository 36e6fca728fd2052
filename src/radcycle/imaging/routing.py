"""Which outline method a click gets, chosen by a table of rules that says why.

:data:`RULES` is read top to bottom; the first rule whose condition holds on
the click's features (:class:`radcycle.imaging.features.ClickFeatures`)
chooses the method, and the :class:`Route` returned names that rule and gives
the value it decided on, so that every outline can say why it was drawn the
way it was (``details["route"]``). The later decisions of click-to-segment
(a lung probe that finds a node, a soft-tissue outline that borders lung, a
leaked outline replaced by the other method's) are recorded the same way,
under the names in :data:`DECISIONS`.

>>> from radcycle.imaging.features import ClickFeatures
>>> from radcycle.imaging.segmentation_settings import SegmentationSettings
>>> f = ClickFeatures((5, 5, 5), "CT", (1.0, 1.0, 1.0), lung_share=0.4)
>>> r = route(f, SegmentationSettings())
>>> r.method, r.rule
('lung-nodule', 'ct-lung-around')
>>> route(ClickFeatures((5, 5, 5), "PT", (1.0, 1.0, 1.0)), SegmentationSettings()).method
'pet'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from radcycle.imaging.features import ClickFeatures
from radcycle.imaging.segmentation_settings import SegmentationSettings

__all__ = ["DECISIONS", "RULES", "Route", "Rule", "asked", "route"]


@dataclass(frozen=True)
class Rule:
    """One row of the routing table.

    Args:
        name: what the rule is called in an outline's ``details["route"]``.
        method: the method it chooses.
        applies: whether it holds for a click's features under the settings.
        why: the rule in words.
    """

    name: str
    method: str
    applies: Callable[[ClickFeatures, SegmentationSettings], bool]
    why: str


@dataclass(frozen=True)
class Route:
    """The method chosen for a click, the rule that chose it, and the value it
    decided on (None where it decided on the modality alone)."""

    method: str
    rule: str
    value: float | None = None

    def record(self) -> dict[str, Any]:
        """The route as an outline's details hold it."""
        out: dict[str, Any] = {"rule": self.rule, "method": self.method}
        if self.value is not None:
            out["value"] = round(self.value, 3)
        return out


def _lung_around(f: ClickFeatures, s: SegmentationSettings) -> bool:
    return f.lung_share is not None and f.lung_share > s.lung_fraction


#: The routing table, first match wins.
RULES: tuple[Rule, ...] = (
    Rule("pet", "pet", lambda f, s: f.modality == "PT", "PET: the anatomical uptake outline"),
    Rule(
        "not-ct",
        "soft-tissue",
        lambda f, s: f.modality != "CT",
        "MR and other non-CT images: the soft-tissue outline of the modality",
    ),
    Rule(
        "ct-lung-around",
        "lung-nodule",
        _lung_around,
        "CT with more than SegmentationSettings.lung_fraction of aerated lung within "
        "25 mm of the click (beyond a large blob's edge): a lung lesion",
    ),
    Rule("ct-soft-tissue", "soft-tissue", lambda f, s: True, "CT elsewhere: soft tissue"),
)

#: The decisions taken after the first outline, by name, as recorded in
#: ``details["route"]["then"]``.
DECISIONS: dict[str, str] = {
    "probe-node": "a lung click whose probe outline has at least as much fat as lung "
    "around it: a node in the mediastinum or hilum, outlined as soft tissue",
    "lung-tumour-redo": "a soft-tissue outline on CT with SegmentationSettings.lung_shell_share "
    "or more of aerated lung around it: a lung tumour, outlined again as one",
    "mr-bright": "a lesion SegmentationSettings.outline.bright_contrast noise SDs or more "
    "brighter than its region (not CT): the bright-lesion hull",
    "other-method-more-convex": "the modality's soft-tissue outline was less convex than "
    "SegmentationSettings.min_solidity and the other method's was more convex",
    "recentred": "a click off the centre of a large tumour outlined only a part of it: the "
    "outline from the centre of its blob (or a larger one) holds the click and is larger",
}


def asked(method: str) -> Route:
    """The route of a method asked for by name."""
    return Route(method, "asked")


def route(features: ClickFeatures, settings: SegmentationSettings) -> Route:
    """The first rule of :data:`RULES` that holds for ``features``."""
    for rule in RULES:
        if rule.applies(features, settings):
            value = features.lung_share if rule.name.startswith("ct-") else None
            return Route(rule.method, rule.name, value)
    raise AssertionError("the last rule of the routing table always applies")
