"""PACS transfer: a 64-slice CT study to and from a local Orthanc, by each protocol.

Store: STOW-RS (one multipart request) and C-STORE (over 4 associations at once, the
default, and over 1), against
Orthanc's own REST upload (``POST /instances``, one file per request) as the
baseline. Retrieve: WADO-RS (one multipart stream), C-GET and C-MOVE, against
Orthanc's REST download (``GET /instances/{id}/file`` per instance, asked without
compression). The study is
64 slices of 512 x 512, 16 bits (32 MiB); the Orthanc runs on loopback in its own
network namespace (``radcycle.pacs.orthanc``), its storage in the benchmark's
temporary folder. Each row is the best of ``$RADCYCLE_BENCH_PACS_REPEAT`` (default
3) runs; the study is deleted from Orthanc before every store, and every retrieve
writes a fresh folder. Ratios are Orthanc-REST time over the row's time (above 1:
faster than the baseline). Needs root and the Debian packages ``orthanc``,
``orthanc-dicomweb`` (``scripts/install-system-packages.sh``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from rich.table import Table

from radcycle.pacs.dicomweb import DicomWebGateway
from radcycle.pacs.dimse import DimseGateway
from radcycle.pacs.gateway import collect_instances
from radcycle.pacs.orthanc import LocalOrthanc, OrthancSettings, orthanc_unavailable

SLICES = 64
MATRIX = 512
REPEAT = int(os.environ.get("RADCYCLE_BENCH_PACS_REPEAT", "3"))
OUR_AET = "RADCYCLE"
MOVE_PORT = 11112


def write_study(folder: Path) -> tuple[str, list[Path]]:
    """A 64-slice CT study (smooth body-like values plus noise, fixed seed)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    study, series = generate_uid(), generate_uid()
    yy, xx = np.mgrid[:MATRIX, :MATRIX]
    body = ((yy - MATRIX / 2) ** 2 + (xx - MATRIX / 2) ** 2) < (MATRIX * 0.42) ** 2
    files = []
    for k in range(SLICES):
        pixels = np.where(body, 1040, 24) + rng.normal(0, 12, (MATRIX, MATRIX))
        ds = Dataset()
        meta = FileMetaDataset()
        sop = generate_uid()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.FrameOfReferenceUID = generate_uid()
        ds.PatientID, ds.PatientName, ds.Modality = "BENCH-PACS", "Bench^Pacs", "CT"
        ds.StudyDate, ds.InstanceNumber = "20240105", k + 1
        ds.ImagePositionPatient = [0.0, 0.0, 1.25 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing, ds.SliceThickness = [0.7, 0.7], 1.25
        ds.Rows = ds.Columns = MATRIX
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.RescaleIntercept, ds.RescaleSlope = -1024.0, 1.0
        ds.PixelData = np.clip(pixels, 0, 4095).astype(np.uint16).tobytes()
        path = folder / f"{k:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return study, files


def _best(action: Callable[[int], None], before: Callable[[], None] | None = None) -> float:
    best = float("inf")
    for rep in range(REPEAT):
        if before is not None:
            before()
        start = time.perf_counter()
        action(rep)
        best = min(best, time.perf_counter() - start)
    return best


def _measure(server: LocalOrthanc, workdir: Path) -> list[tuple[str, str, float]]:
    study, files = write_study(workdir / "study")
    instances = collect_instances(files).instances
    rest = httpx.Client(auth=server.auth, timeout=120)
    web = DicomWebGateway.from_url(
        server.dicomweb_url, username=server.auth[0], password=server.auth[1], timeout=120
    )
    get = DimseGateway.from_url(server.dicom_url, calling_aet=OUR_AET, timeout=120)
    one = DimseGateway.from_url(server.dicom_url, calling_aet=OUR_AET, timeout=120, associations=1)
    move = DimseGateway.from_url(
        server.dicom_url, calling_aet=OUR_AET, retrieve_method="move", move_port=MOVE_PORT
    )

    def clear() -> None:
        for found in rest.post(f"{server.rest_url}/tools/lookup", content=study).json():
            rest.delete(f"{server.rest_url}/studies/{found['ID']}")

    def rest_upload(_rep: int) -> None:
        for f in files:
            rest.post(f"{server.rest_url}/instances", content=f.read_bytes()).raise_for_status()

    def stow(_rep: int) -> None:
        if web.store(instances).failed:
            raise RuntimeError("STOW-RS refused instances")

    def c_store_with(gateway: DimseGateway) -> Callable[[int], None]:
        def action(_rep: int) -> None:
            if gateway.store(instances).failed:
                raise RuntimeError("C-STORE refused instances")

        return action

    rows = [
        ("store", "Orthanc REST POST /instances", _best(rest_upload, clear)),
        ("store", "radcycle STOW-RS", _best(stow, clear)),
        ("store", "radcycle C-STORE, 4 associations", _best(c_store_with(get), clear)),
        ("store", "radcycle C-STORE, 1 association", _best(c_store_with(one), clear)),
    ]
    rest_upload(0)
    ident = rest.post(f"{server.rest_url}/tools/lookup", content=study).json()[0]["ID"]
    ids = rest.get(f"{server.rest_url}/studies/{ident}/instances").json()

    def rest_download(rep: int) -> None:
        folder = workdir / f"rest-{rep}"
        folder.mkdir()
        for item in ids:
            # identity: Orthanc would otherwise gzip each file (11 s instead of 0.4 s here)
            r = rest.get(
                f"{server.rest_url}/instances/{item['ID']}/file",
                headers={"Accept-Encoding": "identity"},
            )
            r.raise_for_status()
            (folder / f"{item['ID']}.dcm").write_bytes(r.content)

    def retrieve_with(gateway: DicomWebGateway | DimseGateway, name: str) -> Callable[[int], None]:
        def action(rep: int) -> None:
            got = gateway.retrieve(study, workdir / f"{name}-{rep}")
            if len(got.files) != SLICES:
                raise RuntimeError(f"{name}: {len(got.files)} of {SLICES} instances")

        return action

    rows += [
        ("retrieve", "Orthanc REST GET /instances/{id}/file", _best(rest_download)),
        ("retrieve", "radcycle WADO-RS", _best(retrieve_with(web, "wado"))),
        ("retrieve", "radcycle C-GET", _best(retrieve_with(get, "get"))),
        ("retrieve", "radcycle C-MOVE", _best(retrieve_with(move, "move"))),
    ]
    web.close()
    rest.close()
    return rows


def run(workdir: Path) -> Table:
    size_mb = SLICES * MATRIX * MATRIX * 2 / 2**20
    table = Table(title=f"PACS transfer, {SLICES} slices {MATRIX}x{MATRIX} ({size_mb:.0f} MiB)")
    for column in ("direction", "contender", "wall s", "MiB/s", "speed vs Orthanc REST"):
        table.add_column(
            column, justify="left" if column in ("direction", "contender") else "right"
        )
    reason = orthanc_unavailable()
    if reason is not None:
        table.add_row("-", f"skipped: {reason}", "-", "-", "-")
        return table
    settings = OrthancSettings(modalities={OUR_AET: MOVE_PORT})
    with LocalOrthanc(workdir / "orthanc", settings) as server, server.inside():
        rows = _measure(server, workdir)
    baselines = {d: s for d, name, s in rows if name.startswith("Orthanc REST")}
    for direction, name, seconds in rows:
        ratio = baselines[direction] / seconds
        table.add_row(
            direction, name, f"{seconds:.3f}", f"{size_mb / seconds:.0f}", f"{ratio:.2f}x"
        )
    return table
