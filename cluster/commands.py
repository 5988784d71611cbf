"""`facesynth generate | inspect | verify | submit` (registered by cluster/cli.py from its module list)."""
from __future__ import annotations

import argparse
import json
import signal


def _generate(args) -> int:
    from cluster.config import JobConfig
    from cluster.job import format_summary, generate
    from core.overrides import load_with_overrides

    # read_yaml -> KEY=VALUE overrides -> validation: a malformed config or override fails
    # here, before Ray starts, and the config hash covers the overrides.
    cfg = load_with_overrides(JobConfig, args.config, args.overrides)

    def _term(signum, frame):  # SIGTERM (pre-emption, `kill`): stop like Ctrl-C, keep commits
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, _term)
    summary = generate(cfg, args.out, workers=args.workers, address=args.address,
                       progress=not args.no_progress)
    print(format_summary(summary))
    if args.json:
        print(json.dumps(summary))
    return 0 if summary["complete"] else 1


def _inspect(args) -> int:
    from cluster.report import format_stats, inspect
    print(format_stats(inspect(args.out, args.report)))
    return 0


def _verify(args) -> int:
    from cluster.dataset import open_dataset
    ds = open_dataset(args.out, verify=True)  # a damaged shard fails here, with one line
    m = ds.manifest
    state = "complete" if ds.complete else f"INCOMPLETE ({len(m['committed'])} of {m['layout']['units']} units)"
    print(f"{args.out}: {len(m['committed'])} shards, {ds.rows} rows, {ds.bytes / 1e6:.1f} MB verified "
          f"(SHA-256 of every shard matches the manifest); {state}")
    return 0


def _submit(args) -> int:
    from cluster.submit import submit
    job_id, status = submit(args.job, args.address, wait=not args.no_wait)
    print(f"job {job_id}: {status}")
    return 0 if status in ("SUCCEEDED", "PENDING", "RUNNING") else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="render a dataset into Parquet shards on Ray (resumable)",
                       description="Render CONFIG's identities x images into Parquet shards under OUT. "
                       "Rerun the same command to resume after a crash or Ctrl-C. One run writes a dataset at a "
                       "time: a second run on the same OUT refuses at once (it does not wait).")
    p.add_argument("--config", required=True, help="job YAML (see configs/default.yaml)")
    p.add_argument("--out", required=True, help="dataset folder, s3://bucket/prefix or gs://bucket/prefix")
    p.add_argument("--address", default=None,
                   help="Ray cluster to join: auto, HOST:PORT or ray://HOST:10001 (default: start Ray locally)")
    p.add_argument("--workers", type=int, default=None,
                   help="number of render actors (default: as many as the resources allow)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="also print the summary as one JSON line")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides after the options, e.g. identities=100 render.pose.yaw.std=20")
    p.set_defaults(func=_generate)

    p = sub.add_parser("inspect", help="dataset statistics, contact sheet and pose/expression histograms")
    p.add_argument("out", help="dataset folder or URI (as given to generate --out)")
    p.add_argument("--report", default=None,
                   help="folder for the PNGs and stats.json (default: OUT/_inspect, or ./facesynth-inspect for s3/gs)")
    p.set_defaults(func=_inspect)

    p = sub.add_parser("verify", help="check every shard of a dataset against the checksums in its manifest",
                       description="Read every committed shard and compare its SHA-256 with the manifest; "
                       "exit 2 with one line naming a damaged shard.")
    p.add_argument("out", help="dataset folder or URI (as given to generate --out)")
    p.set_defaults(func=_verify)

    p = sub.add_parser("submit", help="run a job file (ray_job.yaml) on a Ray cluster via the Jobs API")
    p.add_argument("job", help="job file: entrypoint, runtime_env, resources (see ray_job.yaml)")
    p.add_argument("--address", required=True, help="Jobs API of the head node, http://HEAD:8265")
    p.add_argument("--no-wait", action="store_true", help="return after submitting instead of streaming the logs")
    p.set_defaults(func=_submit)
