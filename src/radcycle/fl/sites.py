"""Sites of a federation: the sarcoma patients split the way hospitals differ.

Federated learning is only tested honestly on sites that are *not* alike. The
split made by :func:`make_sites` holds a held-out set out of every site (the
same one for every model compared) and gives three sites that differ the way
hospitals do (non-IID):

==========  ==========  ==============  =====================================================
site        patients    series          how it differs
==========  ==========  ==============  =====================================================
``north``   9 of 23     CT, T1 MR, PET  the large centre: most patients, every modality
``east``    6 of 23     CT, PET         a PET centre without MR
``south``   3 of 23     CT, T1 MR, PET  a small centre whose scanners are calibrated
                                        differently: CT +30 HU, PET SUV x1.2, MR x0.85
``held-out`` 5 of 23    CT, T1 MR, PET  never trained on; every model is scored on it
==========  ==========  ==============  =====================================================

(For another number of patients the shares are the same: 5/23 held out, then
9:6:3, at least one patient each.) Patients are drawn with ``random_seed``.

For cross-validation (``folds`` > 1) the drawn patients are cut into ``folds``
near-equal parts in their drawn order; part ``fold`` is held out and the others
are split into the sites by the same rule (9:6:3 of the training patients,
largest remainders, at least one each, in drawn order), so every patient is
held out exactly once over the folds and the sites keep their sizes,
modalities and calibrations.

Each site is a folder of its own, shaped like the source (``STS_xxx/{CT,MR_T1,
PET}_{image,mask}.nii.gz``) so the training code reads it unchanged: the
series are symbolic links to the source files (the patient data are not
copied), except on a site with a calibration, whose images are written
recalibrated (linear: ``value * scale + offset``; masks stay links). Each
site folder holds ``site.json`` (its patients, series and calibration) and the
output folder ``sites.json`` (the whole split).

Example:
    >>> [s.name for s in DEFAULT_SITES]
    ['north', 'east', 'south']
    >>> shares(23)
    {'held-out': 5, 'north': 9, 'east': 6, 'south': 3}
    >>> shares(9)
    {'held-out': 2, 'north': 4, 'east': 2, 'south': 1}
    >>> [len(fold_split([f"P{i}" for i in range(23)], 5, k)["held-out"]) for k in range(5)]
    [5, 5, 5, 4, 4]
    >>> {k: len(v) for k, v in fold_split([f"P{i}" for i in range(23)], 5, 3).items()}
    {'held-out': 4, 'north': 10, 'east': 6, 'south': 3}
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from radcycle.errors import ExportError, InputError

__all__ = [
    "DEFAULT_SITES",
    "HELD_OUT",
    "SERIES",
    "SITE_FILE",
    "SPLIT_FILE",
    "Calibration",
    "SiteSpec",
    "SplitReport",
    "fold_split",
    "make_sites",
    "read_site",
    "shares",
    "site_counts",
    "site_files",
]

#: The series of a sarcoma patient folder: file stem and modality.
SERIES: tuple[tuple[str, str], ...] = (("CT", "CT"), ("MR_T1", "MR"), ("PET", "PT"))

#: Name of the held-out folder.
HELD_OUT = "held-out"
#: A site's own description, in its folder.
SITE_FILE = "site.json"
#: The whole split, in the output folder.
SPLIT_FILE = "sites.json"

#: Share of the patients held out of every site.
HELD_OUT_SHARE = 5 / 23


@dataclass(frozen=True)
class Calibration:
    """A linear change of a modality's values: ``value * scale + offset``."""

    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True)
class SiteSpec:
    """One site: its name, its share of the training patients, the modalities it
    has and how its scanners are calibrated relative to the source."""

    name: str
    weight: int
    modalities: tuple[str, ...]
    calibration: dict[str, Calibration] = field(default_factory=dict)
    description: str = ""


DEFAULT_SITES: tuple[SiteSpec, ...] = (
    SiteSpec("north", 9, ("CT", "MR", "PT"), description="large centre, every modality"),
    SiteSpec("east", 6, ("CT", "PT"), description="PET centre without MR"),
    SiteSpec(
        "south",
        3,
        ("CT", "MR", "PT"),
        {
            "CT": Calibration(1.0, 30.0),
            "PT": Calibration(1.2, 0.0),
            "MR": Calibration(0.85, 0.0),
        },
        "small centre, scanners calibrated differently",
    ),
)


