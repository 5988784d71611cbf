"""`facesynth export` speed and memory, and whether memory stays bounded as the dataset grows.

Renders configs/smoke.yaml once (32 images), then builds two larger datasets from its shards by
repeating them under new identity numbers (real renders, a valid manifest), SMALL and LARGE
copies. Each format is exported from each in a fresh process that reports its own peak RSS.
Prints one JSON line:
  images_small / images_large          rows of the two datasets
  <fmt>_images_per_s                   export rate on the large dataset (tqdm off)
  <fmt>_peak_rss_mb_small / _large     peak resident memory of the exporting process
  <fmt>_rss_growth_mb                  large minus small: ~0 when memory is bounded
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CHILD = """
import json, resource, sys, time
from recognition.export import run
t = time.perf_counter()
r = run(sys.argv[1], sys.argv[2], sys.argv[3], progress=False)
print(json.dumps({"images": r["images"], "seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def scaled(src: Path, dst: Path, copies: int) -> int:
    """A dataset of `copies` repeats of src's shards, identities renumbered, manifest rewritten."""
    m = json.loads((src / "_manifest.json").read_text())
    per_unit = m["layout"]["unit_identities"]
    units = sorted(m["committed"], key=int)
    n_src_ids = m["layout"]["identities"]
    dst.mkdir(parents=True)
    committed, u = {}, 0
    width = max(5, len(str(copies * len(units) - 1)))  # cluster.config.shard_name
    for c in range(copies):
        for unit in units:
            rec = m["committed"][unit]
            t = pq.read_table(src / rec["file"])
            ids = pa.compute.add(t["identity"], pa.scalar(c * n_src_ids, pa.int64()))
            t = t.set_column(t.schema.get_field_index("identity"), t.schema.field("identity"), ids)
            name = f"part-u{u:0{width}d}.parquet"
            pq.write_table(t, dst / name, row_group_size=2000)
            data = (dst / name).read_bytes()
            first = rec["identities"][0] + c * n_src_ids
            committed[str(u)] = {"file": name, "rows": t.num_rows, "bytes": len(data),
                                 "identities": [first, first + per_unit], "sha256": hashlib.sha256(data).hexdigest()}
            u += 1
    m["layout"].update(identities=n_src_ids * copies, units=u)
    m["config"]["identities"] = n_src_ids * copies
    m["committed"], m["complete"] = committed, True
    (dst / "_manifest.json").write_text(json.dumps(m))
    return sum(r["rows"] for r in committed.values())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--small", type=int, default=20, help="copies of the smoke set in the small dataset")
    ap.add_argument("--large", type=int, default=400, help="copies in the large one")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory(dir=REPO / ".pytest_cache" if (REPO / ".pytest_cache").is_dir() else None) as tmp:
        tmp = Path(tmp)
        smoke = tmp / "smoke"
        subprocess.run([sys.executable, "-m", "cluster.cli", "generate", "--config", "configs/smoke.yaml",
                        "--out", smoke, "--no-progress"], cwd=REPO, env=env, check=True, capture_output=True)
        sizes = {"small": scaled(smoke, tmp / "small", args.small), "large": scaled(smoke, tmp / "large", args.large)}
        result = {"images_small": sizes["small"], "images_large": sizes["large"]}
        for fmt in ("insightface", "folder", "hf"):
            for which in ("small", "large"):
                out = subprocess.run([sys.executable, "-c", CHILD, str(tmp / which), fmt, str(tmp / f"{fmt}-{which}")],
                                     cwd=REPO, env=env, capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"{fmt} export of the {which} dataset failed: {out.stderr.strip()[-800:]}")
                r = json.loads(out.stdout.strip().splitlines()[-1])
                result[f"{fmt}_peak_rss_mb_{which}"] = round(r["peak_rss_mb"], 1)
                if which == "large":
                    result[f"{fmt}_images_per_s"] = round(r["images"] / r["seconds"], 1)
            result[f"{fmt}_rss_growth_mb"] = round(result[f"{fmt}_peak_rss_mb_large"] - result[f"{fmt}_peak_rss_mb_small"], 1)
        result["load_avg_1m"] = round(os.getloadavg()[0], 2)
        result["when"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(json.dumps(result))


if __name__ == "__main__":
    main()
