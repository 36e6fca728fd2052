"""What happens to public attributes that Table E.1-1 does not list.

PS3.15 E.1 asks that every attribute that could identify the patient be dealt
with, not only those listed; new attributes appear with each edition and vendors
fill old ones with unexpected text. The rule here is: what is not in the table and
not known to be safe is removed.

* Numbers (US, SS, UL, SL, FL, FD, UV, SV, AT, IS, DS), coded strings (CS), ages
  (AS) and binary data (OB, OW, OF, OD, OL, OV: pixels, lookup tables) of tags the
  data dictionary knows are kept (``K``).
* UIDs are remapped with the keyed function (``U``), at any depth, unless the
  attribute names a class, a transfer syntax or a coding scheme, or the value is a
  UID the standard itself defines (:func:`is_instance_uid`).
* Dates and date-times are shifted under Modified Dates, kept under Full Dates and
  removed otherwise; times of day are kept under either longitudinal option
  (``T``).
* The text attributes of :data:`SAFE_TEXT_KEYWORDS` (codes, technique descriptions, the
  manufacturer) are kept with the file's identifiers masked (``S``).
* Everything else is removed (``X``): person names, other text, URLs (UR),
  application entity titles, and any tag the data dictionary does not know,
  whatever its VR (an unknown public tag is typically read as UN).

Example:
    >>> unlisted_action(0x00280010, "US"), unlisted_action(0x00081190, "UR")
    ('K', 'X')
    >>> unlisted_action(0x00080104, "LO"), unlisted_action(0x00089999, "UN")
    ('S', 'X')
"""

from __future__ import annotations

import functools

from pydicom._uid_dict import UID_dictionary
from pydicom.datadict import dictionary_has_tag, keyword_for_tag, tag_for_keyword

__all__ = ["SAFE_TEXT_KEYWORDS", "is_instance_uid", "unlisted_action"]

_KEPT_VRS = frozenset(
    {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV", "AT", "IS", "DS", "CS", "AS"}
    | {"OB", "OW", "OF", "OD", "OL", "OV", "SQ"}
)
_DATE_VRS = frozenset({"DA", "DT", "TM"})

# Text attributes outside Table E.1-1 that describe codes, technique or equipment
# type, not the patient. Kept, with the file's identifiers masked.
SAFE_TEXT_KEYWORDS = (
    "CodeValue",
    "CodingSchemeDesignator",
    "CodingSchemeVersion",
    "CodeMeaning",
    "LongCodeValue",
    "URNCodeValue",
    "MappingResourceName",
    "Manufacturer",
    "ManufacturerModelName",
    "RescaleType",
    "WindowCenterWidthExplanation",
    "LUTExplanation",
    "ConvolutionKernel",
    "FilterType",
    "SequenceName",
    "PulseSequenceName",
    "ImagedNucleus",
    "ReceiveCoilName",
    "TransmitCoilName",
    "Radiopharmaceutical",
    "ReconstructionMethod",
    "PixelSpacingCalibrationDescription",
    "SegmentLabel",
    "SegmentAlgorithmName",
    "AlgorithmName",
    "AlgorithmVersion",
    "ROIObservationLabel",
    "BeamName",
    "TemplateIdentifier",
    "FrameLabel",
    "ContentQualification",
    "DeidentificationMethod",
)

# UI attributes whose value names a class, syntax or scheme, never an instance.
_CLASS_UID_KEYWORDS = (
    "TransferSyntaxUID",
    "CodingSchemeUID",
    "ContextUID",
    "MappingResourceUID",
    "PrivateInformationCreatorUID",
    "ImplementationClassUID",
    "SOPClassesInStudy",
    "CodingSchemeRegistry",
)


@functools.cache
def _tags(keywords: tuple[str, ...]) -> frozenset[int]:
    return frozenset(int(t) for k in keywords if (t := tag_for_keyword(k)) is not None)


@functools.cache
def _is_class_tag(tag: int) -> bool:
    keyword = keyword_for_tag(tag) if dictionary_has_tag(tag) else ""
    return (
        tag in _tags(_CLASS_UID_KEYWORDS)
        or keyword.endswith("ClassUID")
        or "SOPClass" in keyword
        or "TransferSyntax" in keyword
    )


def is_instance_uid(tag: int, value: str) -> bool:
    """True where a UID value of ``tag`` may identify an instance (so is remapped).

    Class, transfer syntax and coding scheme attributes, and the UIDs the standard
    defines (SOP classes, well-known frames of reference, coding schemes), are not.

    Example:
        >>> is_instance_uid(0x00081155, "1.2.826.0.1.3680043.9.7777.1")
        True
        >>> is_instance_uid(0x00081150, "1.2.826.0.1.3680043.9.7777.1")
        False
        >>> is_instance_uid(0x00081155, "1.2.840.10008.1.2.1")
        False
    """
    return bool(value) and not _is_class_tag(tag) and value not in UID_dictionary


@functools.cache
def unlisted_action(tag: int, vr: str) -> str:
    """The action for a public attribute Table E.1-1 does not list.

    Returns:
        ``K`` keep, ``S`` keep with identifiers masked, ``U`` remap instance UIDs,
        ``T`` date or time (options decide), ``X`` remove.
    """
    if not dictionary_has_tag(tag):
        return "X"  # unknown public tag (often VR UN): nobody can say what it holds
    if tag in _tags(SAFE_TEXT_KEYWORDS):
        return "S"
    if vr == "UI":
        return "U"
    if vr in _DATE_VRS:
        return "T"
    # Implicit VR files give the dictionary's VR, such as "OB or OW" for Pixel Data.
    return "K" if all(v in _KEPT_VRS for v in vr.split(" or ")) else "X"
