"""Tissue ranges on CT, in Hounsfield units, named once.

Every module that tells air, lung, fat or soft tissue apart on CT takes its
levels from here, so that one name means one level everywhere. A level is the
boundary below which (or a range ``(lo, hi)`` within which, ``lo <= v < hi``)
a voxel is of that kind.

>>> AERATED_LUNG_HU[0] == OUTSIDE_AIR_HU and AERATED_LUNG_HU[1] == BODY_HU
True
>>> GAS_HU < BODY_HU < AERATED_BELOW_HU < SOLID_HU < FAT_HU[1]
True
"""

from __future__ import annotations

__all__ = [
    "AERATED_BELOW_HU",
    "AERATED_LUNG_HU",
    "BODY_HU",
    "BONE_HU",
    "ENHANCED_HU",
    "FAT_CORE_HU",
    "FAT_HU",
    "GAS_HU",
    "METAL_HU",
    "MUSCLE_HU",
    "OUTSIDE_AIR_HU",
    "SOFT_TISSUE_HU",
    "SOLID_HU",
]

#: Air outside the body (and in the trachea) lies below this; aerated lung above.
OUTSIDE_AIR_HU = -950.0
#: A voxel below this is gas (outside air, lung air, bowel gas), not tissue: a
#: click there is not in a lesion.
GAS_HU = -900.0
#: The body outline is drawn at this level: below it is air or aerated lung.
BODY_HU = -500.0
#: Aerated lung parenchyma: above outside air, below the body outline.
AERATED_LUNG_HU = (OUTSIDE_AIR_HU, BODY_HU)
#: Lung air and aerated parenchyma lie below this; vessels, nodules and the
#: chest wall above it (the lung mask's air level, a solid nodule's edge, and
#: the dense tissue a vessel leaves in the lung).
AERATED_BELOW_HU = -400.0
#: Solid attenuation: at or above this, ground-glass below (subsolid nodules).
SOLID_HU = -300.0
#: Fat, the conventional range; denser than its top is soft tissue.
FAT_HU = (-200.0, -30.0)
#: Soft tissue (and denser) lies above this: the top of the fat range.
SOFT_TISSUE_HU = FAT_HU[1]
#: The core of fat, free of partial volume with its neighbours (image QC).
FAT_CORE_HU = (-150.0, -50.0)
#: Unenhanced skeletal muscle (image QC).
MUSCLE_HU = (10.0, 90.0)
#: Blood or tissue enhanced by iodinated contrast (image QC).
ENHANCED_HU = (150.0, 500.0)
#: Cortical bone lies above this (image QC).
BONE_HU = 600.0
#: Metal (implants, wires) lies above this.
METAL_HU = 2500.0
