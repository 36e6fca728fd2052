"""Translate peer feature names to IBSI reference tags, for scoring peers.

pyradiomics names map one to one where the definition matches an IBSI feature.
MIRP names are IBSI tags with parameter tokens (distance, coarseness,
discretisation) appended.
"""

from __future__ import annotations

import re

__all__ = ["mirp_to_ibsi", "pyradiomics_to_ibsi"]

_PYRAD_PLAIN = {
    "shape_MeshVolume": "morph_volume",
    "shape_VoxelVolume": "morph_vol_approx",
    "shape_SurfaceArea": "morph_area_mesh",
    "shape_SurfaceVolumeRatio": "morph_av",
    "shape_Sphericity": "morph_sphericity",
    "shape_Maximum3DDiameter": "morph_diam",
    "shape_MajorAxisLength": "morph_pca_maj_axis",
    "shape_MinorAxisLength": "morph_pca_min_axis",
    "shape_LeastAxisLength": "morph_pca_least_axis",
    "shape_Elongation": "morph_pca_elongation",
    "shape_Flatness": "morph_pca_flatness",
    "firstorder_Mean": "stat_mean",
    "firstorder_Variance": "stat_var",
    "firstorder_Skewness": "stat_skew",
    "firstorder_Kurtosis": "stat_kurt",
    "firstorder_Median": "stat_median",
    "firstorder_Minimum": "stat_min",
    "firstorder_10Percentile": "stat_p10",
    "firstorder_90Percentile": "stat_p90",
    "firstorder_Maximum": "stat_max",
    "firstorder_InterquartileRange": "stat_iqr",
    "firstorder_Range": "stat_range",
    "firstorder_MeanAbsoluteDeviation": "stat_mad",
    "firstorder_RobustMeanAbsoluteDeviation": "stat_rmad",
    "firstorder_Energy": "stat_energy",
    "firstorder_RootMeanSquared": "stat_rms",
    "firstorder_Entropy": "ih_entropy",
    "firstorder_Uniformity": "ih_uniformity",
}

