"""MIRP on a CT image and mask with IBSI configuration A or C settings; prints JSON
(seconds, features).

Run with the bench-peers interpreter: ``python radiomics_mirp.py IMAGE MASK CONFIG``.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
import warnings

_SPATIAL_2D = ["2d_average", "2d_slice_merge", "2.5d_direction_merge", "2.5d_volume_merge"]
_SPATIAL_3D = ["3d_average", "3d_volume_merge"]
SETTINGS: dict[str, dict[str, object]] = {
    "ibsi-a": {
        "by_slice": True,
        "base_discretisation_method": "fixed_bin_size",
        "base_discretisation_bin_width": 25.0,
        "resegmentation_intensity_range": [-500.0, 400.0],
        "ivh_discretisation_method": "none",
        "glcm_spatial_method": _SPATIAL_2D,
        "glrlm_spatial_method": _SPATIAL_2D,
    },
    "ibsi-c": {
        "by_slice": False,
        "new_spacing": 2.0,
        "spline_order": 1,
        "anti_aliasing": False,
        "base_discretisation_method": "fixed_bin_size",
        "base_discretisation_bin_width": 25.0,
        "resegmentation_intensity_range": [-1000.0, 400.0],
        "ivh_discretisation_method": "fixed_bin_size",
        "ivh_discretisation_bin_width": 2.5,
        "glcm_spatial_method": _SPATIAL_3D,
        "glrlm_spatial_method": _SPATIAL_3D,
    },
}


def main(image: str, mask: str, config: str) -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from mirp import extract_features

    start, start_cpu = time.perf_counter(), time.process_time()
    tables = extract_features(
        image=image,
        mask=mask,
        image_modality="ct",
        base_feature_families="all",
        export_features=True,
        **SETTINGS[config],
    )
    seconds = time.perf_counter() - start
    cpu = time.process_time() - start_cpu
    row = tables[0].iloc[0]
    features = {}
    for key, value in row.items():
        try:
            features[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    result = {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb, "features": features}
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
