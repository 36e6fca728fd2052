"""Radiomics image-processing configurations, as data.

IBSI 1 (Zwanenburg et al., Radiology 2020, reference manual table "Configurations
A-E") defines five ways to process the CT phantom before computing features, plus
the digital phantom used as is. Each is one :class:`RadiomicsConfig` value here;
the ``default`` one is what the lesion pipeline uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from radcycle.errors import InputError

__all__ = ["CONFIGS", "Discretisation", "RadiomicsConfig", "TextureDim", "get_config"]


class TextureDim(StrEnum):
    """Texture matrix aggregation families (IBSI 1 section 3.6)."""

    D2 = "2D"
    D25 = "2_5D"
    D3 = "3D"


@dataclass(frozen=True)
class Discretisation:
    """Grey-level discretisation (IBSI 1 section 2.7).

    Attributes:
        method: ``"fbn"`` fixed bin number, ``"fbs"`` fixed bin size, ``"none"``.
        value: the bin number (FBN) or bin width in intensity units (FBS).
    """

    method: str
    value: float = 0.0


@dataclass(frozen=True)
class RadiomicsConfig:
    """One complete radiomics processing configuration.

    Attributes:
        name: the CLI name (``ibsi-a``...).
        dims: texture aggregation families computed (2D configs: 2D and 2.5D).
        spacing: target voxel size ``(di, dj, dk)`` in mm; ``None`` keeps the grid;
            a ``None`` component keeps that axis (2D in-plane interpolation).
        image_order: spline order of image interpolation (1 linear, 3 cubic).
        round_intensities: round interpolated intensities to integers (CT).
        reseg_range: intensity range kept in the intensity mask (re-segmentation).
        outlier_sigma: also drop intensities beyond mean +- this many SD.
        texture: discretisation for the histogram and texture families.
        ivh: discretisation for the intensity-volume histogram.
    """

    name: str
    dims: tuple[TextureDim, ...]
    spacing: tuple[float | None, float | None, float | None] | None = None
    image_order: int = 1
    round_intensities: bool = False
    reseg_range: tuple[float, float] | None = None
    outlier_sigma: float | None = None
    texture: Discretisation = Discretisation("fbn", 32)
    ivh: Discretisation = Discretisation("fbn", 1000)


_ALL = (TextureDim.D2, TextureDim.D25, TextureDim.D3)
_2D = (TextureDim.D2, TextureDim.D25)
_3D = (TextureDim.D3,)
_ISO2 = (2.0, 2.0, 2.0)

# IBSI 1 reference manual, table of configurations A-E (CT phantom PAT1).
CONFIGS: dict[str, RadiomicsConfig] = {
    "ibsi-phantom": RadiomicsConfig(
        "ibsi-phantom", _ALL, texture=Discretisation("none"), ivh=Discretisation("none")
    ),
    "ibsi-a": RadiomicsConfig(
        "ibsi-a",
        _2D,
        reseg_range=(-500.0, 400.0),
        texture=Discretisation("fbs", 25.0),
        ivh=Discretisation("none"),
    ),
    "ibsi-b": RadiomicsConfig(
        "ibsi-b",
        _2D,
        spacing=(2.0, 2.0, None),
        round_intensities=True,
        reseg_range=(-500.0, 400.0),
        texture=Discretisation("fbn", 32),
        ivh=Discretisation("none"),
    ),
    "ibsi-c": RadiomicsConfig(
        "ibsi-c",
        _3D,
        spacing=_ISO2,
        round_intensities=True,
        reseg_range=(-1000.0, 400.0),
        texture=Discretisation("fbs", 25.0),
        ivh=Discretisation("fbs", 2.5),
    ),
    "ibsi-d": RadiomicsConfig(
        "ibsi-d",
        _3D,
        spacing=_ISO2,
        round_intensities=True,
        outlier_sigma=3.0,
        texture=Discretisation("fbn", 32),
        ivh=Discretisation("none"),
    ),
    "ibsi-e": RadiomicsConfig(
        "ibsi-e",
        _3D,
        spacing=_ISO2,
        image_order=3,
        round_intensities=True,
        reseg_range=(-1000.0, 400.0),
        outlier_sigma=3.0,
        texture=Discretisation("fbn", 32),
        ivh=Discretisation("fbn", 1000),
    ),
    # Lesion pipeline default: isotropic 1 mm, 3D, FBN 32 (modality-agnostic:
    # works for HU, SUV and MR intensities alike).
    "default": RadiomicsConfig(
        "default",
        _3D,
        spacing=(1.0, 1.0, 1.0),
        texture=Discretisation("fbn", 32),
        ivh=Discretisation("fbn", 1000),
    ),
}


def get_config(name: str | RadiomicsConfig) -> RadiomicsConfig:
    """Look a configuration up by name (or pass one through).

    Raises:
        InputError: unknown name; the message lists the valid ones.
    """
    if isinstance(name, RadiomicsConfig):
        return name
    try:
        return CONFIGS[name]
    except KeyError as exc:
        raise InputError(
            f"unknown radiomics config; choose one of {', '.join(CONFIGS)}", value=name
        ) from exc
