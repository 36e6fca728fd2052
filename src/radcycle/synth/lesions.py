"""Lesions of known type, size and position, their time course, and their rendering.

Each lesion is an ellipsoid whose in-plane axes are rotated about z (so its axial
cross-sections are ellipses with the same orientation and the RECIST long and
short axes are exactly twice its in-plane semi-axes) and whose third axis is
along z. Solid nodules carry a zero-mean lobulation of their surface (a few
per cent of the radius), which leaves the volume unchanged to first order.

Rendering is partial-volume aware: each voxel takes the fraction of it inside
the surface (from the signed distance to the surface over the voxel's extent
along the surface normal), so the 50 % iso-surface of the image is the true
surface and the sum of the fractions is the true volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from radcycle.synth.anatomy import Anatomy, Region

__all__ = ["KINDS", "LesionKind", "LesionSpec", "LesionState", "plan_lesions", "render_lesion"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LesionKind:
    """What a lesion type looks like and where it lives."""

    name: str
    organ: str
    hu: float
    core_hu: float | None = None
    lobulation: float = 0.0
    halo_hu: float | None = None
    halo_mm: float = 0.0


# Attenuation: solid nodules and lymph nodes are soft tissue (~35-40 HU),
# ground-glass opacity about -550 HU (Fleischner glossary: hazy increased
# attenuation that does not obscure vessels), liver metastases hypodense.
KINDS: dict[str, LesionKind] = {
    "solid": LesionKind("solid", "lung", 38.0, lobulation=0.03),
    "part-solid": LesionKind("part-solid", "lung", -500.0, core_hu=30.0),
    "ground-glass": LesionKind("ground-glass", "lung", -550.0),
    # A node sits in mediastinal fat: a fat rim keeps its outline visible where it
    # presses on the oesophagus, a vessel or the lung.
    "lymph-node": LesionKind("lymph-node", "lymph node", 38.0, halo_hu=-85.0, halo_mm=2.5),
    "liver": LesionKind("liver", "liver", 15.0),
}


@dataclass(frozen=True)
class LesionState:
    """A lesion at one time point: semi-axes (mm) and the solid-core fraction."""

    semi_axes: tuple[float, float, float]
    core_fraction: float = 0.0

    @property
    def present(self) -> bool:
        return self.semi_axes[0] > 0.0


@dataclass(frozen=True)
class LesionSpec:
    """One lesion over time, in body coordinates.

    Args:
        lesion_id: stable identifier (``"L1"``, ...).
        kind: key of :data:`KINDS`.
        centre: body-coordinate centre, mm.
        angle: in-plane orientation of the long axis (radians about z).
        states: one state per time point (zero axes where absent).
        appears: index of the first time point where it exists.
        side: ``"left"``, ``"right"`` or None; zone: lung zone or None.
        phases: phases of the lobulation harmonics.
        juxtapleural: whether it abuts the pleura (within 3 mm of the chest wall).
        perifissural: per time point, whether a fissure runs through it or within
            :data:`PERIFISSURAL_MM` of its surface (a lung lesion only).
        lobe: lobe of its centre (``RUL``, ``RML``, ``RLL``, ``LUL``, ``LLL``) or None.
    """

    lesion_id: str
    kind: str
    centre: tuple[float, float, float]
    angle: float
    states: tuple[LesionState, ...]
    appears: int
    side: str | None
    zone: str | None
    phases: tuple[float, float] = (0.0, 0.0)
    juxtapleural: bool = False
    lobe: str | None = None
    perifissural: tuple[bool, ...] = ()

    def status(self, t: int) -> str | None:
        """``"present"``, ``"new"``, ``"vanished"`` or None (not yet there) at time ``t``.

        Example:
            >>> grows, gone = LesionState((3.0, 2.0, 2.0)), LesionState((0.0, 0.0, 0.0))
            >>> spec = LesionSpec("L1", "solid", (0, 0, 0), 0.0, (gone, grows, gone), 1,
            ...                   "left", "upper")
            >>> [spec.status(t) for t in range(3)]
            [None, 'new', 'vanished']
        """
        if t < self.appears:
            return None
        if not self.states[t].present:
            return "vanished"
        return "new" if t == self.appears and t > 0 else "present"


# --- time course ----------------------------------------------------------------


def response_story(k: int, rng: np.random.Generator) -> list[float]:
    """Diameter factor of a responding lesion: treatment after baseline shrinks it,
    then it progresses (nadir at the first follow-up)."""
    shrink = rng.uniform(0.6, 0.72)
    regrow = rng.uniform(1.3, 1.45)
    factors = [1.0]
    for t in range(1, k):
        factors.append(shrink if t == 1 else factors[-1] * (regrow if t == 2 else 1.15))
    return factors


def _states(
    axes: FloatArray,
    factors: Sequence[float],
    core: Sequence[float] | None = None,
    cap: float = 20.0,
) -> tuple[LesionState, ...]:
    out = []
    for t, f in enumerate(factors):
        scaled = np.minimum(axes * f, cap) if f > 0 else np.zeros(3)
        semi = (float(scaled[0]), float(scaled[1]), float(scaled[2]))
        out.append(LesionState(semi, core[t] if core else 0.0))
    return tuple(out)


def _axes(rng: np.random.Generator, long_mm: float, short_ratio: tuple[float, float]) -> FloatArray:
    a = long_mm / 2.0
    b = a * rng.uniform(*short_ratio)
    c = a * rng.uniform(0.8, 1.0)
    return np.array([a, b, c])


@dataclass(frozen=True)
class _Draft:
    kind: str
    axes: FloatArray
    factors: list[float]
    appears: int = 0
    core: list[float] | None = None
    juxtapleural: bool = False
    station: FloatArray | None = None


def _drafts(k: int, rng: np.random.Generator) -> list[_Draft]:
    """The lesions of a patient and their stories (every kind of change when k >= 2)."""
    story = response_story(k, rng)
    new_at = min(2, k - 1)
    drafts = [
        _Draft("solid", _axes(rng, rng.uniform(20, 32), (0.7, 0.9)), story),
        _Draft(
            "part-solid",
            _axes(rng, rng.uniform(12, 20), (0.75, 0.95)),
            [1.1**t for t in range(k)],
            core=[min(0.45 + 0.08 * t, 0.8) for t in range(k)],
        ),
        _Draft(
            "ground-glass",
            _axes(rng, rng.uniform(8, 14), (0.75, 0.95)),
            [1.03**t for t in range(k)],
        ),
        _Draft("solid", _axes(rng, rng.uniform(4, 6), (0.8, 0.95)), [1.0] + [0.0] * (k - 1)),
        _Draft(
            "solid",
            _axes(rng, rng.uniform(7, 11), (0.6, 0.8)),
            [1.0, 0.85, 1.1, 1.25, 1.4][:k] + [1.5] * max(0, k - 5),
            juxtapleural=True,
        ),
        _Draft(
            "lymph-node", _axes(rng, rng.uniform(22, 28), (0.65, 0.8)), story, station=_STATIONS[0]
        ),
        _Draft(
            "lymph-node",
            _axes(rng, rng.uniform(14, 18), (0.65, 0.75)),
            [min(f, 1.0) for f in story],
            station=_STATIONS[1],
        ),
    ]
    if k >= 2:
        growth = [0.0] * new_at + [1.3**t for t in range(k - new_at)]
        drafts.append(_Draft("solid", _axes(rng, rng.uniform(6, 9), (0.75, 0.9)), growth, new_at))
    if rng.uniform() < 0.6:
        appears = new_at if k >= 3 else 0
        factors = [0.0] * appears + [1.25**t for t in range(k - appears)]
        drafts.append(
            _Draft("liver", _axes(rng, rng.uniform(12, 22), (0.75, 0.9)), factors, appears)
        )
    return drafts


# Mediastinal lymph node stations (IASLC map), body coordinates of a typical node:
# subcarinal (7) and right lower paratracheal (4R).
_STATIONS = (np.array([3.0, 24.0, -24.0]), np.array([-19.0, 6.0, 18.0]))


# --- placement --------------------------------------------------------------------


def _surface_points(
    centre: FloatArray, axes: FloatArray, angle: float, grow_mm: float
) -> FloatArray:
    """Points on the ellipsoid (enlarged by ``grow_mm``) in 26 directions."""
    g = np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1], indexing="ij"), -1).reshape(-1, 3)
    g = g[np.any(g != 0, axis=1)] / np.linalg.norm(g[np.any(g != 0, axis=1)], axis=1, keepdims=True)
    local = g * (axes + grow_mm)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    result: FloatArray = centre + local @ rot.T
    return result


def _fits(
    anat: Anatomy,
    centre: FloatArray,
    axes: FloatArray,
    angle: float,
    region: int,
    taken: list[tuple[FloatArray, float]],
) -> bool:
    if not np.all(anat.region_at(_surface_points(centre, axes, angle, 4.0)) == region):
        return False
    if anat.region_at(centre[None, :])[0] != region:
        return False
    return all(np.linalg.norm(centre - c) > axes.max() + r + 8.0 for c, r in taken)


def _perifissural(
    anat: Anatomy, centre: FloatArray, state: LesionState, angle: float, region: int
) -> bool:
    """A fissure surface passes through the lesion grown by :data:`PERIFISSURAL_MM`.

    The surface crosses the grown ellipsoid where the signed offsets of its
    points (sampled in :data:`_FISSURE_DIRECTIONS` directions, and its centre)
    take both signs within the lesion's lung.
    """
    if not state.present:
        return False
    local = _FISSURE_DIRECTIONS * (np.asarray(state.semi_axes) + PERIFISSURAL_MM)
    c, s = np.cos(angle), np.sin(angle)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    pts = np.vstack([centre, centre + local @ rot.T])
    pts = pts[anat.region_at(pts) == region]
    offsets = anat.fissure_offsets(pts)
    for column in offsets.T:
        column = column[np.isfinite(column)]
        if column.size and column.min() < 0.0 < column.max():
            return True
    return False


def _sphere_directions(n: int) -> FloatArray:
    """``n`` unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    phi = np.pi * (1.0 + np.sqrt(5.0)) * k
    r = np.sqrt(1.0 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


# A lung lesion is perifissural where a fissure runs within this distance (mm)
# of its surface: the fissure (about 1 mm thick) touches it, as Lung-RADS's
# "attached to a fissure" reads.
PERIFISSURAL_MM = 1.5
_FISSURE_DIRECTIONS = _sphere_directions(400)


def _juxtapleural(
    anat: Anatomy, centre: FloatArray, axes: FloatArray, angle: float, region: int
) -> bool:
    inner = anat.region_at(_surface_points(centre, axes, angle, 0.5))
    outer = anat.region_at(_surface_points(centre, axes, angle, 3.0))
    return bool(np.all(inner == region) and np.any(outer == Region.OTHER))


def _place(
    anat: Anatomy,
    rng: np.random.Generator,
    draft: _Draft,
    z_range: tuple[float, float],
    taken: list[tuple[FloatArray, float]],
) -> tuple[FloatArray, float, int] | None:
    axes = draft.axes * max(draft.factors) if draft.kind != "lymph-node" else draft.axes
    axes = np.minimum(axes, 20.0)
    margin = axes.max() + 6.0
    low, high = z_range[0] + margin, z_range[1] - margin
    if low >= high:
        return None
    region = Region.RIGHT_LUNG if rng.uniform() < 0.5 else Region.LEFT_LUNG
    for attempt in range(4000):
        if attempt == 2000:  # this lung has no room: try the other one
            region = Region.LEFT_LUNG if region == Region.RIGHT_LUNG else Region.RIGHT_LUNG
        angle = float(rng.uniform(0, np.pi))
        if draft.station is not None:
            centre = draft.station + rng.uniform(-2.0, 2.0, 3)
            if low <= centre[2] <= high:
                return centre, angle, Region.MEDIASTINUM
            return None
        if draft.kind == "liver":
            centre = np.array(
                [rng.uniform(-110, -30), rng.uniform(-40, 60), rng.uniform(low, high)]
            )
            if np.all(anat.region_at(_surface_points(centre, axes, angle, 8.0)) == Region.LIVER):
                return centre, angle, Region.LIVER
            continue
        sign = -1.0 if region == Region.RIGHT_LUNG else 1.0
        centre = np.array(
            [sign * rng.uniform(25, 130), rng.uniform(-70, 90), rng.uniform(low, high)]
        )
        if draft.juxtapleural:
            if _juxtapleural(anat, centre, axes, angle, region) and _fits_apart(
                centre, axes, taken
            ):
                return centre, angle, region
        elif _fits(anat, centre, axes, angle, region, taken):
            return centre, angle, region
    return None


def _fits_apart(
    centre: FloatArray, axes: FloatArray, taken: list[tuple[FloatArray, float]]
) -> bool:
    return all(np.linalg.norm(centre - c) > axes.max() + r + 8.0 for c, r in taken)


def plan_lesions(
    anat: Anatomy, rng: np.random.Generator, k: int, z_range: tuple[float, float]
) -> list[LesionSpec]:
    """Choose, place and give a time course to the lesions of one patient.

    Args:
        anat: the patient's anatomy.
        rng: the patient's random generator (deterministic per seed).
        k: number of time points.
        z_range: body z range every scan covers; lesions stay inside it.
    """
    specs: list[LesionSpec] = []
    taken: list[tuple[FloatArray, float]] = []
    for draft in _drafts(k, rng):
        placed = _place(anat, rng, draft, z_range, taken)
        if placed is None:
            continue
        centre, angle, region = placed
        taken.append((centre, float(np.minimum(draft.axes * max(draft.factors), 20.0).max())))
        in_lung = region in (Region.RIGHT_LUNG, Region.LEFT_LUNG)
        side = {Region.RIGHT_LUNG: "right", Region.LEFT_LUNG: "left"}.get(region)
        if draft.kind == "lymph-node":
            side = "right" if centre[0] < anat.midline_x - 6.0 else None
        states = _states(draft.axes, draft.factors, draft.core)
        specs.append(
            LesionSpec(
                lesion_id=f"L{len(specs) + 1}",
                kind=draft.kind,
                centre=(float(centre[0]), float(centre[1]), float(centre[2])),
                angle=angle,
                states=states,
                appears=draft.appears,
                side=side,
                zone=anat.zone_of(float(centre[2])) if in_lung else None,
                phases=(float(rng.uniform(0, 2 * np.pi)), float(rng.uniform(0, 2 * np.pi))),
                juxtapleural=draft.juxtapleural,
                lobe=anat.lobe_at(centre)[0] if in_lung else None,
                perifissural=tuple(
                    in_lung and _perifissural(anat, centre, state, angle, region)
                    for state in states
                ),
            )
        )
    return specs


# --- rendering ----------------------------------------------------------------------


def inside_fraction(
    local: FloatArray,
    axes: FloatArray,
    spacing: FloatArray,
    lobulation: float,
    phases: tuple[float, float],
) -> FloatArray:
    """Fraction of each voxel inside the (lobulated) ellipsoid.

    Args:
        local: (..., 3) voxel centres in the lesion frame (mm; axes along x, y, z).
        axes: semi-axes (mm). spacing: voxel size (mm) in the same frame.
        lobulation: relative amplitude of the surface modulation.
        phases: phases of the modulation harmonics.
    """
    u = local / axes
    rho = np.sqrt(np.sum(u * u, axis=-1))
    if lobulation > 0.0:
        phi = np.arctan2(u[..., 1], u[..., 0])
        sin_theta = np.sqrt(u[..., 0] ** 2 + u[..., 1] ** 2) / np.maximum(rho, 1e-9)
        g = np.cos(3 * phi + phases[0]) + 0.6 * np.cos(5 * phi + phases[1])
        rho = rho / (1.0 + lobulation * sin_theta**2 * g)
    grad = local / (axes * axes) / np.maximum(rho, 1e-9)[..., None]
    gnorm = np.maximum(np.linalg.norm(grad, axis=-1), 1e-9)
    distance = (rho - 1.0) / gnorm
    normal = grad / gnorm[..., None]
    # A voxel's extent along the normal (at the centre, where there is none: its smallest).
    extent = np.maximum(np.sum(np.abs(normal) * spacing, axis=-1), np.min(spacing))
    result: FloatArray = np.clip(0.5 - distance / extent, 0.0, 1.0)
    return result


def render_lesion(
    volume: npt.NDArray[np.float32],
    index_to_patient: FloatArray,
    centre: FloatArray,
    angle: float,
    state: LesionState,
    kind: LesionKind,
    phases: tuple[float, float],
) -> float:
    """Blend one lesion into a HU volume ``[k, j, i]`` on an axis-aligned grid.

    Args:
        volume: HU volume, modified in place.
        index_to_patient: 4x4 affine of the grid (axis-aligned: diagonal 3x3 part).
        centre: lesion centre in the grid's patient coordinates.
        angle: in-plane angle of the long axis in the grid's patient coordinates.
        state: sizes at this time point. kind: appearance. phases: lobulation phases.

    Returns:
        The rendered volume in mm3 (sum of voxel fractions times voxel volume).
    """
    axes = np.asarray(state.semi_axes)
    spacing = np.abs(np.diag(index_to_patient)[:3])
    origin = index_to_patient[:3, 3]
    reach = axes.max() * (1 + kind.lobulation * 2) + kind.halo_mm + spacing.max()
    lo = np.floor((centre - reach - origin) / spacing).astype(int)
    hi = np.ceil((centre + reach - origin) / spacing).astype(int) + 1
    shape_ijk = np.array(volume.shape[::-1])
    lo, hi = np.clip(lo, 0, shape_ijk), np.clip(hi, 0, shape_ijk)
    if np.any(hi <= lo):
        return 0.0
    grids = [origin[a] + spacing[a] * np.arange(lo[a], hi[a]) - centre[a] for a in range(3)]
    zz, yy, xx = np.meshgrid(grids[2], grids[1], grids[0], indexing="ij")
    c, s = np.cos(angle), np.sin(angle)
    local = np.stack([c * xx + s * yy, -s * xx + c * yy, zz], axis=-1)
    local_spacing = np.array([spacing[0], spacing[1], spacing[2]])
    box = volume[lo[2] : hi[2], lo[1] : hi[1], lo[0] : hi[0]]
    if kind.halo_hu is not None:
        halo = inside_fraction(local, axes + kind.halo_mm, local_spacing, 0.0, phases)
        box += (halo * (kind.halo_hu - box)).astype(np.float32)
    frac = inside_fraction(local, axes, local_spacing, kind.lobulation, phases)
    box += (frac * (kind.hu - box)).astype(np.float32)
    if kind.core_hu is not None and state.core_fraction > 0.0:
        core = inside_fraction(local, axes * state.core_fraction, local_spacing, 0.0, phases)
        box += (core * (kind.core_hu - box)).astype(np.float32)
    return float(frac.sum() * np.prod(spacing))
