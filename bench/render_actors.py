"""Render throughput of several render processes sharing one machine, as Ray actors share a node.

Each process is what a job's actor is: its own EGL context (NVIDIA's EGL on a GPU node, Mesa's
llvmpipe without one) and its own ImageMaker, making whole aligned records (identity generation
amortised over --per images, scene, render, landmarks, alignment, degradations, JPEG). The
processes start together after their warm-up; the rate is all their records over the slowest
one's time. Without Ray, so it runs where Ray is not installed; `facesynth generate` with
`ray.num_gpus_per_actor` 1/N places N such actors on each GPU.

Prints one JSON line:
  gl_renderer        what the processes render on (e.g. "NVIDIA H200/PCIe/SSE2" or "llvmpipe ...")
  images_per_s       {processes: aligned records per second, all processes together}
  per_process        {processes: the same per process}
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _actor(rank: int, procs: int, identities: int, per: int, config: str | None, barrier, results) -> None:
    for var in ("LP_NUM_THREADS", "OMP_NUM_THREADS"):  # one core per process, as an actor has
        os.environ.setdefault(var, "1")
    sys.path.insert(0, str(ROOT))
    import cv2
    cv2.setNumThreads(1)
    from gen.config import GenConfig
    from gen.facemodel import load_model
    from render.config import RenderConfig, load_render_config
    from render.pipeline import ImageMaker

    cfg = load_render_config(config) if config else RenderConfig()
    maker = ImageMaker(load_model(), GenConfig(), cfg, seed=0)
    maker.render(maker.identity(10_000 + rank), 0)  # warm-up: shader compilation, first upload
    barrier.wait()
    t0 = time.perf_counter()
    n = 0
    for i in range(rank, identities, procs):
        ident = maker.identity(i)
        for j in range(per):
            n += len(maker.render(ident, j).image) > 0
    results.put((rank, n, time.perf_counter() - t0, maker.renderer.gl_renderer))


def run(procs: int, identities: int, per: int, config: str | None) -> tuple[float, str]:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    ps = [ctx.Process(target=_actor, args=(r, procs, identities, per, config, barrier, results))
          for r in range(procs)]
    for p in ps:
        p.start()
    got = []
    while len(got) < procs:  # a process that dies (no GL, say) must end the run, not hang it
        try:
            got.append(results.get(timeout=1.0))
        except queue.Empty:
            dead = [p.exitcode for p in ps if p.exitcode not in (None, 0)]
            if dead:
                for p in ps:
                    p.kill()
                raise SystemExit(f"a render process failed (exit code {dead[0]}); its error is above")
    for p in ps:
        p.join()
    n = sum(g[1] for g in got)
    return n / max(g[2] for g in got), got[0][3]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--procs", default="1,2,4", help="comma-separated process counts to measure")
    ap.add_argument("--identities", type=int, default=0,
                    help="identities per measurement (default: 2 per process, at least 4)")
    ap.add_argument("--per", type=int, default=50, help="images per identity (50, as in TBGAN)")
    ap.add_argument("--config", help="render config YAML (default: built-in defaults)")
    args = ap.parse_args()
    counts = [int(c) for c in args.procs.split(",")]
    if not counts or min(counts) < 1:
        ap.error("--procs: give positive process counts, e.g. 1,2,4")

    if args.config:  # a bad config fails here, in one line, before any process starts
        from core.errors import FacesynthError
        from render.config import load_render_config
        try:
            load_render_config(args.config)
        except FacesynthError as e:
            ap.error(str(e))
    rates, renderer = {}, ""
    for procs in counts:
        identities = args.identities or max(4, 2 * procs)
        rates[procs], renderer = run(procs, identities, args.per, args.config)
        print(f"{procs} processes: {rates[procs]:.1f} images/s", file=sys.stderr, flush=True)
    print(json.dumps({
        "gl_renderer": renderer,
        "images_per_s": {str(k): round(v, 1) for k, v in rates.items()},
        "per_process": {str(k): round(v / k, 1) for k, v in rates.items()},
        "per_identity": args.per, "cpus": os.cpu_count(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
