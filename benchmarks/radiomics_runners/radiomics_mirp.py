"""MIRP on the IBSI 1 CT phantom, configuration A; prints JSON (seconds, features).

Run with the bench-peers interpreter: ``python radiomics_mirp.py IMAGE MASK ibsi-a``.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
import warnings


def main(image: str, mask: str) -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    from mirp import extract_features

    spatial = ["2d_average", "2d_slice_merge", "2.5d_direction_merge", "2.5d_volume_merge"]
    start, start_cpu = time.perf_counter(), time.process_time()
    tables = extract_features(
        image=image,
        mask=mask,
        by_slice=True,
        base_feature_families="all",
        base_discretisation_method="fixed_bin_size",
        base_discretisation_bin_width=25.0,
        resegmentation_intensity_range=[-500.0, 400.0],
        ivh_discretisation_method="none",
        glcm_spatial_method=spatial,
        glrlm_spatial_method=spatial,
        export_features=True,
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
    print(
        json.dumps(
            {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb, "features": features}
        )
    )


if __name__ == "__main__":
    if sys.argv[3] != "ibsi-a":
        raise SystemExit("only configuration A is set up for MIRP")
    main(sys.argv[1], sys.argv[2])
