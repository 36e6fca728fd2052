"""pyradiomics 3.0.1 on one IBSI 1 case; prints JSON (seconds, features).

Run with the bench-peers interpreter:
``python radiomics_pyradiomics.py IMAGE MASK CONFIG [REPEATS]``.
Settings follow each IBSI configuration as far as pyradiomics allows (it cannot
round interpolated intensities, nor combine a range with outlier re-segmentation:
config E keeps the range).
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
import warnings

_COMMON = {"label": 1}
_RESAMPLE_2D = {"resampledPixelSpacing": [2, 2, 0], "interpolator": "sitkLinear"}
_RESAMPLE_3D = {"resampledPixelSpacing": [2, 2, 2], "interpolator": "sitkLinear"}
SETTINGS: dict[str, dict[str, object]] = {
    "ibsi-phantom": {"binWidth": 1},
    "ibsi-a": {"binWidth": 25, "resegmentRange": [-500, 400], "force2D": True},
    "ibsi-b": {"binCount": 32, "resegmentRange": [-500, 400], "force2D": True, **_RESAMPLE_2D},
    "ibsi-c": {"binWidth": 25, "resegmentRange": [-1000, 400], **_RESAMPLE_3D},
    "ibsi-d": {"binCount": 32, "resegmentMode": "sigma", "resegmentRange": [-3, 3], **_RESAMPLE_3D},
    "ibsi-e": {
        "binCount": 32,
        "resegmentRange": [-1000, 400],
        "resampledPixelSpacing": [2, 2, 2],
        "interpolator": "sitkBSpline",
    },
}


def main(image: str, mask: str, config: str, repeats: int) -> None:
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    import SimpleITK as sitk
    from radiomics import featureextractor

    settings = {**_COMMON, **SETTINGS[config]}
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
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
