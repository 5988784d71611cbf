"""Render throughput on ONE CPU core (llvmpipe) and the MTCNN judge's view of the renders.

Prints one JSON line:
  images_per_s_per_core  aligned 112x112 records per second, end to end: identity generation and
                         upload amortised over --per images per identity (50, as in TBGAN), scene
                         sampling, rendering, landmarks, background, alignment, degradations, JPEG
  render_only_per_s      the same without identity generation (identities already made)
  mtcnn_detect_rate_yaw45  share of renders with |yaw| <= 45 where MTCNN finds a face
  mtcnn_median_px        median distance of MTCNN's 5 points to ours there (112x112 crop px)
  mtcnn_by_yaw           rate and median per |yaw| bin up to 90
The process pins itself to CPU 0 and sets LP_NUM_THREADS=1 (Mesa) and one torch thread before
anything starts, i.e. what `taskset -c 0` would do.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=4, help="identities for the throughput run")
    ap.add_argument("--per", type=int, default=50, help="images per identity (throughput run)")
    ap.add_argument("--judge-per-bin", type=int, default=60, help="renders per |yaw| bin judged by MTCNN")
    ap.add_argument("--config", help="render config YAML (default: built-in defaults)")
    ap.add_argument("--cpu", type=int, default=0, help="CPU core to pin to")
    args = ap.parse_args()

    os.environ["LP_NUM_THREADS"] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    import torch
    torch.set_num_threads(1)

    from gen.config import GenConfig
    from gen.facemodel import load_model
    from render.config import RenderConfig, load_render_config
    from render.judges.detection import judge
    from render.judges.mtcnn import MTCNNJudge
    from render.pipeline import ImageMaker

    cfg = load_render_config(args.config) if args.config else RenderConfig()
    model = load_model()
    maker = ImageMaker(model, GenConfig(), cfg, seed=0)
    maker.render(maker.identity(10_000), 0)  # warm-up: shader compilation, first upload

    t0 = time.perf_counter()
    n = 0
    render_s = 0.0
    for i in range(args.identities):
        ident = maker.identity(i)
        t1 = time.perf_counter()
        for j in range(args.per):
            rec = maker.render(ident, j)
            assert len(rec.image) > 0
            n += 1
        render_s += time.perf_counter() - t1
    total = time.perf_counter() - t0

    res = judge(maker, MTCNNJudge(threads=1), per_bin=args.judge_per_bin, identities=16)
    out = {
        "images_per_s_per_core": round(n / total, 2),
        "render_only_per_s": round(n / render_s, 2),
        "mtcnn_detect_rate_yaw45": round(res.rate(0, 45), 4),
        "mtcnn_median_px": round(res.median_px(0, 45), 3),
        "mtcnn_by_yaw": res.by_bin(),
        "images": n, "judged": int(len(res.yaw)),
        "image_size": cfg.output.image_size, "frame_size": cfg.output.frame_size,
        "gl_renderer": maker.renderer.gl_renderer, "cpu": args.cpu,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
