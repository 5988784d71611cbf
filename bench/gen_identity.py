"""Time one identity (geometry + 512² maps) on one core. Prints one JSON line.

Run as `taskset -c 0 .venv/bin/python bench/gen_identity.py` for a single core; thread pools are
limited to 1 before numpy/OpenCV load. The one-time per-process setup (model load, UV layout
masks) is measured separately as setup_ms and excluded from the per-identity median.
median_ms is wall time; cpu_median_ms is this thread's CPU time, which stays meaningful when
other processes share the core (wall time then includes waiting for it).
"""
from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

cv2.setNumThreads(1)

from gen.config import GenConfig  # noqa: E402
from gen.facemodel import load_model  # noqa: E402
from gen.identity import make_identity  # noqa: E402
from gen.uvmaps import face_layout  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50, help="identities to time")
    ap.add_argument("--texture-size", type=int, default=512)
    ap.add_argument("--min-distance", type=float, default=0.0)
    args = ap.parse_args()
    cfg = GenConfig.model_validate({"appearance": {"texture_size": args.texture_size},
                                    "identity": {"min_distance": args.min_distance}})
    t0 = time.perf_counter()
    model = load_model(cfg.model)
    t1 = time.perf_counter()
    face_layout(model, cfg.appearance.texture_size)
    t2 = time.perf_counter()
    times, cpu = [], []
    for i in range(args.n):
        s, c = time.perf_counter(), time.thread_time()
        make_identity(model, cfg, 0, i)
        times.append((time.perf_counter() - s) * 1000)
        cpu.append((time.thread_time() - c) * 1000)
    aff = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(json.dumps({"median_ms": round(float(np.median(times)), 2), "identities": args.n,
                      "p90_ms": round(float(np.percentile(times, 90)), 2),
                      # CPU time of this thread: the cost on one core even when other jobs share it.
                      "cpu_median_ms": round(float(np.median(cpu)), 2),
                      "texture_size": args.texture_size, "load_ms": round((t1 - t0) * 1000, 1),
                      "setup_ms": round((t2 - t1) * 1000, 1), "cpus": aff}))


if __name__ == "__main__":
    main()
