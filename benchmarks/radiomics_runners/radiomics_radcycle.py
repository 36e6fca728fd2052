"""radcycle radiomics on one IBSI 1 case; prints JSON (best wall/CPU seconds, features).

``python radiomics_radcycle.py IMAGE MASK CONFIG [REPEATS]``
"""

from __future__ import annotations

import json
import math
import resource
import sys
import time


def main(image: str, mask: str, config: str, repeats: int) -> None:
    from radcycle.imaging.radiomics import compute_features
    from radcycle.io import read_image

    volume, roi = read_image(image), read_image(mask)
    best, cpu = float("inf"), float("inf")
    features: dict[str, float] = {}
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        features = compute_features(volume, roi, config)
        best = min(best, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    finite = {k: v for k, v in features.items() if math.isfinite(v)}
    print(json.dumps({"seconds": best, "cpu_seconds": cpu, "peak_mb": peak_mb, "features": finite}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 1)
