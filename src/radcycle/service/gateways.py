"""Where studies come from and where signed results go: PACS gateways, by URL scheme.

The service never speaks DICOMweb or DIMSE itself. A gateway is registered for a
URL scheme (``dicomweb``, ``dimse``, ...) by the code that implements it, and
the service calls it with plain data:

* ``retrieve(url, study_instance_uids, dest)`` writes the studies' DICOM files
  under ``dest`` (a job submitted by StudyInstanceUID);
* ``store(url, files)`` sends the signed SR and SEG back and returns what the
  PACS acknowledged.

Example:
    >>> class Folder:
    ...     def retrieve(self, url, study_instance_uids, dest):
    ...         return []
    ...     def store(self, url, files):
    ...         return [str(f) for f in files]
    >>> registry = GatewayRegistry()
    >>> registry.register("folder", Folder())
    >>> registry.for_url("folder:///archive").store("folder:///archive", [])
    []
    >>> registry.for_url("http://pacs/")
    Traceback (most recent call last):
    ...
    radcycle.errors.InputError: no PACS gateway for 'http' (registered: folder) [value 'http://pacs/']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from radcycle.errors import InputError

__all__ = ["Gateway", "GatewayRegistry"]


class Gateway(Protocol):
    """A PACS: studies in, signed results out."""

    def retrieve(self, url: str, study_instance_uids: Sequence[str], dest: Path) -> list[Path]:
        """Write the studies' files under ``dest``; the files written."""
        ...

    def store(self, url: str, files: Sequence[Path]) -> list[str]:
        """Send ``files`` to the PACS; the SOPInstanceUIDs it acknowledged."""
        ...


class GatewayRegistry:
    """Gateways by URL scheme, registered explicitly."""

    def __init__(self) -> None:
        self._by_scheme: dict[str, Gateway] = {}

    def register(self, scheme: str, gateway: Gateway) -> None:
        self._by_scheme[scheme.lower()] = gateway

    def schemes(self) -> list[str]:
        return sorted(self._by_scheme)

    def for_url(self, url: str) -> Gateway:
        """The gateway of ``url``'s scheme.

        Raises:
            InputError: no gateway registered for that scheme.
        """
        scheme = urlsplit(url).scheme.lower()
        gateway = self._by_scheme.get(scheme)
        if gateway is None:
            known = ", ".join(self.schemes()) or "none"
            raise InputError(f"no PACS gateway for {scheme!r} (registered: {known})", value=url)
        return gateway