@dataclass(frozen=True)
class SplitReport:
    """What :func:`make_sites` made: folder, patients per site, the seed."""

    out: Path
    source: Path
    random_seed: int
    sites: dict[str, list[str]]
    modalities: dict[str, list[str]]
    calibration: dict[str, dict[str, dict[str, float]]]
    folds: int = 1
    fold: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "source": str(self.source),
            "random_seed": self.random_seed,
            "folds": self.folds,
            "fold": self.fold,
            "sites": self.sites,
            "modalities": self.modalities,
            "calibration": self.calibration,
        }


def shares(n: int, sites: Sequence[SiteSpec] = DEFAULT_SITES) -> dict[str, int]:
    """Patients per folder for ``n`` patients: the held-out share, then the sites'
    weights (largest remainders), at least one each.

    Raises:
        InputError: fewer patients than folders.
    """
    if n < len(sites) + 1:
        raise InputError(f"{n} patients cannot make {len(sites)} sites and a held-out set")
    held = max(1, round(n * HELD_OUT_SHARE))
    return {HELD_OUT: held, **site_counts(n - held, sites)}


def site_counts(rest: int, sites: Sequence[SiteSpec] = DEFAULT_SITES) -> dict[str, int]:
    """``rest`` training patients shared among ``sites`` by their weights (largest
    remainders, at least one each).

    Raises:
        InputError: fewer patients than sites.
    """
    if rest < len(sites):
        raise InputError(f"{rest} training patients cannot make {len(sites)} sites")
    total = sum(s.weight for s in sites)
    exact = [rest * s.weight / total for s in sites]
    counts = [max(1, int(x)) for x in exact]
    order = sorted(range(len(sites)), key=lambda i: exact[i] - int(exact[i]), reverse=True)
    k = 0
    while sum(counts) < rest:
        counts[order[k % len(order)]] += 1
        k += 1
    while sum(counts) > rest:
        biggest = max(range(len(counts)), key=lambda i: counts[i])
        counts[biggest] -= 1
    return {s.name: c for s, c in zip(sites, counts, strict=True)}


