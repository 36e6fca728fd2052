"""Pixel data of DICOM frames into one array, as fast as the files allow.

Native little-endian frames are read straight into their row of the output
array (no intermediate copy, threads overlap the reads); everything else
(JPEG, JPEG-LS, JPEG 2000, RLE, deflate, big endian, multi-frame) goes through
pydicom's pixel handlers, which use the pylibjpeg plug-ins and python-gdcm.
"""

from __future__ import annotations

import itertools
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pydicom

from radcycle.errors import InputError, TruncatedFileError, UnsupportedTransferSyntaxError
from radcycle.io.dicom.headers import FrameRef, ImageHeader

log = logging.getLogger(__name__)

__all__ = ["decode_file", "read_frames", "stored_dtype"]


def stored_dtype(h: ImageHeader) -> np.dtype[Any]:
    """The numpy dtype of stored pixel values (BitsAllocated, PixelRepresentation)."""
    if h.bits_allocated not in (8, 16, 32):
        return np.dtype(np.float32)
    signed = h.pixel_representation == 1
    return np.dtype(f"{'i' if signed else 'u'}{h.bits_allocated // 8}").newbyteorder("<")


def _fix_bits(arr: np.ndarray, h: ImageHeader) -> None:
    """Mask unused high bits (unsigned) or sign-extend (signed), as PS3.5 8.1.1 says."""
    unused = h.bits_allocated - h.bits_stored
    if unused <= 0 or not np.issubdtype(arr.dtype, np.integer):
        return
    if h.pixel_representation == 1:
        arr <<= unused
        arr >>= unused
    else:
        arr &= arr.dtype.type((1 << h.bits_stored) - 1)


def decode_file(path: str) -> np.ndarray:
    """Decode all frames of one file with pydicom: shape ``(frames, rows, cols)``."""
    ds = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path)
            arr = ds.pixel_array
    except (NotImplementedError, RuntimeError) as exc:
        tsuid = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", "?"))
        raise UnsupportedTransferSyntaxError(
            f"no installed decoder handles this pixel data: {exc}",
            path=path,
            tag="(0002,0010) TransferSyntaxUID",
            value=tsuid,
        ) from exc
    except (EOFError, OSError) as exc:
        raise TruncatedFileError(f"pixel data unreadable: {exc}", path=path) from exc
    except (ValueError, AttributeError, KeyError, TypeError) as exc:
        raise InputError(
            f"pixel data cannot be decoded: {exc}", path=path, tag="(7FE0,0010) PixelData"
        ) from exc
    nframes = int(ds.get("NumberOfFrames", 1) or 1)
    if nframes == 1 and arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3:
        raise InputError(
            "pixel data is not greyscale frames", path=path, value=f"array shape {arr.shape}"
        )
    return np.asarray(arr)


def _read_native(frame: FrameRef, out: np.ndarray) -> None:
    h = frame.header
    if h.pixel_offset is None:
        raise InputError("no native pixel offset", path=h.path)
    try:
        with open(h.path, "rb", buffering=0) as fp:
            fp.seek(h.pixel_offset)
            view = memoryview(out.data).cast("B")
            got = fp.readinto(view)
    except OSError as exc:
        raise TruncatedFileError(f"cannot read pixel data: {exc}", path=h.path) from exc
    if got != out.nbytes:
        raise TruncatedFileError(
            f"pixel data cut short: {got} of {out.nbytes} bytes",
            path=h.path,
            tag="(7FE0,0010) PixelData",
        )
    _fix_bits(out, h)


def read_frames(
    frames: Sequence[FrameRef],
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Stored values of ``frames`` as one array ``(n, rows, cols)``, in the given order."""
    h0 = frames[0].header
    dtypes = {stored_dtype(f.header) for f in frames}
    dtype = np.result_type(*dtypes) if len(dtypes) > 1 else dtypes.pop()
    out = np.empty((len(frames), h0.rows, h0.columns), dtype=dtype.newbyteorder("="))
    decoded: dict[str, np.ndarray] = {}
    lock = threading.Lock()

    def one(k: int) -> None:
        frame = frames[k]
        h = frame.header
        if h.pixel_offset is not None and stored_dtype(h) == out.dtype:
            _read_native(frame, out[k])
        else:
            with lock:
                arr = decoded.get(h.path)
                if arr is None:
                    arr = decode_file(h.path)
                    decoded[h.path] = arr
            if frame.frame >= arr.shape[0] or arr.shape[1:] != out.shape[1:]:
                raise InputError(
                    f"frame {frame.frame + 1} of shape {arr.shape[1:]} does not fit the stack "
                    f"{out.shape[1:]}",
                    path=h.path,
                )
            out[k] = arr[frame.frame]
        if progress is not None:
            progress(1)

    def run(ks: range) -> None:
        for k in ks:
            one(k)

    n = len(frames)
    if workers > 1 and n > 8:
        # One contiguous run of frames per thread: file reads release the GIL, and a
        # task per frame would cost more in scheduling than the read itself.
        bounds = [round(n * w / workers) for w in range(workers + 1)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run, [range(a, b) for a, b in itertools.pairwise(bounds)]))
    else:
        run(range(n))
    return out
