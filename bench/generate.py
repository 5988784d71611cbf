"""End-to-end images/s of the main job on this machine, next to the single-process render rate.

Prints one JSON line:
  job_images_per_s        the whole `generate` job with --workers actors: images / wall time,
                          Ray start, actor start (model + renderer load), rendering, Parquet
                          writes and manifest commits included
  render_images_per_s     one process calling ImageMaker.render on the same images (identity
                          generation, rendering, encoding), renderer already loaded
  workers                 render actors of the job above
  job_1_worker_images_per_s   the same job with one actor
  render_only_images_per_s    the single process without the JPEG/PNG encoding
  overhead_1_worker       1 - job_1_worker / render: what Ray, Parquet, start-up and progress
                          reporting cost, like for like (one renderer each)
  encoding_share          1 - render / render_only: the share of the render rate spent encoding
  scaling                 job_images_per_s / job_1_worker_images_per_s
  job_steady_images_per_s     images / (wall time - time until the first actor was ready)
  overhead_1_worker_steady    overhead_1_worker without the one-off start-up (Ray, actor load)
Every renderer (the single process and each actor) runs with LP_NUM_THREADS=1 (Mesa llvmpipe)
and OMP_NUM_THREADS=1, which is what Ray gives an actor of num_cpus_per_actor: 1.
On a shared machine the figures move with the load of other processes: load_avg_1m is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# Before numpy/OpenCV/Mesa load: the single process gets the threads an actor gets.
os.environ["LP_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"


def render_rate(cfg) -> tuple[float, float]:
    """(records/s, records/s without encoding) of one ImageMaker over the job's grid."""
    from gen.facemodel import load_model
    from render.pipeline import ImageMaker

    maker = ImageMaker(load_model(cfg.gen.model), cfg.gen, cfg.render, cfg.seed)
    maker.render(maker.identity(cfg.identity_start + cfg.identities), 0)  # warm-up outside the grid
    total = encode = 0.0
    n = 0
    for i in range(cfg.identity_start, cfg.identity_start + cfg.identities):
        t0 = time.perf_counter()
        ident = maker.identity(i)
        total += time.perf_counter() - t0
        for j in range(cfg.images_per_identity):
            t0 = time.perf_counter()
            r = maker.render_scene(ident, maker.scene(i, j))
            t1 = time.perf_counter()
            maker.record(ident, r)
            t2 = time.perf_counter()
            total += t2 - t0
            encode += t2 - t1
            n += 1
    maker.close()
    return n / total, n / (total - encode)


def job_rate(cfg, out: Path, workers: int) -> dict:
    from cluster.job import generate
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    s = generate(cfg, str(out), workers=workers, progress=False)
    wall = time.perf_counter() - t0  # everything generate() does, checks included
    assert s["complete"] and s["images_written"] == cfg.total_images
    shutil.rmtree(out, ignore_errors=True)
    return s | {"wall_s": wall, "rate": cfg.total_images / wall,
                "steady": cfg.total_images / (wall - s["first_actor_ready_s"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/demo.yaml", help="job config (default: the demo job)")
    ap.add_argument("--identities", type=int, default=None, help="override the config's identities")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of (render, 1-worker job, N-worker job); the best of each is reported, "
                         "which filters out other processes' load on a shared machine")
    ap.add_argument("--out", default=None, help="scratch folder (default: a temp dir, removed)")
    args = ap.parse_args()
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")

    from cluster.config import load_job_config

    cfg = load_job_config(args.config)
    if args.identities:
        cfg = cfg.model_copy(update={"identities": args.identities})
    scratch = Path(args.out or tempfile.mkdtemp(prefix="facesynth-bench-"))
    rounds = []
    try:
        for _ in range(args.repeat):
            r, r_only = render_rate(cfg)
            rounds.append({"render": r, "render_only": r_only, "load": os.getloadavg()[0],
                           **{w: job_rate(cfg, scratch / f"w{w}", w) for w in sorted({1, args.workers})}})
    finally:
        if args.out is None:
            shutil.rmtree(scratch, ignore_errors=True)

    def best(key, field=None):
        vals = [(r[key][field] if field else r[key]) for r in rounds]
        return max(vals)

    render, render_only = best("render"), best("render_only")
    job = max((r[args.workers] for r in rounds), key=lambda s: s["rate"])
    job1 = max((r[1] for r in rounds), key=lambda s: s["rate"])
    print(json.dumps({
        "job_images_per_s": round(job["rate"], 2),
        "render_images_per_s": round(render, 2),
        "workers": args.workers,
        "job_1_worker_images_per_s": round(job1["rate"], 2),
        "render_only_images_per_s": round(render_only, 2),
        "overhead_1_worker": round(1 - job1["rate"] / render, 3),
        "overhead_1_worker_steady": round(1 - job1["steady"] / render, 3),
        "encoding_share": round(1 - render / render_only, 3),
        "scaling": round(job["rate"] / job1["rate"], 2),
        "job_steady_images_per_s": round(job["steady"], 2),
        "images": cfg.total_images,
        "job_seconds": round(job["wall_s"], 2), "job_1_worker_seconds": round(job1["wall_s"], 2),
        "first_actor_ready_s": job["first_actor_ready_s"],
        "shard_mb": round(job["bytes"] / 1e6 / job["shards"], 2),
        "rounds": args.repeat,
        "all_rates": [{"render": round(r["render"], 1), "job_1": round(r[1]["rate"], 1),
                       f"job_{args.workers}": round(r[args.workers]["rate"], 1), "load_avg_1m": round(r["load"], 1)}
                      for r in rounds],
        "cpu_cores": os.cpu_count(),
        "config": args.config,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
