"""Seconds per click of the shipped learned model (ONNX Runtime, CPU) against the classical method.

Every sarcoma series (``ibsi/ibsi_validation/nifti``, 5 cm crops around the
tumour) is outlined from the lesion benchmark's centre click by the shipped
model through ONNX Runtime (2 threads), by the model that also reads the
patient's other series (``click-unet-mm``, given the other two), by the same
reading every series in turn (``views``, as it is used on T1 MR), and by the
classical router; the table
gives the median and largest seconds per click of each, by modality, and the
largest lesion's. Dice is not reported here: the shipped model was trained on
these series (the cross-validated Dice is :mod:`benchmarks.bench_learned`'s).

Run: ``python -m benchmarks.run onnx-click``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.table import Table

from benchmarks.bench_learned import companion_series, sarcoma_root
from benchmarks.bench_lung import _seed_in
from radcycle.imaging.segmentation import segment_at_seed
from radcycle.io import read_image
from radcycle.models.interactive import LearnedSegmenter, OnnxModel
from radcycle.models.registry import find_spec
from radcycle.models.runtime import registry_models
from radcycle.models.training import SARCOMA_SERIES

__all__ = ["timings"]


def timings(root: Path, classical: bool = True) -> dict[str, dict[str, list[float]]]:
    """Per modality: seconds per click (``onnx``, ``onnx_with`` the other series,
    ``onnx_views`` every series in turn, ``classical``) and lesion volume (mL)."""
    segmenter = LearnedSegmenter(OnnxModel(find_spec("click-unet")))
    model, partners = registry_models(find_spec("click-unet-mm"))
    with_others = LearnedSegmenter(model, partners=partners)
    out: dict[str, dict[str, list[float]]] = {}
    for folder in sorted(p for p in root.glob("STS_*") if p.is_dir()):
        for series, modality in SARCOMA_SERIES:
            image = folder / f"{series}_image.nii.gz"
            if not image.exists():
                continue
            volume = read_image(image)
            volume = volume.with_array(volume.array, modality=modality)
            ref = np.asarray(read_image(folder / f"{series}_mask.nii.gz").array > 0)
            kji = _seed_in(ref)
            row = out.setdefault(
                modality,
                {"onnx": [], "onnx_with": [], "onnx_views": [], "classical": [], "ml": []},
            )
            start = time.perf_counter()
            segmenter.segment(volume, [kji], [], modality)
            row["onnx"].append(time.perf_counter() - start)
            others = replace(with_others, companions=companion_series(image, modality))
            start = time.perf_counter()
            others.segment(volume, [kji], [], modality)
            row["onnx_with"].append(time.perf_counter() - start)
            start = time.perf_counter()
            replace(others, views=True).segment(volume, [kji], [], modality)
            row["onnx_views"].append(time.perf_counter() - start)
            row["ml"].append(float(ref.sum()) * float(np.prod(volume.geometry.spacing)) / 1000.0)
            if classical:
                p = volume.index_to_patient([[kji[2], kji[1], kji[0]]])[0]
                start = time.perf_counter()
                segment_at_seed(volume, (float(p[0]), float(p[1]), float(p[2])))
                row["classical"].append(time.perf_counter() - start)
    return out


def run(workdir: Path) -> Table:
    """``python -m benchmarks.run onnx-click``."""
    table = Table(title="Seconds per centre click on the sarcoma series: ONNX model vs classical")
    columns = ("modality", "series", "ONNX median", "ONNX max", "ONNX + other series median")
    columns += ("ONNX + other series max", "ONNX every view median", "ONNX every view max")
    columns += ("classical median", "classical max")
    columns += ("largest lesion mL", "ONNX s there", "ONNX + other series s there")
    columns += ("classical s there",)
    for column in columns:
        table.add_column(column, justify="right")
    for modality, row in timings(sarcoma_root()).items():
        big = int(np.argmax(row["ml"]))
        table.add_row(
            modality,
            str(len(row["onnx"])),
            f"{np.median(row['onnx']):.2f}",
            f"{max(row['onnx']):.2f}",
            f"{np.median(row['onnx_with']):.2f}",
            f"{max(row['onnx_with']):.2f}",
            f"{np.median(row['onnx_views']):.2f}",
            f"{max(row['onnx_views']):.2f}",
            f"{np.median(row['classical']):.2f}",
            f"{max(row['classical']):.2f}",
            f"{row['ml'][big]:.0f}",
            f"{row['onnx'][big]:.2f}",
            f"{row['onnx_with'][big]:.2f}",
            f"{row['classical'][big]:.2f}",
        )
    return table
