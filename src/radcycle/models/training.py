"""Training the interactive lesion segmenter with MONAI on torch (CPU).

A compact 3D U-Net (:func:`build_network`) takes the image patch, the
positive and negative clicks (Gaussian maps) and the modality (one-hot) and
returns the lesion's logits. Clicks are simulated the way readers click: at
the lesion's centre, anywhere well inside it, near its edge, and, on a share
of the steps, corrective clicks on the largest error of the network's own
previous pass (a positive click in a missed part, a negative one in a leak).
Patches are augmented (flips, rotation, scaling, intensity shift and scale,
noise, blur for a coarser resolution). Seeds are fixed: the same command on
the same data gives the same weights on the same machine.

``radcycle train-segmenter DATA --out DIR`` runs it; the tests run it for a
few steps on tiny synthetic data.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import InputError
from radcycle.imaging.masks import array_spacing
from radcycle.models.encoding import (
    DEFAULT_NORMALISATION,
    encode,
    model_stack,
    normalise,
    to_model_grid,
)
from radcycle.models.protocol import InputContract, ModelSpec

__all__ = [
    "COMPANION_CONTRACT",
    "DEFAULT_CONTRACT",
    "Case",
    "TorchModel",
    "TrainingSample",
    "TrainingSettings",
    "build_network",
    "correct_with_clicks",
    "corrective_click",
    "ensemble",
    "export_onnx",
    "learning_rate",
    "load_sarcoma_cases",
    "outside_click",
    "sample_patch",
    "train",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Voxel = tuple[int, int, int]

#: The contract of the shipped model: CT, T1 MR and PET smoothed and resampled to an
#: 8 mm grid, 32-voxel patches (256 mm: the whole of nearly every sarcoma of the
#: training data around its click; larger lesions by sliding window), clicks as
#: Gaussians of 12 mm. Chosen on pilot splits over the 23 sarcoma patients: 8 mm
#: patches of 256 mm outlined them better than 6 mm ones of 192 mm at the same cost.
DEFAULT_CONTRACT = InputContract(
    modalities=("CT", "MR", "PT"),
    spacing_mm=8.0,
    patch=32,
    normalisation=DEFAULT_NORMALISATION,
    click_sigma_mm=12.0,
    antialias=True,
)

#: The contract of the model with companions: the same grid, patch and
#: normalisation, the patient's co-registered series of the other modalities
#: beside the one outlined.
COMPANION_CONTRACT = replace(DEFAULT_CONTRACT, companions=True)

#: Share of training patches rotated and scaled.
AFFINE_SHARE = 0.5

#: With companions: share of training patches that keep every series the
#: patient has; the others keep each companion by a coin toss (so the model
#: learns every combination, the outlined series always among them).
ALL_COMPANIONS_SHARE = 0.5

#: The series of each sarcoma patient folder, and their modality.
SARCOMA_SERIES = (("CT", "CT"), ("MR_T1", "MR"), ("PET", "PT"))


@dataclass(frozen=True)
class Case:
    """One series on the model grid: normalised image (with companions, the
    :func:`~radcycle.models.encoding.model_stack` of the patient's series) and
    reference mask."""

    patient: str
    modality: str
    image: FloatArray
    mask: BoolArray
    depth: FloatArray | None = field(default=None, compare=False, repr=False)

    def depth_map(self) -> FloatArray:
        """Each voxel's depth inside the mask (voxels), computed once by
        :func:`load_sarcoma_cases` (here where a case was built without it)."""
        return self.depth if self.depth is not None else _depth(self.mask)


@dataclass(frozen=True)
class TrainingSettings:
    """How long and how a model is trained.

    Args:
        steps: optimiser steps.
        batch: patches per step.
        learning_rate: AdamW's, decayed by a cosine to a tenth over the run
            (:func:`learning_rate`).
        channels: the U-Net's channels per level.
        corrective_share: share of patches given a corrective click on the
            network's previous pass.
        negative_share: share of patches given a negative click just outside
            the lesion (a neighbour the reader excludes).
        time_limit_s: stop after this many seconds even before ``steps``.
        random_seed: numpy and torch seed.
        threads: torch CPU threads (1: on a shared machine, OpenMP threads that
            spin while waiting for a busy core cost 30 times more than they save).
    """

    steps: int = 2500
    batch: int = 2
    learning_rate: float = 3e-3
    channels: tuple[int, ...] = (16, 32, 64, 128)
    corrective_share: float = 0.3
    negative_share: float = 0.15
    time_limit_s: float = float("inf")
    random_seed: int = 0
    threads: int = 1
    log: list[dict[str, float]] = field(default_factory=list, compare=False)


def load_sarcoma_cases(
    root: Path,
    read: Callable[[Path], Volume],
    contract: InputContract = DEFAULT_CONTRACT,
    patients: Sequence[str] | None = None,
) -> list[Case]:
    """The sarcoma series under ``root`` (``STS_xxx/{CT,MR_T1,PET}_{image,mask}.nii.gz``,
    each read by ``read``), resampled and normalised by ``contract``. With
    companions, each series is a case with the patient's other series
    (co-registered in patient space) sampled on its grid.

    Raises:
        InputError: no patient folder under ``root``, or a series unreadable.
    """
    folders = sorted(p for p in root.glob("STS_*") if p.is_dir())
    if patients is not None:
        folders = [p for p in folders if p.name in set(patients)]
    if not folders:
        raise InputError("no STS_* patient folder", path=root)
    cases = []
    for folder in folders:
        series = {
            modality: (read(folder / f"{name}_image.nii.gz"), read(folder / f"{name}_mask.nii.gz"))
            for name, modality in SARCOMA_SERIES
            if (folder / f"{name}_image.nii.gz").exists()
            and (folder / f"{name}_mask.nii.gz").exists()
        }
        for modality, (volume, ref) in series.items():
            spacing = array_spacing(volume)
            labels = to_model_grid(
                np.asarray(ref.array > 0, np.float32), spacing, contract.spacing_mm
            )
            inside = labels >= 0.5
            if contract.companions:
                others = {m: v for m, (v, _) in series.items() if m != modality}
                k, j, i = volume.array.shape
                whole = (slice(0, k), slice(0, j), slice(0, i))
                image_n = model_stack(volume, modality, others, whole, contract)
            else:
                values = to_model_grid(
                    volume.array, spacing, contract.spacing_mm, antialias=contract.antialias
                )
                image_n = normalise(values, modality, contract)
            cases.append(Case(folder.name, modality, image_n, inside, _depth(inside)))
    return cases


def build_network(contract: InputContract, channels: Sequence[int] = (8, 16, 32, 64)) -> Any:
    """A compact 3D U-Net (MONAI) for the contract's channels, one output logit."""
    from monai.networks.nets.unet import UNet

    return UNet(
        spatial_dims=3,
        in_channels=contract.channels,
        out_channels=1,
        channels=tuple(channels),
        strides=tuple(2 for _ in channels[1:]),
        num_res_units=1,
        norm="instance",
    )


def ensemble(nets: Sequence[Any]) -> Any:
    """One network of several trained ones: the logit of their mean probability
    (the members trained alike under different seeds, their errors partly
    independent). A single network is returned as it is. Exported to ONNX as one
    graph, so the registry keeps one file and one SHA-256."""
    import torch

    if len(nets) == 1:
        return nets[0]

    class Ensemble(torch.nn.Module):
        def __init__(self, members: Sequence[Any]) -> None:
            super().__init__()
            self.members = torch.nn.ModuleList(members)

        def forward(self, x: Any) -> Any:
            prob = torch.stack([torch.sigmoid(m(x)) for m in self.members]).mean(dim=0)
            prob = prob.clamp(1e-7, 1.0 - 1e-7)
            return torch.log(prob) - torch.log1p(-prob)

    out = Ensemble(nets)
    out.eval()
    return out


def _depth(mask: BoolArray) -> FloatArray:
    return np.asarray(ndi.distance_transform_edt(mask), dtype=np.float32)


def simulated_click(
    mask: BoolArray, rng: np.random.Generator, depth: FloatArray | None = None
) -> Voxel | None:
    """A reader's click in ``mask``: at the centre (35 %), anywhere well inside
    (45 %: at least 35 % of the greatest depth, as the lesion benchmark's
    off-centre clicks), or near the edge (20 %). ``depth``: the mask's depth
    map, where already computed."""
    depth = _depth(mask) if depth is None else depth
    top = float(depth.max())
    if top <= 0:
        return None
    pick = rng.random()
    if pick < 0.35:
        where = depth >= 0.8 * top
    elif pick < 0.8:
        where = depth >= max(1.0, 0.35 * top)
    else:
        where = (depth > 0) & (depth <= max(1.0, 0.3 * top))
    points = np.argwhere(where)
    if len(points) == 0:
        points = np.argwhere(mask)
    k, j, i = points[rng.integers(len(points))]
    return (int(k), int(j), int(i))


def _deepest(region: BoolArray) -> Voxel:
    depth = _depth(region)
    k, j, i = np.unravel_index(int(np.argmax(depth)), depth.shape)
    return (int(k), int(j), int(i))


def corrective_click(pred: BoolArray, mask: BoolArray) -> tuple[Voxel, bool] | None:
    """The click a reader makes on an outline's largest error: in the largest
    missed part (positive) or the largest leak (negative), at its deepest voxel."""
    best: tuple[int, Voxel, bool] | None = None
    for region, positive in ((mask & ~pred, True), (pred & ~mask, False)):
        labels, n = ndi.label(region)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        largest = int(np.argmax(sizes)) + 1
        if best is None or sizes[largest - 1] > best[0]:
            best = (int(sizes[largest - 1]), _deepest(labels == largest), positive)
    return None if best is None else (best[1], best[2])


def _rotation(angles: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The rotation by ``angles`` (radians) about the k, j and i axes in turn."""
    out = np.eye(3)
    for axis, angle in enumerate(angles):
        c, s = np.cos(angle), np.sin(angle)
        a, b = [x for x in range(3) if x != axis]
        r = np.eye(3)
        r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
        out = r @ out
    return out


def _random_frame(rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """Case voxels per patch voxel: flips, in-plane transposition, and on a share
    of patches a rotation (up to 15 degrees about each axis) and scaling
    (0.8-1.25, so lesion sizes vary)."""
    frame = np.diag(np.where(rng.random(3) < 0.5, -1.0, 1.0))
    if rng.random() < 0.5:
        frame = frame[:, [0, 2, 1]]
    if rng.random() < AFFINE_SHARE:
        scale = float(np.exp(rng.uniform(np.log(0.8), np.log(1.25))))
        frame = scale * _rotation(rng.uniform(-0.26, 0.26, 3)) @ frame
    return frame


def _intensity(image: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Intensity shift and scale, blur for a coarser resolution, noise."""
    if rng.random() < 0.8:
        image = image * float(rng.uniform(0.85, 1.15)) + float(rng.uniform(-0.15, 0.15))
    if rng.random() < 0.2:
        image = np.asarray(ndi.gaussian_filter(image, float(rng.uniform(0.3, 1.0))), np.float32)
    if rng.random() < 0.5:
        noise = rng.normal(0.0, float(rng.uniform(0.0, 0.08)), image.shape)
        image = image + noise.astype(np.float32)
    return np.asarray(image, dtype=np.float32)


@dataclass
class TrainingSample:
    """One augmented training patch with its clicks (voxel indices in the patch)."""

    image: FloatArray
    mask: BoolArray
    modality: str
    positive: list[Voxel]
    negative: list[Voxel]


def sample_patch(
    case: Case, contract: InputContract, rng: np.random.Generator
) -> TrainingSample | None:
    """A patch of ``case`` centred near a simulated click, augmented.

    The click is drawn on the case (from its depth map, computed once), and the
    patch is sampled around it in one pass through a random frame (flips,
    transposition, rotation, scaling): as at inference, the patch is centred on
    the reader's first click (here within 2 voxels).
    """
    size = contract.patch
    click = simulated_click(case.mask, rng, case.depth_map())
    if click is None:
        return None
    frame = _random_frame(rng)
    centre = np.asarray(click, np.float64) + rng.uniform(-2.0, 2.0, 3)
    half = (size - 1) / 2.0
    offsets = np.indices((size,) * 3, dtype=np.float64).reshape(3, -1) - half
    coords = frame @ offsets + centre[:, None]
    if contract.companions:
        image = _companion_patch(case, contract, coords, rng)
    else:
        fill = float(case.image.min())
        flat = ndi.map_coordinates(case.image, coords, order=1, mode="constant", cval=fill)
        image = _intensity(flat.reshape((size,) * 3).astype(np.float32), rng)
    inside = ndi.map_coordinates(case.mask.astype(np.float32), coords, order=1, cval=0.0)
    mask = inside.reshape((size,) * 3) >= 0.5
    local = np.rint(np.linalg.solve(frame, np.asarray(click) - centre) + half).astype(int)
    local = np.clip(local, 0, size - 1)
    k, j, i = (int(x) for x in local)
    if not mask[k, j, i]:
        found = simulated_click(mask, rng)
        if found is None:
            return None
        k, j, i = found
    return TrainingSample(image, mask, case.modality, [(k, j, i)], [])


def _companion_patch(
    case: Case, contract: InputContract, coords: npt.NDArray[np.float64], rng: np.random.Generator
) -> FloatArray:
    """The stack of ``case`` at ``coords``: each image augmented on its own, and the
    companions kept as :data:`ALL_COMPANIONS_SHARE` says (a dropped one, and any
    point outside a series, is 0 in both its channels, as at inference)."""
    n = len(contract.modalities)
    shape = (contract.patch,) * 3
    primary = contract.modalities.index(case.modality)
    keep_all = rng.random() < ALL_COMPANIONS_SHARE
    out = np.zeros((2 * n, *shape), dtype=np.float32)
    for m in range(n):
        if m != primary and not keep_all and rng.random() < 0.5:
            continue
        cover = ndi.map_coordinates(case.image[n + m], coords, order=0, cval=0.0).reshape(shape)
        if not cover.any():
            continue
        values = ndi.map_coordinates(case.image[m], coords, order=1, cval=0.0).reshape(shape)
        out[m] = _intensity(values.astype(np.float32), rng) * cover
        out[n + m] = cover
    return out


def outside_click(mask: BoolArray, rng: np.random.Generator, spacing: float) -> Voxel | None:
    """A negative click 3-15 mm outside the lesion (a neighbour the reader excludes)."""
    out = np.asarray(ndi.distance_transform_edt(~mask), dtype=np.float64) * spacing
    points = np.argwhere((out >= 3.0) & (out <= 15.0))
    if len(points) == 0:
        return None
    k, j, i = points[rng.integers(len(points))]
    return (int(k), int(j), int(i))


def learning_rate(settings: TrainingSettings, step: int, seconds: float) -> float:
    """The learning rate after ``step`` steps and ``seconds``: a cosine from
    ``settings.learning_rate`` to a tenth of it over the run's progress, the
    larger of its share of the steps and of the time limit (so a run cut short
    by its time limit still ends annealed).

    >>> s = TrainingSettings(steps=100, learning_rate=1e-3, time_limit_s=60.0)
    >>> learning_rate(s, 0, 0.0), round(learning_rate(s, 10, 30.0), 6), learning_rate(s, 100, 1.0)
    (0.001, 0.00055, 0.0001)
    """
    progress = min(1.0, max(step / max(settings.steps, 1), seconds / settings.time_limit_s))
    low = settings.learning_rate / 10.0
    return float(low + (settings.learning_rate - low) * 0.5 * (1.0 + np.cos(np.pi * progress)))


def train(
    cases: Sequence[Case],
    contract: InputContract = DEFAULT_CONTRACT,
    settings: TrainingSettings | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> Any:
    """A network trained on ``cases``; ``settings.log`` gets the loss per step.

    Raises:
        InputError: no case holds a lesion.
    """
    import torch
    from monai.losses.dice import DiceCELoss

    s = settings or TrainingSettings()
    usable = [c for c in cases if c.mask.any() and c.modality in contract.modalities]
    if not usable:
        raise InputError("no training case holds a lesion of a modality of the contract")
    torch.manual_seed(s.random_seed)
    torch.set_num_threads(s.threads)
    rng = np.random.default_rng(s.random_seed)
    net = build_network(contract, s.channels)
    optimiser = torch.optim.AdamW(net.parameters(), lr=s.learning_rate, weight_decay=1e-4)
    loss_fn = DiceCELoss(sigmoid=True)
    by_modality: dict[str, list[Case]] = {}
    for case in usable:
        by_modality.setdefault(case.modality, []).append(case)
    modalities = sorted(by_modality)
    start = time.perf_counter()
    for step in range(s.steps):
        samples: list[TrainingSample] = []
        while len(samples) < s.batch:
            pool = by_modality[modalities[int(rng.integers(len(modalities)))]]
            sample = sample_patch(pool[int(rng.integers(len(pool)))], contract, rng)
            if sample is None:
                continue
            if rng.random() < s.negative_share:
                extra = outside_click(sample.mask, rng, contract.spacing_mm)
                if extra is not None:
                    sample.negative.append(extra)
            samples.append(sample)
        if rng.random() < s.corrective_share:
            correct_with_clicks(net, samples, contract)
        x = torch.from_numpy(
            np.stack(
                [encode(t.image, t.positive, t.negative, t.modality, contract) for t in samples]
            )
        )
        y = torch.from_numpy(np.stack([t.mask[None] for t in samples]).astype(np.float32))
        net.train()
        optimiser.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimiser.step()
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(s, step + 1, time.perf_counter() - start)
        value = float(loss.detach())
        s.log.append({"step": step, "loss": value, "seconds": time.perf_counter() - start})
        if progress is not None:
            progress(step, value)
        if time.perf_counter() - start > s.time_limit_s:
            log.info("training stopped at step %d: time limit", step)
            break
    net.eval()
    return net


def correct_with_clicks(net: Any, samples: list[TrainingSample], contract: InputContract) -> None:
    """Each sample gets a corrective click on the largest error of the network's
    pass on it as it stands."""
    import torch

    x = torch.from_numpy(
        np.stack([encode(t.image, t.positive, t.negative, t.modality, contract) for t in samples])
    )
    net.eval()
    with torch.no_grad():
        pred = torch.sigmoid(net(x)).numpy()[:, 0] >= 0.5
    for sample, p in zip(samples, pred, strict=True):
        click = corrective_click(p, sample.mask)
        if click is not None:
            (sample.positive if click[1] else sample.negative).append(click[0])


class TorchModel:
    """A network being trained, run as a :class:`~radcycle.models.protocol.ProbabilityModel`."""

    def __init__(self, net: Any, spec: ModelSpec) -> None:
        self._net = net
        self._spec = spec

    @property
    def spec(self) -> ModelSpec:
        return self._spec

    def predict(self, batch: FloatArray) -> FloatArray:
        import torch

        self._net.eval()
        with torch.no_grad():
            out = torch.sigmoid(self._net(torch.from_numpy(np.asarray(batch, np.float32))))
        return np.asarray(out.numpy(), np.float32)


def export_onnx(net: Any, contract: InputContract, path: Path) -> None:
    """Write ``net`` as ONNX (batch axis dynamic) to ``path``."""
    import torch

    net.eval()
    dummy = torch.zeros((1, contract.channels, *(contract.patch,) * 3), dtype=torch.float32)
    with warnings.catch_warnings():
        # The TorchScript exporter is kept on purpose (it needs no onnxscript and
        # exports MONAI's U-Net as it is). While it traces, it warns of its own
        # deprecation, of the shape checks it freezes (TracerWarning: the patch
        # size is fixed by the contract) and of instance norm using the patch's own
        # statistics (as it does in training and in use alike): none applies.
        # The exported model is checked against torch by the parity test.
        warnings.simplefilter("ignore")
        _export(net, dummy, path)


def _export(net: Any, dummy: Any, path: Path) -> None:
    import torch

    torch.onnx.export(
        net,
        (dummy,),
        str(path),
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
