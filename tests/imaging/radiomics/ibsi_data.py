"""Helpers for radiomics tests: the IBSI 1 phantoms and reference tables."""

from __future__ import annotations

from pathlib import Path

from radcycle.domain import Volume
from radcycle.imaging.radiomics.compliance import Reference, parse_reference
from radcycle.io import read_image

# Reference table and data folder of each IBSI 1 case, by config name.
CASES: dict[str, tuple[str, str]] = {
    "ibsi-phantom": ("ibsi_1_digital_phantom", "digital_phantom"),
    "ibsi-a": ("ibsi_1_ct_radiomics_phantom", "config_A"),
    "ibsi-b": ("ibsi_1_ct_radiomics_phantom", "config_B"),
    "ibsi-c": ("ibsi_1_ct_radiomics_phantom", "config_C"),
    "ibsi-d": ("ibsi_1_ct_radiomics_phantom", "config_D"),
    "ibsi-e": ("ibsi_1_ct_radiomics_phantom", "config_E"),
}


def ibsi_paths(shared_data: Path, config: str) -> tuple[Path, Path]:
    folder = shared_data / "ibsi" / CASES[config][0] / "nifti"
    return folder / "image" / "phantom.nii.gz", folder / "mask" / "mask.nii.gz"


def ibsi_case(shared_data: Path, config: str) -> tuple[Volume, Volume, list[Reference]]:
    image, mask = ibsi_paths(shared_data, config)
    table = (
        shared_data
        / "ibsi"
        / "reference-values"
        / (f"ibsi_1_reference_values_{CASES[config][1]}.csv")
    )
    return read_image(image), read_image(mask), parse_reference(table.read_text("utf-8"))
