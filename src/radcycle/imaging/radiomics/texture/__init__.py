"""IBSI 1 texture families on discretised grey levels (0 outside the ROI)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from radcycle.imaging.radiomics.configs import TextureDim
from radcycle.imaging.radiomics.texture.common import GreyImage
from radcycle.imaging.radiomics.texture.glcm import glcm_features
from radcycle.imaging.radiomics.texture.gldzm import gldzm_features
from radcycle.imaging.radiomics.texture.glrlm import glrlm_features
from radcycle.imaging.radiomics.texture.glszm import glszm_features
from radcycle.imaging.radiomics.texture.ngldm import ngldm_features
from radcycle.imaging.radiomics.texture.ngtdm import ngtdm_features

__all__ = ["TEXTURE_FAMILIES", "texture_features"]

TEXTURE_FAMILIES: dict[str, Callable[[GreyImage, tuple[TextureDim, ...]], dict[str, float]]] = {
    "glcm": glcm_features,
    "glrlm": glrlm_features,
    "glszm": glszm_features,
    "gldzm": gldzm_features,
    "ngtdm": ngtdm_features,
    "ngldm": ngldm_features,
}


def texture_features(
    grey: npt.NDArray[np.int64],
    ng: int,
    dims: tuple[TextureDim, ...],
    morph: npt.NDArray[np.bool_] | None = None,
) -> dict[str, float]:
    """All texture features for the aggregation families in ``dims``.

    Args:
        grey: grey levels 1..Ng inside the ROI intensity mask, 0 outside.
        ng: number of grey levels of the discretisation.
        dims: aggregation families (2D, 2.5D, 3D).
        morph: the ROI morphological mask (defaults to ``grey > 0``).
    """
    g = GreyImage(grey, ng, morph)
    out: dict[str, float] = {}
    for family in TEXTURE_FAMILIES.values():
        out.update(family(g, dims))
    return out
