"""The dlib face-identity judge's key figures for a dataset, as ONE JSON line.

    python bench/judge.py DATASET [--max-yaw 15] [--max-identities N] [--images-per-identity K]
    python bench/judge.py --generate 64 --images 6 --yaw 15      # renders a frontal set first

Keys: impostor_mean (mean distance between images of different identities), far (impostor
pairs below 0.6), tar (genuine pairs below 0.6), eer, uniqueness (identity pairs whose mean
embeddings lie > 0.6 apart), genuine_mean, tar_by_abs_yaw (each image against its identity's
most frontal image), identities, images, judge_s and images_per_s (embedding and metrics, from
an empty cache unless --out names a folder that already holds one). See docs/judge.md.

--generate N renders N identities x --images with yaw ~ uniform(-yaw, +yaw) (other settings:
configs/default.yaml's defaults, seed --seed) through `facesynth generate` into a temporary
folder (or --keep DIR, reused when it already holds that dataset).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def generate(out: Path, identities: int, images: int, yaw: float, seed: int) -> None:
    import yaml
    cfg = {"seed": seed, "identities": identities, "images_per_identity": images,
           "render": {"pose": {"yaw": {"kind": "uniform", "min": -yaw, "max": yaw}}}}
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    subprocess.run([sys.executable, "-m", "cluster.cli", "generate", "--config", str(path), "--out", str(out),
                    "--no-progress"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", help="facesynth dataset (omit with --generate)")
    ap.add_argument("--generate", type=int, metavar="N", help="render N identities first")
    ap.add_argument("--images", type=int, default=6, help="images per identity with --generate")
    ap.add_argument("--yaw", type=float, default=15.0, help="|yaw| bound in degrees with --generate")
    ap.add_argument("--seed", type=int, default=7, help="dataset seed with --generate")
    ap.add_argument("--keep", help="with --generate: render into this folder and keep it")
    ap.add_argument("--max-identities", type=int)
    ap.add_argument("--images-per-identity", type=int)
    ap.add_argument("--max-yaw", type=float)
    ap.add_argument("--out", help="report folder (default: a temporary one, so embedding is timed)")
    args = ap.parse_args()
    if (args.dataset is None) == (args.generate is None):
        ap.error("give a DATASET or --generate N (not both)")

    from recognition.judge import judge

    with tempfile.TemporaryDirectory(prefix="facesynth-bench-judge-") as tmp:
        dataset = args.dataset
        if args.generate is not None:
            target = Path(args.keep) if args.keep else Path(tmp) / "data"
            generate(target, args.generate, args.images, args.yaw, args.seed)
            dataset = str(target)
        out = args.out or str(Path(tmp) / "judge")
        t0 = time.perf_counter()
        doc = judge(dataset, out=out, max_identities=args.max_identities,
                    images_per_identity=args.images_per_identity, max_yaw=args.max_yaw)
        seconds = time.perf_counter() - t0
    label = dataset if args.generate is None or args.keep else \
        f"generated {args.generate}x{args.images} |yaw|<={args.yaw:g} seed {args.seed}"
    m = doc["metrics"]
    cons = m.get("consistency") or {}
    print(json.dumps({
        "dataset": label,
        "identities": m["identities"], "images": m["images"],
        "impostor_mean": round(m["impostor"]["mean"], 4), "far": round(m["far"], 4),
        "genuine_mean": round(m["genuine"]["mean"], 4) if m["genuine"] else None,
        "tar": None if m["tar"] is None else round(m["tar"], 4),
        "eer": None if m["eer"] is None else round(m["eer"], 4),
        "uniqueness": round(m["uniqueness"], 4),
        "tar_by_abs_yaw": {k: (None if v["tar"] is None else round(v["tar"], 4))
                           for k, v in cons.get("by_abs_yaw", {}).items() if v["pairs"]},
        "judge_s": round(seconds, 1), "images_per_s": round(m["images"] / seconds, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
