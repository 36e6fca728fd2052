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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from radcycle.domain import Volume
from radcycle.errors import InputError
from radcycle.imaging.masks import array_spacing
from radcycle.models.encoding import DEFAULT_NORMALISATION, encode, normalise, to_model_grid
from radcycle.models.protocol import InputContract, ModelSpec

__all__ = [
    "DEFAULT_CONTRACT",
    "Case",
    "TorchModel",
    "TrainingSample",
    "TrainingSettings",
    "build_network",
    "correct_with_clicks",
    "export_onnx",
    "load_sarcoma_cases",
    "outside_click",
    "sample_patch",
    "train",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Voxel = tuple[int, int, int]

#: The contract of the shipped model: CT, T1 MR and PET on a 4 mm grid, 24-voxel
#: patches (96 mm; larger lesions by sliding window), clicks as Gaussians of 6 mm.
DEFAULT_CONTRACT = InputContract(
    modalities=("CT", "MR", "PT"),
    spacing_mm=4.0,
    patch=24,
    normalisation=DEFAULT_NORMALISATION,
    click_sigma_mm=6.0,
)

#: Share of training patches rotated and scaled (costly on CPU).
AFFINE_SHARE = 0.2

#: The series of each sarcoma patient folder, and their modality.
SARCOMA_SERIES = (("CT", "CT"), ("MR_T1", "MR"), ("PET", "PT"))


@dataclass(frozen=True)
class Case:
    """One series on the model grid: normalised image and reference mask."""

    patient: str
    modality: str
    image: FloatArray
    mask: BoolArray


@dataclass(frozen=True)
class TrainingSettings:
    """How long and how a model is trained.

    Args:
        steps: optimiser steps.
        batch: patches per step.
        learning_rate: AdamW's, decayed by a cosine to a tenth.
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

    steps: int = 600
    batch: int = 4
    learning_rate: float = 3e-3
    channels: tuple[int, ...] = (8, 16, 32, 64)
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
    each read by ``read``), resampled and normalised by ``contract``.

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
        for series, modality in SARCOMA_SERIES:
            image = folder / f"{series}_image.nii.gz"
            mask = folder / f"{series}_mask.nii.gz"
            if not (image.exists() and mask.exists()):
                continue
            volume, ref = read(image), read(mask)
            spacing = array_spacing(volume)
            values = to_model_grid(volume.array, spacing, contract.spacing_mm)
            labels = to_model_grid(
                np.asarray(ref.array > 0, np.float32), spacing, contract.spacing_mm
            )
            cases.append(
                Case(folder.name, modality, normalise(values, modality, contract), labels >= 0.5)
            )
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


def _crop(
    array: npt.NDArray[Any], centre: Sequence[int], size: int, fill: float
) -> npt.NDArray[Any]:
    """A cube of ``size`` around ``centre``, padded with ``fill`` beyond the array."""
    out = np.full((size,) * 3, fill, dtype=array.dtype)
    lo = [int(c) - size // 2 for c in centre]
    src = tuple(slice(max(a, 0), min(a + size, n)) for a, n in zip(lo, array.shape, strict=True))
    dst = tuple(slice(s.start - a, s.stop - a) for s, a in zip(src, lo, strict=True))
    out[dst] = array[src]
    return out


def _depth(mask: BoolArray) -> npt.NDArray[np.float64]:
    return np.asarray(ndi.distance_transform_edt(mask), dtype=np.float64)


def simulated_click(mask: BoolArray, rng: np.random.Generator) -> Voxel | None:
    """A reader's click in ``mask``: at the centre (35 %), anywhere well inside
    (45 %: at least 35 % of the greatest depth, as the lesion benchmark's
    off-centre clicks), or near the edge (20 %)."""
    depth = _depth(mask)
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


def _augment(
    image: FloatArray, mask: BoolArray, rng: np.random.Generator
) -> tuple[FloatArray, BoolArray]:
    """Flips, in-plane transposition, on a share of patches a rotation (up to 15
    degrees about each axis) and scaling (0.85-1.15), intensity shift and scale,
    noise, and blur for a coarser resolution."""
    for axis in range(3):
        if rng.random() < 0.5:
            image, mask = np.flip(image, axis), np.flip(mask, axis)
    if rng.random() < 0.5:
        image, mask = np.swapaxes(image, 1, 2), np.swapaxes(mask, 1, 2)
    image, mask = np.ascontiguousarray(image), np.ascontiguousarray(mask)
    if rng.random() < AFFINE_SHARE:
        from monai.transforms.spatial.dictionary import RandAffined

        affine = RandAffined(
            keys=("image", "label"),
            prob=1.0,
            rotate_range=(0.26, 0.26, 0.26),
            scale_range=(0.15, 0.15, 0.15),
            mode=("bilinear", "nearest"),
            padding_mode="border",
        )
        affine.set_random_state(seed=int(rng.integers(2**31)))
        out = affine({"image": image[None], "label": mask[None].astype(np.float32)})
        image = np.asarray(out["image"][0], dtype=np.float32)
        mask = np.asarray(out["label"][0]) >= 0.5
    if rng.random() < 0.8:
        image = image * float(rng.uniform(0.85, 1.15)) + float(rng.uniform(-0.15, 0.15))
    if rng.random() < 0.2:
        image = np.asarray(ndi.gaussian_filter(image, float(rng.uniform(0.3, 1.0))), np.float32)
    if rng.random() < 0.5:
        noise = rng.normal(0.0, float(rng.uniform(0.0, 0.08)), image.shape)
        image = image + noise.astype(np.float32)
    return np.asarray(image, dtype=np.float32), mask


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
    """A patch of ``case`` centred near a simulated click, augmented."""
    size = contract.patch
    big = size + size // 2
    anchor = simulated_click(case.mask, rng)
    if anchor is None:
        return None
    fill = float(case.image.min())
    image = _crop(case.image, anchor, big, fill)
    mask = _crop(case.mask, anchor, big, False)
    image, mask = _augment(image, mask, rng)
    centre_zone = np.zeros(mask.shape, dtype=bool)
    q = size // 4
    centre_zone[tuple(slice(big // 2 - q, big // 2 + q) for _ in range(3))] = True
    click = simulated_click(mask & centre_zone, rng) or simulated_click(mask, rng)
    if click is None:
        return None
    jitter = rng.integers(-2, 3, size=3)
    centre = [c + int(d) for c, d in zip(click, jitter, strict=True)]
    lo = [c - size // 2 for c in centre]
    image = _crop(image, centre, size, fill)
    mask = _crop(mask, centre, size, False)
    local = (click[0] - lo[0], click[1] - lo[1], click[2] - lo[2])
    return TrainingSample(image, mask, case.modality, [local], [])


def outside_click(mask: BoolArray, rng: np.random.Generator, spacing: float) -> Voxel | None:
    """A negative click 3-15 mm outside the lesion (a neighbour the reader excludes)."""
    out = np.asarray(ndi.distance_transform_edt(~mask), dtype=np.float64) * spacing
    points = np.argwhere((out >= 3.0) & (out <= 15.0))
    if len(points) == 0:
        return None
    k, j, i = points[rng.integers(len(points))]
    return (int(k), int(j), int(i))


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
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimiser, T_max=max(s.steps, 1), eta_min=s.learning_rate / 10
    )
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
        schedule.step()
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
