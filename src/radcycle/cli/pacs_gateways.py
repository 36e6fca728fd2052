"""The review service's PACS gateways: :mod:`radcycle.pacs` behind the service's hook.

``radcycle serve`` registers these for ``http``, ``https`` (DICOMweb) and
``dicom`` (DIMSE) URLs, so a job can name studies by StudyInstanceUID on a PACS
and a signed case's SR and SEG can be pushed back (and checked to be there).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from radcycle.errors import ExportError
from radcycle.pacs.gateway import collect_instances, open_gateway
from radcycle.service.gateways import GatewayRegistry

__all__ = ["PacsAdapter", "pacs_registry"]


class PacsAdapter:
    """Retrieve and store through :func:`radcycle.pacs.gateway.open_gateway`.

    Credentials are the server's (never part of a URL a user submits).
    """

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self._auth = {"username": username, "password": password} if username else {}

    def retrieve(self, url: str, study_instance_uids: Sequence[str], dest: Path) -> list[Path]:
        gateway = open_gateway(url, **self._auth)
        try:
            files: list[Path] = []
            for uid in study_instance_uids:
                files.extend(gateway.retrieve(uid, dest / uid).files)
            return files
        finally:
            gateway.close()

    def store(self, url: str, files: Sequence[Path]) -> list[str]:
        instances = collect_instances(files).instances
        gateway = open_gateway(url, **self._auth)
        try:
            outcome = gateway.store(instances)
            if outcome.failed:
                raise ExportError(f"the PACS refused {len(outcome.failed)} instance(s)", value=url)
            check = gateway.verify_stored([i.ref for i in instances])
            if not check.ok:
                raise ExportError(
                    f"{len(check.missing)} stored instance(s) are not listed by the PACS",
                    value=url,
                )
            return [r.sop_instance_uid for r in outcome.stored]
        finally:
            gateway.close()


def pacs_registry(username: str | None = None, password: str | None = None) -> GatewayRegistry:
    """A registry with the DICOMweb and DIMSE gateways."""
    registry = GatewayRegistry()
    adapter = PacsAdapter(username, password)
    for scheme in ("http", "https", "dicom"):
        registry.register(scheme, adapter)
    return registry