# (pyradiomics class, IBSI family prefix, directional?, {name: stem}).
_PYRAD_TEXTURE = (
    (
        "glcm",
        "cm",
        True,
        {
            "Autocorrelation": "auto_corr", "JointAverage": "joint_avg",
            "ClusterProminence": "clust_prom", "ClusterShade": "clust_shade",
            "ClusterTendency": "clust_tend", "Contrast": "contrast", "Correlation": "corr",
            "DifferenceAverage": "diff_avg", "DifferenceEntropy": "diff_entr",
            "DifferenceVariance": "diff_var", "JointEnergy": "energy",
            "JointEntropy": "joint_entr", "Imc1": "info_corr1", "Imc2": "info_corr2",
            "Idm": "inv_diff_mom", "Idmn": "inv_diff_mom_norm", "Id": "inv_diff",
            "Idn": "inv_diff_norm", "InverseVariance": "inv_var",
            "MaximumProbability": "joint_max", "SumAverage": "sum_avg",
            "SumEntropy": "sum_entr", "SumSquares": "joint_var",
        },
    ),
    (
        "glrlm",
        "rlm",
        True,
        {
            "ShortRunEmphasis": "sre", "LongRunEmphasis": "lre",
            "GrayLevelNonUniformity": "glnu", "GrayLevelNonUniformityNormalized": "glnu_norm",
            "RunLengthNonUniformity": "rlnu", "RunLengthNonUniformityNormalized": "rlnu_norm",
            "RunPercentage": "r_perc", "GrayLevelVariance": "gl_var", "RunVariance": "rl_var",
            "RunEntropy": "rl_entr", "LowGrayLevelRunEmphasis": "lgre",
            "HighGrayLevelRunEmphasis": "hgre", "ShortRunLowGrayLevelEmphasis": "srlge",
            "ShortRunHighGrayLevelEmphasis": "srhge", "LongRunLowGrayLevelEmphasis": "lrlge",
            "LongRunHighGrayLevelEmphasis": "lrhge",
        },
    ),
    (
        "glszm",
        "szm",
        False,
        {
            "SmallAreaEmphasis": "sze", "LargeAreaEmphasis": "lze",
            "GrayLevelNonUniformity": "glnu", "GrayLevelNonUniformityNormalized": "glnu_norm",
            "SizeZoneNonUniformity": "zsnu", "SizeZoneNonUniformityNormalized": "zsnu_norm",
            "ZonePercentage": "z_perc", "GrayLevelVariance": "gl_var", "ZoneVariance": "zs_var",
            "ZoneEntropy": "zs_entr", "LowGrayLevelZoneEmphasis": "lgze",
            "HighGrayLevelZoneEmphasis": "hgze", "SmallAreaLowGrayLevelEmphasis": "szlge",
            "SmallAreaHighGrayLevelEmphasis": "szhge", "LargeAreaLowGrayLevelEmphasis": "lzlge",
            "LargeAreaHighGrayLevelEmphasis": "lzhge",
        },
    ),
    (
        "ngtdm",
        "ngt",
        False,
        {
            "Coarseness": "coarseness", "Contrast": "contrast", "Busyness": "busyness",
            "Complexity": "complexity", "Strength": "strength",
        },
    ),
    (
        "gldm",
        "ngl",
        False,
        {
            "SmallDependenceEmphasis": "lde", "LargeDependenceEmphasis": "hde",
            "GrayLevelNonUniformity": "glnu", "DependenceNonUniformity": "dcnu",
            "DependenceNonUniformityNormalized": "dcnu_norm", "GrayLevelVariance": "gl_var",
            "DependenceVariance": "dc_var", "DependenceEntropy": "dc_entr",
            "LowGrayLevelEmphasis": "lgce", "HighGrayLevelEmphasis": "hgce",
            "SmallDependenceLowGrayLevelEmphasis": "ldlge",
            "SmallDependenceHighGrayLevelEmphasis": "ldhge",
            "LargeDependenceLowGrayLevelEmphasis": "hdlge",
            "LargeDependenceHighGrayLevelEmphasis": "hdhge",
        },
    ),
)  # fmt: skip


def pyradiomics_to_ibsi(features: dict[str, float], force_2d: bool) -> dict[str, float]:
    """Keep the pyradiomics features with an IBSI equivalent, keyed by IBSI tag.

    With ``force2D`` pyradiomics merges slices per in-plane direction (IBSI 2.5D,
    direction-merged) and zones over slices (2.5D); in 3D it averages the 13
    directions (3D averaged).
    """
    names = dict(_PYRAD_PLAIN)
    dim = "2_5D" if force_2d else "3D"
    for cls, prefix, directional, stems in _PYRAD_TEXTURE:
        suffix = f"{dim}_avg" if directional else dim
        for name, stem in stems.items():
            names[f"{cls}_{name}"] = f"{prefix}_{stem}_{suffix}"
    return {names[k]: v for k, v in features.items() if k in names}


# MIRP spatial-method tokens -> IBSI reference tag suffixes.
_MIRP_SPATIAL = (
    ("_2d_avg", "_2D_avg"),
    ("_2d_s_mrg", "_2D_comb"),
    ("_2.5d_d_mrg", "_2_5D_avg"),
    ("_2.5d_v_mrg", "_2_5D_comb"),
    ("_3d_avg", "_3D_avg"),
    ("_3d_v_mrg", "_3D_comb"),
    ("_2d", "_2D"),
    ("_2.5d", "_2_5D"),
    ("_3d", "_3D"),
)
_MIRP_PARAMS = re.compile(r"_(d1|a0\.0|fbs_w[0-9.]+|fbn_n[0-9.]+)(?=_|$)")


def mirp_to_ibsi(features: dict[str, float]) -> dict[str, float]:
    """MIRP column names to IBSI tags (parameter tokens dropped)."""
    out = {}
    for name, value in features.items():
        tag = _MIRP_PARAMS.sub("", name)
        for old, new in _MIRP_SPATIAL:
            if tag.endswith(old):
                tag = tag[: -len(old)] + new
                break
        out[tag] = value
    return out
