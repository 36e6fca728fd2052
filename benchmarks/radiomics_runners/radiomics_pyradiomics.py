"""pyradiomics 3.0.1 on the IBSI 1 CT phantom, configuration A; prints JSON.

Run with the bench-peers interpreter: ``python radiomics_pyradiomics.py IMAGE MASK [REPEATS]``.
Settings follow configuration A as far as pyradiomics allows: no resampling,
in-plane (2D) texture, bin width 25 HU, re-segmentation range [-500, 400] HU.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
import warnings


def main(image: str, mask: str, repeats: int) -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import SimpleITK as sitk
    from radiomics import featureextractor

    settings = {
        "binWidth": 25,
        "resegmentRange": [-500, 400],
        "force2D": True,
        "force2Ddimension": 0,
        "label": 1,
    }
    extractor = featureextractor.RadiomicsFeatureExtractor(**settings)
    extractor.enableAllFeatures()
    extractor.enabledFeatures.pop("shape2D", None)  # needs a single-slice mask
    img = sitk.ReadImage(image)
    roi = sitk.ReadImage(mask)
    best = float("inf")
    cpu = float("inf")
    result = {}
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = extractor.execute(img, roi)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    features = {}
    for key, value in result.items():
        if key.startswith("original_"):
            try:
                features[key.removeprefix("original_")] = float(value)
            except (TypeError, ValueError):
                continue
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps({"seconds": best, "cpu_seconds": cpu, "peak_mb": peak_mb, "features": features})
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
