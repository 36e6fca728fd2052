"""Two charts of a patient's course, rendered to PNG bytes (matplotlib, Agg canvas).

* :func:`trajectory_chart`: each tracked lesion's RECIST diameter (long axis, short
  axis for nodes) against the study date.
* :func:`waterfall_chart`: each lesion's best (smallest) diameter change from its
  first measurement, sorted, with the RECIST 1.1 lines at -30 % (partial response)
  and +20 % (progression; per-lesion figures are illustrative, the categories
  themselves apply to the sum of diameters).

The figures are drawn on a private Agg canvas (no pyplot state, no display), and
returned as bytes; the caller writes them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateFormatter, AutoDateLocator, date2num
from matplotlib.figure import Figure

from radcycle.longitudinal.trajectories import Trajectory

__all__ = ["trajectory_chart", "waterfall_chart"]

# RECIST 1.1 section 4.3.1: PR at -30 % of the baseline sum, PD at +20 % of the nadir.
_PR_PCT = -30.0
_PD_PCT = 20.0
_SUM_LABEL = "sum of diameters"


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def trajectory_chart(trajectories: Sequence[Trajectory], title: str = "") -> bytes:
    """PNG of diameter against date, one line per tracked lesion."""
    figure = Figure(figsize=(8, 5))
    ax = figure.add_subplot()
    for traj in trajectories:
        pts = [(p.date, p.diameter_mm) for p in traj.points if p.diameter_mm is not None]
        if not pts:
            continue
        axis = "short axis" if traj.is_lymph_node else "long axis"
        ax.plot(
            date2num([d for d, _ in pts]),
            np.array([v for _, v in pts], dtype=np.float64),
            marker="o",
            label=f"{traj.tracking_identifier} ({traj.organ or 'lesion'}, {axis})",
        )
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(AutoDateFormatter(locator))
    ax.set_xlabel("study date")
    ax.set_ylabel("diameter (mm)")
    ax.set_title(title or "Lesion trajectories")
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(fontsize="small")
    figure.autofmt_xdate()
    return _png(figure)


def waterfall_chart(
    trajectories: Sequence[Trajectory], title: str = "", sum_best_pct: float | None = None
) -> bytes:
    """PNG of each lesion's best diameter change from baseline, largest increase first.

    ``sum_best_pct``, where given, adds the patient's bar: the best change of the
    RECIST sum of diameters (hatched), the figure the response categories use.
    """
    bars = sorted(
        (
            (traj.best_change_pct, traj.tracking_identifier)
            for traj in trajectories
            if traj.best_change_pct is not None
        ),
        reverse=True,
    )
    if sum_best_pct is not None:
        bars = sorted([*bars, (sum_best_pct, _SUM_LABEL)], reverse=True)
    figure = Figure(figsize=(8, 5))
    ax = figure.add_subplot()
    values = [v for v, _ in bars]
    colours = [
        "tab:red" if v >= _PD_PCT else "tab:green" if v <= _PR_PCT else "tab:gray" for v in values
    ]
    drawn = ax.bar(range(len(values)), values, color=colours)
    for patch, (_, name) in zip(drawn, bars, strict=True):
        if name == _SUM_LABEL:
            patch.set_hatch("//")
            patch.set_edgecolor("black")
    ax.set_xticks(range(len(values)), [name for _, name in bars], rotation=45, ha="right")
    ax.axhline(_PR_PCT, color="tab:green", linestyle="--", label="-30 % (RECIST 1.1 PR)")
    ax.axhline(_PD_PCT, color="tab:red", linestyle="--", label="+20 % (RECIST 1.1 PD)")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_ylabel("best change from baseline (%)")
    ax.set_title(title or "Best response per lesion")
    ax.legend(fontsize="small")
    return _png(figure)