def fold_split(
    patients: Sequence[str],
    folds: int,
    fold: int,
    sites: Sequence[SiteSpec] = DEFAULT_SITES,
    random_seed: int = 0,
) -> dict[str, list[str]]:
    """Fold ``fold`` of ``folds`` of a cross-validation over ``patients``: the held-out
    part and each site's patients (see the module's rule).

    Raises:
        InputError: ``fold`` not in ``[0, folds)``, fewer than 2 folds, or too few
            patients for the folds and sites.
    """
    if folds < 2 or not 0 <= fold < folds:
        raise InputError(f"fold {fold} of {folds}: need at least 2 folds and 0 <= fold < folds")
    names = sorted(patients)
    if len(names) < folds or len(names) - -(-len(names) // folds) < len(sites):
        raise InputError(f"{len(names)} patients cannot make {folds} folds of {len(sites)} sites")
    order = np.random.default_rng(random_seed).permutation(len(names))
    drawn = [names[int(i)] for i in order]
    parts = np.array_split(np.arange(len(drawn)), folds)
    held = {int(i) for i in parts[fold]}
    training = [p for i, p in enumerate(drawn) if i not in held]
    split = {HELD_OUT: sorted(drawn[i] for i in held)}
    start = 0
    for name, count in site_counts(len(training), sites).items():
        split[name] = sorted(training[start : start + count])
        start += count
    return split


def _patients(source: Path) -> list[Path]:
    if not source.is_dir():
        raise InputError("not a folder of patients", path=source)
    folders = sorted(
        p
        for p in source.iterdir()
        if p.is_dir() and any((p / f"{stem}_image.nii.gz").is_file() for stem, _ in SERIES)
    )
    if not folders:
        raise InputError("no patient folder with a {CT,MR_T1,PET}_image.nii.gz series", path=source)
    return folders


def make_sites(
    source: Path,
    out: Path,
    *,
    sites: Sequence[SiteSpec] = DEFAULT_SITES,
    random_seed: int = 0,
    folds: int = 1,
    fold: int = 0,
    force: bool = False,
) -> SplitReport:
    """Split the patient folders under ``source`` into a held-out folder and ``sites``
    (with ``folds`` > 1: fold ``fold`` of a cross-validation, :func:`fold_split`).

    The whole split is built beside ``out`` and renamed into place when complete.

    Raises:
        InputError: ``source`` holds no patient folder, too few for the sites, or
            a fold out of range.
        ExportError: ``out`` exists (without ``force``) or overlaps ``source``.
    """
    source = Path(source)
    out = Path(out)
    folders = _patients(source)
    real_source, real_out = source.resolve(), out.resolve()
    if (
        real_out == real_source
        or real_source in real_out.parents
        or real_out in real_source.parents
    ):
        raise ExportError("the output overlaps the input", path=out, value=str(source))
    if os.path.lexists(out) and not force:
        raise ExportError("output exists; use --force to replace it", path=out)
    assignment: dict[str, list[Path]] = {}
    if folds > 1:
        by_name = {p.name: p for p in folders}
        for name, drawn_names in fold_split(list(by_name), folds, fold, sites, random_seed).items():
            assignment[name] = [by_name[p] for p in drawn_names]
    else:
        counts = shares(len(folders), sites)
        order = np.random.default_rng(random_seed).permutation(len(folders))
        drawn = [folders[int(i)] for i in order]
        start = 0
        for name, count in counts.items():
            assignment[name] = sorted(drawn[start : start + count])
            start += count
    specs = {s.name: s for s in sites}
    held_spec = SiteSpec(HELD_OUT, 0, tuple(m for _, m in SERIES), description="held out")
    temp = out.with_name(f".radcycle-tmp-{secrets.token_hex(6)}-{out.name}")
    temp.mkdir(parents=True)
    try:
        for name, patients in assignment.items():
            spec = specs.get(name, held_spec)
            _write_site(temp / name, spec, patients)
        report = SplitReport(
            out=out,
            source=real_source,
            random_seed=random_seed,
            folds=folds,
            fold=fold,
            sites={k: [p.name for p in v] for k, v in assignment.items()},
            modalities={k: list(specs.get(k, held_spec).modalities) for k in assignment},
            calibration={
                k: {m: asdict(c) for m, c in specs.get(k, held_spec).calibration.items()}
                for k in assignment
            },
        )
        (temp / SPLIT_FILE).write_text(json.dumps(report.to_json(), indent=2) + "\n")
        if os.path.lexists(out):
            if not (out / SPLIT_FILE).is_file():
                raise ExportError("not a folder of sites; will not replace it", path=out)
            shutil.rmtree(out)
        os.replace(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return report


def _write_site(folder: Path, spec: SiteSpec, patients: Sequence[Path]) -> None:
    import nibabel as nib

    folder.mkdir()
    series: dict[str, list[str]] = {}
    for patient in patients:
        target = folder / patient.name
        target.mkdir()
        for stem, modality in SERIES:
            image = patient / f"{stem}_image.nii.gz"
            mask = patient / f"{stem}_mask.nii.gz"
            if modality not in spec.modalities or not (image.is_file() and mask.is_file()):
                continue
            calibration = spec.calibration.get(modality)
            if calibration is None:
                os.symlink(image.resolve(), target / image.name)
            else:
                try:
                    img: Any = nib.load(image)
                    data = np.asarray(img.get_fdata(dtype=np.float32))
                except Exception as exc:  # nibabel raises many types on a bad file
                    raise InputError(f"cannot read the image: {exc}", path=image) from exc
                data = data * np.float32(calibration.scale) + np.float32(calibration.offset)
                header = img.header.copy()
                header.set_data_dtype(np.float32)
                header.set_slope_inter(1.0, 0.0)
                nib.save(nib.Nifti1Image(data, img.affine, header), target / image.name)
            os.symlink(mask.resolve(), target / mask.name)
            series.setdefault(patient.name, []).append(modality)
    description = {
        "site": spec.name,
        "description": spec.description,
        "patients": [p.name for p in patients],
        "series": series,
        "modalities": list(spec.modalities),
        "calibration": {m: asdict(c) for m, c in spec.calibration.items()},
    }
    (folder / SITE_FILE).write_text(json.dumps(description, indent=2) + "\n")


def read_site(folder: Path) -> dict[str, Any]:
    """The ``site.json`` of a site folder.

    Raises:
        InputError: ``folder`` is no site folder (no readable ``site.json``).
    """
    path = Path(folder) / SITE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"not a site folder (no {SITE_FILE})", path=folder) from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"unreadable {SITE_FILE}: {exc}", path=path) from exc
    if not isinstance(data, dict) or not isinstance(data.get("site"), str):
        raise InputError(f"{SITE_FILE} names no site", path=path)
    return data


def site_files(folder: Path) -> set[Path]:
    """Every file a site may read: its own entries, and the files its links lead to."""
    folder = Path(folder)
    found: set[Path] = set()
    for path in folder.rglob("*"):
        found.add(path.absolute())
        found.add(path.resolve())
    return found
