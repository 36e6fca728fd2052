"""Key image of a lesion: the axial slice of its RECIST long axis, outline and axes drawn.

The slice is the one whose long axis is the lesion's (as
:func:`radcycle.imaging.measurement.recist_slice` picks it), cropped around the
lesion, shown in radiological convention (patient's right on the image's left,
anterior at the top, for an axial LPS grid) with true millimetre aspect, in a
lung window (W 1500 / L -600) for lung lesions and a soft-tissue window
(W 400 / L 40) otherwise. The outline is the mask's iso-0.5 contour; the long
axis is drawn solid, the short axis dashed. Drawn on a private Agg canvas.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from skimage import measure

from radcycle.domain import Volume
from radcycle.domain.facts import Lesion
from radcycle.domain.measurement import MEASURED, MeasurementName
from radcycle.errors import InputError
from radcycle.imaging.masks import array_spacing
from radcycle.imaging.measurement import axial_axis_ends, recist_slice
from radcycle.reporting.export.codes import DRAFT_NOTICE

__all__ = [
    "LUNG_WINDOW",
    "SOFT_TISSUE_WINDOW",
    "KeyImage",
    "key_image_for",
    "key_image_png",
    "lesion_label",
]

#: (width, level) in HU.
LUNG_WINDOW = (1500.0, -600.0)
SOFT_TISSUE_WINDOW = (400.0, 40.0)
# Context shown around the lesion, at least this many mm on each side.
_MARGIN_MM = 25.0


@dataclass(frozen=True)
class KeyImage:
    """A rendered key image and where it was taken.

    Args:
        png: the image, PNG bytes.
        slice_index: ``k`` of the axial slice shown.
        caption: what it shows, in words.
    """

    png: bytes
    slice_index: int
    caption: str


def _crop(plane: npt.NDArray[np.bool_], spacing: tuple[float, float]) -> tuple[slice, slice]:
    """Rows and columns of the lesion with its size, and at least 25 mm, around it."""
    out = []
    for axis in range(2):
        where = np.flatnonzero(plane.any(axis=1 - axis))
        start, stop = int(where[0]), int(where[-1]) + 1
        pad = max(int(np.ceil(_MARGIN_MM / spacing[axis])), stop - start)
        out.append(slice(max(0, start - pad), min(plane.shape[axis], stop + pad)))
    return out[0], out[1]


def key_image_png(
    volume: Volume,
    mask: npt.NDArray[np.bool_],
    *,
    label: str,
    window: tuple[float, float] = LUNG_WINDOW,
    notice: str = DRAFT_NOTICE,
) -> KeyImage:
    """Render the key image of one lesion.

    Args:
        volume: the image (CT in HU).
        mask: the lesion's mask ``[k, j, i]`` on the volume's grid.
        label: the title (tracking identifier, site, sizes ...), shown as given.
        window: display (width, level): :data:`LUNG_WINDOW` or
            :data:`SOFT_TISSUE_WINDOW`.
        notice: the line under the image: the draft notice until the report is signed.

    Raises:
        InputError: the mask is not on the volume's grid, or is empty.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != volume.array.shape:
        raise InputError("the mask is not on the image grid", value=mask.shape)
    if not mask.any():
        raise InputError(f"the mask of {label} is empty")
    dk, dj, di = array_spacing(volume)
    k = recist_slice(mask, (dk, dj, di))
    plane = mask[k]
    rows, cols = _crop(plane, (dj, di))
    image = np.asarray(volume.array[k][rows, cols], dtype=np.float64)
    sub = plane[rows, cols]
    (la, lb), (sa, sb) = axial_axis_ends(sub, (dj, di))
    png = _draw(image, sub, ((la, lb), (sa, sb)), (dj, di), (label, window), notice)
    return KeyImage(png, int(k), f"{label}: axial slice {k + 1} of {mask.shape[0]}")


def _draw(
    image: npt.NDArray[np.float64],
    sub: npt.NDArray[np.bool_],
    axes: tuple[tuple[npt.NDArray[np.float64], ...], ...],
    spacing: tuple[float, float],
    text: tuple[str, tuple[float, float]],
    notice: str,
) -> bytes:
    label, (width, level) = text
    dj, di = spacing
    figure = Figure(figsize=(3.2, 3.4))
    ax = figure.add_subplot()
    extent = (-0.5 * di, (image.shape[1] - 0.5) * di, (image.shape[0] - 0.5) * dj, -0.5 * dj)
    ax.imshow(image, cmap="gray", vmin=level - width / 2, vmax=level + width / 2, extent=extent)
    for contour in measure.find_contours(np.pad(sub.astype(np.float64), 1), 0.5):
        ax.plot((contour[:, 1] - 1) * di, (contour[:, 0] - 1) * dj, color="#ffcc00", lw=1.2)
    for (a, b), style in zip(axes, ("-", "--"), strict=True):
        ax.plot([a[1] * di, b[1] * di], [a[0] * dj, b[0] * dj], style, color="#00e5ff", lw=1.4)
    ax.set_title(label, fontsize=8)
    ax.set_axis_off()
    figure.text(0.5, 0.02, notice, ha="center", fontsize=6, color="#b00020")
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def lesion_label(lesion: Lesion, time_point: str) -> str:
    """A key image's title: tracking identifier, site and RECIST axes at that time point.

    Example:
        >>> lesion_label(Lesion("L1", "2.25.1", laterality="right", lobe="RUL"), "t0")
        'L1 right RUL'
    """
    site = " ".join(w for w in (lesion.laterality, lesion.lobe or lesion.organ) if w)
    values = {m.name: m.value for m in lesion.at(time_point) if m.status == MEASURED}
    long_axis = values.get(MeasurementName.LONG_AXIS)
    short_axis = values.get(MeasurementName.SHORT_AXIS)
    size = ""
    if long_axis is not None and short_axis is not None:
        size = f", {long_axis:.1f} x {short_axis:.1f} mm"
    elif long_axis is not None:
        size = f", {long_axis:.1f} mm"
    return (
        f"{lesion.tracking_identifier} {site}".strip() + size + (f" ({time_point})" if size else "")
    )


def key_image_for(
    lesion: Lesion,
    volume: Volume,
    mask: npt.NDArray[np.bool_],
    time_point: str,
    notice: str = DRAFT_NOTICE,
) -> KeyImage:
    """The key image of a tracked lesion at one time point: labelled with
    :func:`lesion_label`, lung window for lung lesions, soft-tissue window otherwise."""
    window = LUNG_WINDOW if (lesion.organ or "").lower() == "lung" else SOFT_TISSUE_WINDOW
    return key_image_png(
        volume, mask, label=lesion_label(lesion, time_point), window=window, notice=notice
    )
