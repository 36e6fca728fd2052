"""Radiomics over a cohort: a cases CSV in, one row per case out (Parquet or CSV).

The cases CSV is pyradiomics' batch format as it is: columns ``Image`` and
``Mask`` (any letter case), optionally an id column (``ID``, ``Case`` or
``Case_ID``; without one, cases are named ``row-N`` after their data row).
Relative paths are taken from the CSV's folder. A ``Label`` column other than 1 is
a failed row: radcycle's ROI is every non-zero voxel, as in ``radcycle radiomics``.

Each case is one item: its task calls :func:`radcycle.pipeline.radiomics.case_features`
(what ``radcycle radiomics`` calls) and writes ``items/<n>.json`` in the run folder.
The table is assembled from those files at the end: columns ``id``, ``image``,
``mask``, ``status``, ``reason``, ``error``, then one per IBSI feature tag.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from radcycle.batch.executors import TaskResult
from radcycle.batch.manifest import Item, ItemState
from radcycle.batch.outputs import write_atomic
from radcycle.errors import DataFormatError, InputError, PathNotFoundError, RadcycleError
from radcycle.pipeline.radiomics import case_features

__all__ = ["FORMATS", "ITEMS_DIR", "radiomics_task", "read_cases", "write_table"]

ITEMS_DIR = "items"
FORMATS = ("parquet", "csv")
_ID_COLUMNS = ("id", "case", "case_id")
_LEADING = ("id", "image", "mask", "status", "reason", "error")


def _column(fields: Sequence[str], names: Sequence[str]) -> str | None:
    for name in names:
        for field in fields:
            if field.strip().lower() == name:
                return field
    return None


def read_cases(path: Path) -> list[Item]:
    """The cases of a pyradiomics-style batch CSV, one item each, in file order.

    Raises:
        PathNotFoundError: no such CSV.
        DataFormatError: no Image or Mask column, or an id used twice.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = (Path(tmp) / "c.csv").write_text("ID,Image,Mask\\nA,a.nrrd,m.nrrd\\n")
        ...     items = read_cases(Path(tmp) / "c.csv")
        >>> items[0].key, Path(items[0].payload["image"]).name
        ('A', 'a.nrrd')
    """
    if not path.is_file():
        raise PathNotFoundError("no such cases CSV", path=path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataFormatError(f"the cases CSV is not text: {exc}", path=path) from exc
    fields = list(rows[0]) if rows else []
    image, mask = _column(fields, ["image"]), _column(fields, ["mask"])
    if image is None or mask is None:
        raise DataFormatError("the cases CSV needs Image and Mask columns", path=path, value=fields)
    ident, label = _column(fields, _ID_COLUMNS), _column(fields, ["label"])
    items, seen = [], set()
    for number, row in enumerate(rows, start=1):
        key = (row.get(ident) or "").strip() if ident else f"row-{number}"
        if not key or key in seen:
            raise DataFormatError("case id empty or used twice", path=path, value=key)
        seen.add(key)
        payload = {
            "id": key,
            "image": str(path.parent / (row.get(image) or "").strip()),
            "mask": str(path.parent / (row.get(mask) or "").strip()),
            "label": (row.get(label) or "").strip() if label else "",
            "name": f"{number:06d}.json",
        }
        items.append(Item(key, payload))
    return items


def radiomics_task(payload: dict[str, Any], params: dict[str, str]) -> TaskResult:
    """One case: features by the single command's function, written to ``items/<n>.json``."""
    if payload["label"] not in ("", "1"):
        raise InputError(
            "Label other than 1 is not supported (the ROI is every non-zero voxel)",
            path=payload["mask"],
            value=payload["label"],
        )
    roi = params["roi"] or None
    try:
        result = case_features(Path(payload["image"]), Path(payload["mask"]), params["config"], roi)
    except RadcycleError as exc:
        if exc.path is not None:
            raise
        # A grid mismatch or an empty ROI: name the case's mask, as a row of the table says.
        raise type(exc)(exc.message, path=payload["mask"], tag=exc.tag, value=exc.value) from exc
    record = {"id": payload["id"], "features": result.features}
    write_atomic(Path(params["items_dir"]) / payload["name"], json.dumps(record).encode())
    summary = {"features": len(result.features), "seconds": round(result.seconds, 3)}
    return TaskResult([payload["name"]], summary)


def _rows(states: Sequence[ItemState], items_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    rows, tags = [], {}
    for state in states:
        row: dict[str, Any] = {k: state.payload[k] for k in ("id", "image", "mask")}
        row |= {"status": state.status, "reason": state.reason, "error": state.error}
        if state.status == "done":
            record = json.loads((items_dir / state.outputs[0]).read_text(encoding="utf-8"))
            row["features"] = record["features"]
            tags.update(dict.fromkeys(record["features"]))
        rows.append(row)
    return rows, list(tags)


def _csv_bytes(rows: list[dict[str, Any]], tags: list[str]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([*_LEADING, *tags])
    for row in rows:
        features = row.get("features", {})
        values = [repr(float(features[t])) if t in features else "" for t in tags]
        writer.writerow([row[c] for c in _LEADING] + values)
    return text.getvalue().encode("utf-8")


def _parquet_bytes(rows: list[dict[str, Any]], tags: list[str]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, Any] = {c: pa.array([r[c] for r in rows], pa.string()) for c in _LEADING}
    for tag in tags:
        values = [r.get("features", {}).get(tag) for r in rows]
        columns[tag] = pa.array([None if v is None else float(v) for v in values], pa.float64())
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return bytes(sink.getvalue().to_pybytes())


def write_table(states: Sequence[ItemState], items_dir: Path, out: Path, fmt: str) -> int:
    """Write one row per case (failed and pending ones included) to ``out``, atomically.

    NaN features stay NaN (an undefined feature is not 0); failed rows have empty
    (null) features.

    Returns:
        the number of feature columns.
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown table format; use one of {', '.join(FORMATS)}", value=fmt)
    rows, tags = _rows(states, items_dir)
    data = _parquet_bytes(rows, tags) if fmt == "parquet" else _csv_bytes(rows, tags)
    write_atomic(out, data)
    return len(tags)
