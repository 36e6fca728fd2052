"""IBSI 1 morphological features (section 3.1), tags ``morph_*``.

Volume and area come from a marching-cubes mesh of the zero-padded ROI
morphological mask; Moran's I and Geary's C are computed exactly (every voxel
pair, inverse-distance weights) in O(n log n) with FFT convolutions, because
the weight only depends on the offset between two voxels of a regular grid.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import fft as sp_fft
from scipy import special
from scipy.spatial import ConvexHull
from skimage.measure import marching_cubes

from radcycle.imaging.radiomics.preprocess import Prepared

__all__ = ["morphology_features", "spatial_autocorrelation"]

FloatArray = npt.NDArray[np.float64]


def _mesh(mask: npt.NDArray[np.bool_], spacing: FloatArray) -> tuple[FloatArray, FloatArray]:
    padded = np.pad(mask.astype(np.float64), 1)
    verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=tuple(spacing))
    tri = verts[faces]
    return np.asarray(verts, dtype=np.float64), np.asarray(tri, dtype=np.float64)


def _mesh_volume_area(tri: FloatArray) -> tuple[float, float]:
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    volume = abs(float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum()) / 6.0)
    area = float(np.linalg.norm(np.cross(b - a, c - a), axis=1).sum() / 2.0)
    return volume, area


def _ellipsoid_area(a: float, b: float, c: float) -> float:
    """Surface of an ellipsoid, semi-axes a >= b >= c (IBSI 1: Legendre series, 20 terms)."""
    alpha = np.sqrt(max(1.0 - b**2 / a**2, 0.0))
    beta = np.sqrt(max(1.0 - c**2 / a**2, 0.0))
    if alpha * beta == 0.0:
        nu = np.arange(1)
        x = 1.0
    else:
        nu = np.arange(21)
        x = (alpha**2 + beta**2) / (2.0 * alpha * beta)
    terms = (alpha * beta) ** nu / (1.0 - 4.0 * nu**2) * special.eval_legendre(nu, x)
    return float(4.0 * np.pi * a * b * terms.sum())


def _circular_kernel(shape: tuple[int, ...], spacing: FloatArray) -> FloatArray:
    """Inverse distance (mm) of every offset, laid out for circular convolution.

    Index ``o`` stands for offset ``o`` (``o < n``) or ``o - L``: with a period
    ``L >= 2n - 1`` no pair of ROI voxels wraps around.
    """
    axes = []
    for n_len, s in zip(shape, spacing, strict=True):
        idx = np.arange(n_len)
        axes.append(np.where(idx < n_len // 2 + 1, idx, idx - n_len) * s)
    gz, gy, gx = np.meshgrid(*axes, indexing="ij", sparse=True)
    kernel: FloatArray = gz**2 + gy**2 + gx**2
    kernel[0, 0, 0] = np.inf
    np.sqrt(kernel, out=kernel)
    np.reciprocal(kernel, out=kernel)
    return kernel


def spatial_autocorrelation(
    image: FloatArray, roi: npt.NDArray[np.bool_], spacing: FloatArray
) -> tuple[float, float]:
    """Moran's I and Geary's C over all ROI voxel pairs, weights 1/distance (mm).

    Exact: the sums over all pairs are circular convolutions of the ROI arrays
    with the inverse-distance kernel, done with real FFTs of period >= 2n - 1.

    Returns:
        ``(moran_i, geary_c)``.
    """
    nz = np.nonzero(roi)
    box = tuple(slice(int(a.min()), int(a.max()) + 1) for a in nz)
    inside = roi[box]
    m = inside.astype(np.float64)
    n = float(m.sum())
    vals = image[box]
    dev = np.where(inside, vals - float(vals[inside].mean()), 0.0)
    period = tuple(sp_fft.next_fast_len(2 * k - 1, real=True) for k in m.shape)
    # The kernel is even (circularly), so its spectrum is real: keep half the memory.
    k_hat = np.ascontiguousarray(sp_fft.rfftn(_circular_kernel(period, spacing), period).real)
    crop = tuple(slice(0, k) for k in m.shape)

    def convolve(a: FloatArray) -> FloatArray:
        spectrum = sp_fft.rfftn(a, period)
        spectrum *= k_hat
        out: FloatArray = sp_fft.irfftn(spectrum, period)[crop].copy()
        return out

    conv_m = convolve(m)
    conv_dev = convolve(dev)
    w_sum = float((m * conv_m).sum())
    ss = float((dev**2).sum())
    if n < 2 or ss == 0.0 or w_sum == 0.0:
        return float("nan"), float("nan")
    cross = float((dev * conv_dev).sum())
    moran = n / w_sum * cross / ss
    squared_diff = 2.0 * float((dev**2 * conv_m).sum()) - 2.0 * cross
    geary = (n - 1.0) / (2.0 * w_sum) * squared_diff / ss
    return moran, geary


def _ratio(num: float, den: float) -> float:
    """``num / den``, NaN where the denominator vanishes (feature undefined)."""
    return float(num / den) if den > 0 else float("nan")


def _max_distance(points: FloatArray, chunk: int = 128) -> float:
    """Largest distance between any two points (chunked to bound memory)."""
    best = 0.0
    for start in range(0, len(points), chunk):
        block = points[start : start + chunk]
        d2 = ((block[:, None, :] - points[None, :, :]) ** 2).sum(axis=2)
        best = max(best, float(d2.max()))
    return float(np.sqrt(best))


def morphology_features(p: Prepared) -> dict[str, float]:
    """All ``morph_*`` features of IBSI 1 with a reference value."""
    verts, tri = _mesh(p.morph, p.spacing)
    volume, area = _mesh_volume_area(tri)
    n_vox = float(p.morph.sum())
    f: dict[str, float] = {
        "morph_volume": volume,
        "morph_vol_approx": n_vox * float(np.prod(p.spacing)),
        "morph_area_mesh": area,
        "morph_av": area / volume,
        "morph_comp_1": volume / (np.sqrt(np.pi) * area**1.5),
        "morph_comp_2": 36.0 * np.pi * volume**2 / area**3,
        "morph_sph_dispr": area / (36.0 * np.pi * volume**2) ** (1.0 / 3.0),
        "morph_sphericity": (36.0 * np.pi * volume**2) ** (1.0 / 3.0) / area,
        "morph_asphericity": (area**3 / (36.0 * np.pi * volume**2)) ** (1.0 / 3.0) - 1.0,
    }
    # Centre of mass shift: geometric (morph mask) vs intensity-weighted (ROI).
    pos_m = np.argwhere(p.morph) * p.spacing
    pos_i = np.argwhere(p.roi) * p.spacing
    weights = p.image[p.roi]
    com_geo = pos_m.mean(axis=0)
    com_int = (pos_i * weights[:, None]).sum(axis=0) / weights.sum()
    f["morph_com"] = float(np.linalg.norm(com_geo - com_int))
    hull = ConvexHull(verts)
    f["morph_diam"] = _max_distance(verts[hull.vertices])
    cov = np.cov(pos_m.T) if len(pos_m) > 1 else np.zeros((3, 3))
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    eig = np.maximum(eig, 0.0)
    major, minor, least = (float(e) for e in eig)
    f["morph_pca_maj_axis"] = 4.0 * np.sqrt(major)
    f["morph_pca_min_axis"] = 4.0 * np.sqrt(minor)
    f["morph_pca_least_axis"] = 4.0 * np.sqrt(least)
    f["morph_pca_elongation"] = _ratio(np.sqrt(minor), np.sqrt(major))
    f["morph_pca_flatness"] = _ratio(np.sqrt(least), np.sqrt(major))
    ext = verts.max(axis=0) - verts.min(axis=0)
    f["morph_vol_dens_aabb"] = volume / float(np.prod(ext))
    f["morph_area_dens_aabb"] = area / float(
        2.0 * (ext[0] * ext[1] + ext[0] * ext[2] + ext[1] * ext[2])
    )
    a, b, c = 2.0 * np.sqrt(major), 2.0 * np.sqrt(minor), 2.0 * np.sqrt(least)
    f["morph_vol_dens_aee"] = _ratio(volume, 4.0 * np.pi * a * b * c / 3.0)
    f["morph_area_dens_aee"] = _ratio(area, _ellipsoid_area(a, b, c) if a > 0 else 0.0)
    f["morph_vol_dens_conv_hull"] = volume / float(hull.volume)
    f["morph_area_dens_conv_hull"] = area / float(hull.area)
    f["morph_integ_int"] = volume * float(weights.mean())
    f["morph_moran_i"], f["morph_geary_c"] = spatial_autocorrelation(p.image, p.roi, p.spacing)
    return {k: float(v) for k, v in f.items()}
