"""A chest CT phantom in body coordinates, rendered one axial slice at a time.

Body coordinates are LPS millimetres (x to the patient's left, y posterior, z
superior) with the origin on the midline at the level of the carina. Every organ
is an analytic shape whose in-plane part depends only on ``(x, y)``; so the
renderer computes the in-plane fields once per scan (:class:`PlaneFields`) and each
slice only compares them with thresholds that depend on ``z``. The same functions
answer point queries (:meth:`Anatomy.region_at`), which the vessel trees and the
lesion placement use, so what is rendered and what is queried never disagree.

Attenuation values are typical non-contrast CT numbers (Hounsfield units): air
-1000, lung parenchyma about -850, fat about -100, soft tissue 30 to 60, blood
about 45, cancellous bone 200 to 400, cortical bone about 1000.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = ["HU", "LABELS", "Anatomy", "PlaneFields", "Region"]

FloatArray = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

# Tissue attenuation, HU (typical non-contrast chest CT numbers).
HU: dict[str, float] = {
    "air": -1000.0,
    "fat": -100.0,
    "mediastinal_fat": -85.0,
    "muscle": 50.0,
    "soft": 35.0,
    "lung": -860.0,
    "blood": 45.0,
    "myocardium": 40.0,
    "liver": 58.0,
    "airway_wall": 30.0,
    "airway_lumen": -990.0,
    "cortical": 1000.0,
    "cancellous": 350.0,
    "rib_cortex": 800.0,
    "rib_marrow": 220.0,
    "disc": 90.0,
    "csf": 15.0,
    "sternum": 450.0,
    "sternum_marrow": 200.0,
    "fissure": -650.0,
    "emphysema": -965.0,
}

# Codes of the 3D label volume that tubes (vessels, airways, ribs) are splatted
# into; higher codes are painted later and win where tubes overlap.
LABELS: dict[str, int] = {
    "emphysema": 1,
    "vessel": 2,
    "airway_wall": 3,
    "airway_lumen": 4,
    "great_vessel": 5,
    "rib_cortex": 6,
    "rib_marrow": 7,
}


_FISSURE_HALF_MM = 0.5
_MAJOR_SLOPE = 1.1  # dz/dy of the oblique fissure
_MAJOR_STRETCH = float(np.sqrt(1.0 + _MAJOR_SLOPE**2))  # its half-thickness measured along z

_PART_HU = {
    "body": np.float32(HU["fat"]),
    "muscle": np.float32(HU["muscle"]),
    "cavity": np.float32(HU["soft"]),
    "mediastinal_fat": np.float32(HU["mediastinal_fat"]),
    "liver": np.float32(HU["liver"]),
}


def _paint(out: F32, value: float, where: BoolArray) -> None:
    np.copyto(out, np.float32(value), where=where)


class Region:
    """Codes returned by :meth:`Anatomy.region_at`."""

    OUTSIDE = 0
    RIGHT_LUNG = 1
    LEFT_LUNG = 2
    MEDIASTINUM = 3
    LIVER = 4
    OTHER = 5


@dataclass(frozen=True)
class Tube:
    """A vertical cylinder: centre (x, y), radius, and the z range it spans."""

    x: float
    y: float
    radius: float
    z_low: float
    z_high: float


@dataclass(frozen=True)
class Anatomy:
    """Shape parameters of one synthetic patient (mm, body coordinates).

    Args:
        scale_lr: left-right size factor of the whole chest.
        scale_ap: antero-posterior size factor.
        fat_mm: subcutaneous fat thickness.
        seed_shift: small z shift of the diaphragm domes (breath hold depth).
        emphysema: whether the upper lungs carry centrilobular emphysema.
    """

    scale_lr: float = 1.0
    scale_ap: float = 1.0
    fat_mm: float = 14.0
    seed_shift: float = 0.0
    emphysema: bool = False
    wall_mm: float = 16.0
    centre_y: float = 10.0
    midline_x: float = 4.0
    lung_x: float = 74.0
    lung_y: float = 14.0
    lung_ax: float = 72.0
    lung_ay: float = 95.0
    apex_z: tuple[float, float] = (82.0, 77.0)  # right, left
    apex_depth: float = 115.0
    dome_z: tuple[float, float] = (-128.0, -142.0)  # right, left
    dome_depth: float = 85.0
    spine_y: float = 64.0
    vertebra_r: float = 17.0
    heart_centre: tuple[float, float, float] = (24.0, -20.0, -112.0)
    heart_axes: tuple[float, float, float] = (56.0, 43.0, 44.0)
    heart_angle: float = -0.6
    trachea: Tube = field(default_factory=lambda: Tube(0.0, 16.0, 10.0, 0.0, 400.0))
    oesophagus: Tube = field(default_factory=lambda: Tube(9.0, 37.0, 8.0, -200.0, 400.0))
    aorta_desc: Tube = field(default_factory=lambda: Tube(25.0, 48.0, 12.0, -400.0, 28.0))
    aorta_asc: Tube = field(default_factory=lambda: Tube(-8.0, -14.0, 15.0, -80.0, 28.0))
    svc: Tube = field(default_factory=lambda: Tube(-36.0, -10.0, 10.0, -75.0, 60.0))
    sternum_z: tuple[float, float] = (-125.0, 45.0)

    # --- profiles along z -------------------------------------------------
    def body_axes(self, z: float | FloatArray) -> tuple[FloatArray, FloatArray]:
        """Semi-axes (left-right, antero-posterior) of the skin outline at ``z``."""
        knots = (-260.0, -160.0, -80.0, 0.0, 60.0, 140.0)
        a = np.interp(z, knots, (150.0, 157.0, 160.0, 158.0, 150.0, 130.0)) * self.scale_lr
        b = np.interp(z, knots, (112.0, 111.0, 108.0, 104.0, 98.0, 86.0)) * self.scale_ap
        return np.asarray(a), np.asarray(b)

    @property
    def carina(self) -> FloatArray:
        """The carina (tracheal bifurcation), a landmark, in body coordinates."""
        return np.array([self.trachea.x, self.trachea.y, 0.0])

    @property
    def hila(self) -> dict[str, FloatArray]:
        """Where each main bronchus enters its lung (body coordinates)."""
        return {
            "right": np.array([-40.0 * self.scale_lr, 19.0, -24.0]),
            "left": np.array([44.0 * self.scale_lr, 21.0, -40.0]),
        }

    def lung_z_range(self) -> tuple[float, float]:
        """Lowest (costophrenic recess) and highest (apex) z of the lungs."""
        low = min(self.dome_z) + self.seed_shift - self.dome_depth
        return (low, max(self.apex_z))

    # --- in-plane fields ----------------------------------------------------
    def plane_fields(self, x: FloatArray, y: FloatArray) -> PlaneFields:
        """Everything that depends only on ``(x, y)``, for arrays of any shape."""
        return PlaneFields.build(self, np.asarray(x, np.float64), np.asarray(y, np.float64))

    # --- rendering ------------------------------------------------------------
    def render_slice(self, f: PlaneFields, z: float, labels: npt.NDArray[np.uint8]) -> F32:
        """HU image (float32) of the axial plane at body height ``z``.

        Args:
            f: in-plane fields of the pixel grid (body coordinates).
            z: body z of the plane, mm.
            labels: the splatted tube labels of this slice (``LABELS`` codes).
        """
        out = np.full(f.shape, HU["air"], dtype=np.float32)
        parts = self.masks(f, z)
        for name in ("body", "muscle", "cavity", "mediastinal_fat", "liver"):
            np.copyto(out, _PART_HU[name], where=parts[name])
        self._paint_heart(out, f, z)
        self._paint_tubes(out, f, z)
        self._paint_bone(out, f, z, parts["muscle"])
        lung = parts["lung"]
        np.copyto(out, f.lung_hu, where=lung)
        _paint(out, HU["fissure"], lung & self._fissures(f, z))
        self._paint_labels(out, labels, lung, parts["mediastinal_fat"], parts["cavity"])
        return out

    def masks(self, f: PlaneFields, z: float | FloatArray) -> dict[str, BoolArray]:
        """Boolean masks of the large compartments at height ``z``."""
        a, b = self.body_axes(z)
        if np.ndim(z) == 0:  # one plane: plain floats keep the float32 fields float32
            a, b, z = float(a), float(b), float(z)  # type: ignore[assignment]
        body = f.squircle(a, b, 0.45) <= 1.0
        muscle = f.squircle(a - self.fat_mm, b - self.fat_mm, 0.45) <= 1.0
        inner = self.fat_mm + self.wall_mm
        cavity = f.squircle(a - inner, b - inner, 0.35) <= 1.0
        above = f.z_dia < z
        thorax = cavity & above
        mediastinal_fat = thorax & f.band
        excluded = f.spine_zone | f.band | self._tube_zone(f, z)
        lung = thorax & (z < f.z_top) & ~excluded
        dz2 = ((z - self.heart_centre[2]) / self.heart_axes[2]) ** 2
        if np.ndim(z) != 0 or dz2 <= 1.15**2:
            lung &= f.heart_q + dz2 > 1.15**2
        liver = cavity & ~above & (f.x < 25.0 * self.scale_lr) & ~f.spine_zone
        return {
            "body": body,
            "muscle": muscle,
            "cavity": cavity,
            "mediastinal_fat": mediastinal_fat & ~lung,
            "lung": lung,
            "liver": liver,
        }

    def _tube_zone(self, f: PlaneFields, z: float | FloatArray) -> BoolArray:
        zone = np.zeros(f.shape, dtype=bool)
        for tube, margin in f.tube_margin.items():
            spec: Tube = getattr(self, tube)
            if np.ndim(z) == 0:
                if spec.z_low <= z <= spec.z_high:
                    zone |= margin
                continue
            zone |= margin & (z >= spec.z_low) & (z <= spec.z_high)
        return zone

    def _paint_heart(self, out: F32, f: PlaneFields, z: float) -> None:
        dz2 = ((z - self.heart_centre[2]) / self.heart_axes[2]) ** 2
        if dz2 > 1.15**2:
            return
        hz = f.heart_q + dz2
        _paint(out, HU["mediastinal_fat"], hz <= 1.15**2)
        _paint(out, HU["myocardium"], hz <= 1.0)
        _paint(out, HU["blood"], hz <= 0.72**2)

    def _paint_tubes(self, out: F32, f: PlaneFields, z: float) -> None:
        for name in ("aorta_desc", "aorta_asc", "svc", "oesophagus"):
            spec: Tube = getattr(self, name)
            if spec.z_low <= z <= spec.z_high:
                _paint(out, HU["blood"], f.tube_d2[name] <= spec.radius**2)
        oes = self.oesophagus
        if oes.z_low <= z <= oes.z_high:
            _paint(out, HU["soft"], f.tube_d2["oesophagus"] <= oes.radius**2)
            _paint(out, HU["air"], f.tube_d2["oesophagus"] <= 2.0**2)
        tr = self.trachea
        if tr.z_low <= z <= tr.z_high:
            _paint(out, HU["airway_wall"], f.tube_d2["trachea"] <= tr.radius**2)
            _paint(out, HU["airway_lumen"], f.tube_d2["trachea"] <= (tr.radius - 2.0) ** 2)

    def _paint_bone(self, out: F32, f: PlaneFields, z: float, muscle: BoolArray) -> None:
        # Vertebrae: 24 mm bodies separated by 6 mm discs (adult thoracic spine).
        in_disc = (z % 30.0) < 6.0
        r = self.vertebra_r
        if in_disc:
            _paint(out, HU["disc"], f.spine_d2 <= r**2)
        else:
            _paint(out, HU["cortical"], f.spine_d2 <= r**2)
            _paint(out, HU["cancellous"], f.spine_d2 <= (r - 1.6) ** 2)
            _paint(out, HU["cortical"] * 0.75, f.posterior_elements & muscle)
        _paint(out, HU["csf"], f.canal)
        if self.sternum_z[0] <= z <= self.sternum_z[1]:
            _paint(out, HU["sternum"], f.sternum)
            _paint(out, HU["sternum_marrow"], f.sternum_inner)

    @staticmethod
    def _paint_labels(
        out: F32,
        labels: npt.NDArray[np.uint8],
        lung: BoolArray,
        mediastinum: BoolArray,
        cavity: BoolArray,
    ) -> None:
        if not labels.any():
            return
        _paint(out, HU["emphysema"], (labels == LABELS["emphysema"]) & lung)
        airspace = lung | mediastinum
        vessel = (labels == LABELS["vessel"]) & airspace
        _paint(out, HU["blood"], vessel)
        _paint(out, HU["airway_wall"], (labels == LABELS["airway_wall"]) & airspace)
        _paint(out, HU["airway_lumen"], (labels == LABELS["airway_lumen"]) & cavity)
        _paint(out, HU["blood"], (labels == LABELS["great_vessel"]) & cavity)
        _paint(out, HU["rib_cortex"], labels == LABELS["rib_cortex"])
        _paint(out, HU["rib_marrow"], labels == LABELS["rib_marrow"])

    # --- point queries ----------------------------------------------------------
    def region_at(self, points: npt.ArrayLike) -> npt.NDArray[np.int8]:
        """Region code (:class:`Region`) of each ``(N, 3)`` body-coordinate point."""
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        f = self.plane_fields(pts[:, 0], pts[:, 1])
        z = pts[:, 2]
        parts = self.masks(f, z)
        out = np.full(len(pts), Region.OUTSIDE, dtype=np.int8)
        out[parts["body"]] = Region.OTHER
        out[parts["mediastinal_fat"]] = Region.MEDIASTINUM
        out[parts["liver"]] = Region.LIVER
        lung = parts["lung"]
        right = f.x < self.midline_x
        out[lung & right] = Region.RIGHT_LUNG
        out[lung & ~right] = Region.LEFT_LUNG
        return out

    # Interlobar fissures: the oblique (major) fissure rises from the front of the
    # diaphragm to the back of the upper chest; the right horizontal (minor) fissure
    # separates the middle lobe from the upper lobe, in front of the major one.
    def _fissures(self, f: PlaneFields, z: float) -> BoolArray:
        """Thin sheets (about 1 mm) along the fissure surfaces, at height ``z``."""
        major = np.abs(z - f.major_fissure_z) < _FISSURE_HALF_MM * _MAJOR_STRETCH
        minor = (
            f.right & (np.abs(z - f.minor_fissure_z) < _FISSURE_HALF_MM) & (z > f.major_fissure_z)
        )
        result: BoolArray = major | minor
        return result

    def fissure_offsets(self, points: npt.ArrayLike) -> FloatArray:
        """Signed distances (mm) of body points to the major and minor fissure surfaces.

        Returns ``(N, 2)``: column 0 the oblique (major) fissure, column 1 the right
        horizontal (minor) one, positive above the surface; NaN where that fissure
        does not run (the minor one only in the right lung above the major one).
        """
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        f = self.plane_fields(pts[:, 0], pts[:, 1])
        z = pts[:, 2]
        major = (z - f.major_fissure_z) / _MAJOR_STRETCH
        # the minor surface is nearly level (slopes 0.12 and 0.1): z offset ~ distance
        minor = np.where(f.right & (z > f.major_fissure_z), z - f.minor_fissure_z, np.nan)
        return np.stack([major, minor], axis=1)

    def lobe_at(self, points: npt.ArrayLike) -> list[str | None]:
        """Lobe (``RUL``, ``RML``, ``RLL``, ``LUL``, ``LLL``) of each lung point, else None."""
        pts = np.atleast_2d(np.asarray(points, dtype=np.float64))
        f = self.plane_fields(pts[:, 0], pts[:, 1])
        regions = self.region_at(pts)
        out: list[str | None] = []
        for n, region in enumerate(regions):
            z = pts[n, 2]
            lower = z < f.major_fissure_z[n]
            if region == Region.RIGHT_LUNG:
                out.append("RLL" if lower else ("RML" if z < f.minor_fissure_z[n] else "RUL"))
            elif region == Region.LEFT_LUNG:
                out.append("LLL" if lower else "LUL")
            else:
                out.append(None)
        return out

    def zone_of(self, z: float) -> str:
        """Lung zone (upper / middle / lower third of the lungs' height) of body ``z``."""
        low, high = self.lung_z_range()
        t = (z - low) / (high - low)
        return "lower" if t < 1 / 3 else ("middle" if t < 2 / 3 else "upper")


@dataclass(frozen=True, eq=False)
class PlaneFields:
    """Per-pixel quantities of an axial grid that do not depend on ``z``."""

    x: FloatArray
    x2: FloatArray
    yc2: FloatArray
    z_top: FloatArray
    z_dia: FloatArray
    band: BoolArray
    spine_zone: BoolArray
    spine_d2: FloatArray
    canal: BoolArray
    posterior_elements: BoolArray
    heart_q: FloatArray
    tube_d2: dict[str, FloatArray]
    tube_margin: dict[str, BoolArray]
    sternum: BoolArray
    sternum_inner: BoolArray
    lung_hu: F32
    right: BoolArray
    major_fissure_z: F32
    minor_fissure_z: F32

    @property
    def shape(self) -> tuple[int, ...]:
        return self.x.shape

    def squircle(self, a: FloatArray, b: FloatArray, k: float) -> FloatArray:
        """``u + v - k u v`` with ``u = (x/a)^2``, ``v = ((y - yc)/b)^2``: a rounded box."""
        u = self.x2 / (a * a)
        v = self.yc2 / (b * b)
        result: FloatArray = u + v - k * u * v
        return result

    @classmethod
    def build(cls, anat: Anatomy, x: FloatArray, y: FloatArray) -> PlaneFields:
        right = x < anat.midline_x
        cx = np.where(right, -anat.lung_x, anat.lung_x) * anat.scale_lr
        ax = anat.lung_ax * anat.scale_lr
        ay = anat.lung_ay * anat.scale_ap
        dy2 = ((y - anat.lung_y) / ay) ** 2
        r2 = ((x - cx) / ax) ** 2 + dy2
        apex = np.where(right, anat.apex_z[0], anat.apex_z[1])
        z_top = apex - anat.apex_depth * r2
        # The domes are flatter towards the midline (central tendon under the heart).
        lateral = np.abs(x) > np.abs(cx)
        dx_scale = np.where(lateral, ax, 2.0 * ax)
        rd2 = ((x - cx) / dx_scale) ** 2 + dy2
        dome = np.where(right, anat.dome_z[0], anat.dome_z[1]) + anat.seed_shift
        z_dia = dome - anat.dome_depth * rd2
        # Mediastinum: a band about the midline, widest around the trachea and aorta.
        half_width = 16.0 + 14.0 * np.exp(-(((y - 20.0) / 38.0) ** 2))
        band = np.abs(x - anat.midline_x) < half_width * anat.scale_lr
        spine_d2 = x**2 + (y - anat.spine_y) ** 2
        canal_y = anat.spine_y + anat.vertebra_r + 9.0
        canal = x**2 + (y - canal_y) ** 2 <= 8.0**2
        posterior = ((np.abs(x) <= 5.0) & (y > canal_y + 6.0) & (y < canal_y + 26.0)) | (
            (np.abs(x) <= 30.0) & (np.abs(y - canal_y) <= 4.0) & (np.abs(x) >= 7.0)
        )
        spine_zone = (spine_d2 <= (anat.vertebra_r + 9.0) ** 2) | (
            (np.abs(x) <= 34.0) & (y > anat.spine_y)
        )
        hx, hy, _ = anat.heart_centre
        c, s = np.cos(anat.heart_angle), np.sin(anat.heart_angle)
        u = (c * (x - hx) + s * (y - hy)) / anat.heart_axes[0]
        v = (-s * (x - hx) + c * (y - hy)) / anat.heart_axes[1]
        tubes = {}
        for name in ("trachea", "oesophagus", "aorta_desc", "aorta_asc", "svc"):
            spec: Tube = getattr(anat, name)
            tubes[name] = (x - spec.x * anat.scale_lr) ** 2 + (y - spec.y) ** 2
        _, b0 = anat.body_axes(0.0)
        front = anat.centre_y - (b0 - anat.fat_mm - anat.wall_mm)
        sternum = (np.abs(x) <= 15.0) & (y >= front - 12.0) & (y <= front)
        sternum_inner = (np.abs(x) <= 13.0) & (y >= front - 10.0) & (y <= front - 2.0)
        # Dependent lung is denser (gravity gradient, patient supine): up to +40 HU.
        gradient = 40.0 * np.clip((y - anat.lung_y + ay) / (2 * ay), 0.0, 1.0)
        margins = {
            name: d2 <= (getattr(anat, name).radius + 3.0) ** 2 for name, d2 in tubes.items()
        }
        f32 = np.float32
        return cls(
            x=x.astype(f32),
            x2=(x * x).astype(f32),
            yc2=((y - anat.centre_y) ** 2).astype(f32),
            z_top=z_top.astype(f32),
            z_dia=z_dia.astype(f32),
            band=band,
            spine_zone=spine_zone,
            spine_d2=spine_d2.astype(f32),
            canal=canal,
            posterior_elements=posterior & ~canal,
            heart_q=(u * u + v * v).astype(f32),
            tube_d2={name: d2.astype(f32) for name, d2 in tubes.items()},
            tube_margin=margins,
            sternum=sternum,
            sternum_inner=sternum_inner,
            lung_hu=(HU["lung"] + gradient).astype(f32),
            right=right,
            major_fissure_z=(-45.0 + _MAJOR_SLOPE * (y - anat.lung_y)).astype(f32),
            # Slightly tilted (down laterally and forwards), so it shows as a line.
            minor_fissure_z=(-30.0 - 0.12 * np.abs(x) + 0.1 * y).astype(f32),
        )
