"""Private attributes that PS3.15 E.3.10 lists as safe (Retain Safe Private Option).

Only a small, well-known part of Table E.3.10-1 is listed here: the diffusion
b-value and gradient attributes that quantitative MR needs. Every other private
attribute is removed, whatever the option says.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

__all__ = ["SAFE_PRIVATE", "safe_private_tags"]

# (private creator, group, element offset within the creator's block), from
# PS3.15 Table E.3.10-1 "Safe Private Attributes".
SAFE_PRIVATE: tuple[tuple[str, int, int], ...] = (
    ("SIEMENS MR HEADER", 0x0019, 0x0C),  # B_value
    ("SIEMENS MR HEADER", 0x0019, 0x0D),  # DiffusionDirectionality
    ("SIEMENS MR HEADER", 0x0019, 0x0E),  # DiffusionGradientDirection
    ("SIEMENS MR HEADER", 0x0019, 0x27),  # B_matrix
    ("GEMS_PARM_01", 0x0043, 0x39),  # slop_int_6... (b-value)
    ("Philips MR Imaging DD 001", 0x2001, 0x03),  # Diffusion B-Factor
)


def safe_private_tags(ds: Dataset) -> set[int]:
    """Tags of the safe private attributes present at the top level of ``ds``.

    The private creator elements of their blocks are included so the kept
    attributes stay interpretable (PS3.5 7.8.1).
    """
    wanted: dict[tuple[int, str], list[int]] = {}
    for creator, group, offset in SAFE_PRIVATE:
        wanted.setdefault((group, creator.strip().upper()), []).append(offset)
    keep: set[int] = set()
    for (group, creator), offsets in wanted.items():
        for block in range(0x10, 0x100):
            tag = (group << 16) | block
            if tag not in ds:
                continue
            if str(ds[tag].value).strip().upper() != creator:
                continue
            for offset in offsets:
                data_tag = (group << 16) | (block << 8) | offset
                if data_tag in ds:
                    keep.update({tag, data_tag})
    return keep
