"""Thresholds of click-to-segment, in settings objects a caller can set.

:class:`OutlineSettings` holds those of the outline methods
(:mod:`radcycle.imaging.outlines`), :class:`SegmentationSettings` those of
the router and the quality flags (:mod:`radcycle.imaging.routing`,
:mod:`radcycle.imaging.segmentation`) with an :class:`OutlineSettings` in it.
The defaults are the values the methods were tuned with; docs/lesions.md gives
the data each was chosen on and the figures.

>>> s = SegmentationSettings()
>>> s.min_solidity, s.outline.level_set_k
(0.8, 1.5)
>>> SegmentationSettings(lung_fraction=0.2).lung_fraction
0.2
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OutlineSettings", "SegmentationSettings"]


@dataclass(frozen=True)
class OutlineSettings:
    """Thresholds of the outline methods on a region of interest.

    Args:
        pet_fraction: the anatomical PET outline's level, a fraction of the way
            from the region's median to the local SUVmax (chosen
            leave-one-patient-out on the sarcoma PET series); its 3D convex hull
            is the outline.
        pet_metabolic_fraction: the EANM 41 % of SUVmax metabolic volume
            ("pet-41"; Boellaard et al. 2015).
        bright_contrast: on MR, a lesion whose peak near the click is this many
            noise SDs above its region's median is outlined as a bright lesion
            (enhancing lesions of brain1 and breast1 give 15-27 and 65, the
            sarcomas of the T1 series 2 or less).
        bright_fraction: a bright lesion's level, that fraction of the way from
            the region's median to its peak.
        bright_peak_mm: the peak is the 90th percentile within this of the click.
        soft_open_mm: soft tissue on MR: leaks through bridges thinner than this
            (mm) are opened off.
        soft_tissue_mm: per modality, the half-size (mm) of the box around the
            click where the intensity window is learnt and the Gaussian scale
            (mm) of the edges; other modalities use MR's.
        level_set_radius_mm: the level set grows from a ball of this radius.
        level_set_k: its window is the median +- this many robust SDs.
        level_set_step: iterations per step of the level set.
        level_set_max_steps: most steps.
        level_set_stop: it stops at the first step whose mean front advance
            falls below this fraction of the fastest step's.
        window_centre_mm: the window is centred on the median within this of
            the click.
        edge_contrast: an outline whose surroundings differ from it by this
            many noise SDs has an edge ...
        edge_reach_mm: ... and is moved out to its half-way level by at most this.
        texture_factor: the window's spread is the noise SD times this.
        level_set_min_half_hu: the window is at least this wide each side on CT.
        lung_solid_edge_hu: the edge of a solid lung lesion.
        open_fraction: the vessel-opening ball, a fraction of the nodule's depth.
        regrow_fraction: a large lung tumour's outline is regrown into its cut-off
            rim by this fraction of its depth.
        min_nodule_contrast_hu: a ground-glass nodule is at least this much denser
            than the lung around it.
        halo_share: a solid core whose surrounding shell is at least this share
            ground-glass is part-solid.
        carry_shrink: a lung lesion's slice whose outline is under this share of
            the slice before it ...
        carry_cover: ... while soft tissue covers at least this share of that
            slice's outline, keeps its footprint (a tumour merged with an organ).
    """

    pet_fraction: float = 0.25
    pet_metabolic_fraction: float = 0.41
    bright_contrast: float = 15.0
    bright_fraction: float = 0.5
    bright_peak_mm: float = 5.0
    soft_open_mm: float = 2.0
    soft_tissue_mm: tuple[tuple[str, tuple[float, float]], ...] = (
        ("CT", (6.0, 1.5)),
        ("MR", (10.0, 2.0)),
    )
    level_set_radius_mm: float = 5.0
    level_set_k: float = 1.5
    level_set_step: int = 25
    level_set_max_steps: int = 28
    level_set_stop: float = 0.9
    window_centre_mm: float = 3.0
    edge_contrast: float = 3.0
    edge_reach_mm: float = 2.0
    texture_factor: float = 1.5
    level_set_min_half_hu: float = 15.0
    lung_solid_edge_hu: float = -400.0
    open_fraction: float = 0.4
    regrow_fraction: float = 0.2
    min_nodule_contrast_hu: float = 150.0
    halo_share: float = 0.5
    carry_shrink: float = 0.8
    carry_cover: float = 0.8

    def soft_tissue_scales(self, modality: str) -> tuple[float, float]:
        """The window box half-size and edge scale (mm) of ``modality`` (MR's
        where it has none of its own)."""
        scales = dict(self.soft_tissue_mm)
        return scales.get(modality, scales["MR"])


@dataclass(frozen=True)
class SegmentationSettings:
    """Thresholds of the router and of the quality flags of click-to-segment.

    Args:
        no_signal: MR and PET: a click whose surroundings hold less than this
            share of the image's 99th percentile is outside the body.
        min_solidity: a soft-tissue outline less convex than this (volume over
            convex-hull volume) has leaked into a neighbour (reference GTVs of
            the sarcoma series 0.89-0.98, outlines that leaked 0.61-0.74).
        bright_min_solidity: a bright lesion's hull where less than this share
            of it was bright is ``uncertain``.
        min_agreement: where both soft-tissue methods ran and their outlines
            share less than this (Dice), the outline is ``uncertain``.
        span_mm: an outline spanning the whole image along an axis this long or
            longer is tissue filling the field of view.
        probe_roi_mm: half-size of the probe outline that tells a node beside
            the lung from a lung lesion.
        lung_fraction: the share of aerated lung within 25 mm of the click
            above which the lung-lesion method is used.
        lung_shell_share: a soft-tissue outline on CT with this share of
            aerated lung around it is a lung tumour after all.
        large_blob_mm: a blob of more than this radius under a click is a large
            tumour ...
        roi_per_radius: ... whose region of interest starts at this many times
            its radius.
        min_blob_share: an outline holding less than this share of a large
            blob's sphere is redone from the blob's centre.
        ladder_share: larger blobs are tried where the outline holds under this
            share of their sphere ...
        ladder_hold: ... and kept where they hold the click and this share of
            the outline so far ...
        ladder_lung: ... and the share of aerated lung around them is at least
            this much of the share around the click's outline.
        ladder_fat: a soft-tissue outline climbs the larger blobs where less
            than this share of fat lies around it.
        min_slices: fewer voxels than this along an axis is not a volume to
            outline in.
        outline: the outline methods' thresholds.
    """

    no_signal: tuple[tuple[str, float], ...] = (("MR", 0.05), ("PT", 0.02))
    min_solidity: float = 0.8
    bright_min_solidity: float = 0.4
    min_agreement: float = 0.5
    span_mm: float = 30.0
    probe_roi_mm: float = 25.0
    lung_fraction: float = 0.15
    lung_shell_share: float = 0.1
    large_blob_mm: float = 10.0
    roi_per_radius: float = 2.0
    min_blob_share: float = 0.25
    ladder_share: float = 0.5
    ladder_hold: float = 0.5
    ladder_lung: float = 0.9
    ladder_fat: float = 0.3
    min_slices: int = 3
    outline: OutlineSettings = field(default_factory=OutlineSettings)

    def no_signal_share(self, modality: str) -> float:
        """The no-signal share of ``modality`` (0.05 where it has none)."""
        return dict(self.no_signal).get(modality, 0.05)
