"""Open-i (Indiana University chest X-ray collection) report XML, parsed from text.

Each report is an ``eCitation`` document whose ``AbstractText`` elements carry
the sections (``Label="FINDINGS"`` and so on) and whose ``MeSH`` element holds
the manual index terms (``major``, ``minor``) and automatic ones.

Example:
    >>> xml = (
    ...     '<eCitation><uId id="CXR1"/><Abstract>'
    ...     '<AbstractText Label="FINDINGS">No effusion.</AbstractText>'
    ...     '<AbstractText Label="IMPRESSION">Normal chest.</AbstractText>'
    ...     "</Abstract><MeSH><major>normal</major></MeSH></eCitation>"
    ... )
    >>> report = parse_openi(xml)
    >>> report.report_id, report.sections["impression"], report.mesh_major
    ('CXR1', 'Normal chest.', ('normal',))
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from radcycle.errors import DataFormatError

__all__ = ["OpenIReport", "looks_like_openi", "parse_openi"]


@dataclass(frozen=True)
class OpenIReport:
    """One Open-i report.

    Attributes:
        report_id: the ``uId`` (e.g. "CXR3029").
        sections: lower-case section label to text (empty sections dropped).
        mesh_major: manual major MeSH terms, e.g. "Pleural Effusion/left/small".
        mesh_minor: manual minor MeSH terms.
    """

    report_id: str
    sections: dict[str, str]
    mesh_major: tuple[str, ...]
    mesh_minor: tuple[str, ...]

    @property
    def mesh(self) -> tuple[str, ...]:
        """Major and minor manual terms together."""
        return self.mesh_major + self.mesh_minor


def looks_like_openi(data: str | bytes) -> bool:
    """True when the text looks like an Open-i report XML document."""
    head = data[:400] if isinstance(data, str) else data[:400].decode("utf-8", "replace")
    return "<eCitation" in head or ("<?xml" in head and "AbstractText" in str(data[:4000]))


def parse_openi(data: str | bytes, *, source: str | None = None) -> OpenIReport:
    """Parse one Open-i report XML document.

    Args:
        data: the XML text or bytes.
        source: the file name, for error messages.

    Returns:
        The report's identifier, sections and MeSH terms.

    Raises:
        DataFormatError: the text is not well-formed XML or not an Open-i report.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DataFormatError(f"not well-formed XML: {exc}", path=source) from exc
    if root.find(".//AbstractText") is None and root.find("MeSH") is None:
        raise DataFormatError("no AbstractText or MeSH element: not an Open-i report", path=source)
    uid = root.find("uId")
    sections: dict[str, str] = {}
    for element in root.iter("AbstractText"):
        text = " ".join("".join(element.itertext()).split())
        label = (element.get("Label") or "findings").lower()
        if text:
            sections[label] = f"{sections[label]} {text}" if label in sections else text
    mesh = root.find("MeSH")
    major = tuple((e.text or "").strip() for e in mesh.iter("major")) if mesh is not None else ()
    minor = tuple((e.text or "").strip() for e in mesh.iter("minor")) if mesh is not None else ()
    return OpenIReport(
        report_id=uid.get("id", "") if uid is not None else "",
        sections=sections,
        mesh_major=tuple(m for m in major if m),
        mesh_minor=tuple(m for m in minor if m),
    )
