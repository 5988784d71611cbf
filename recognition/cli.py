"""Subcommands of the recognition stage: train, eval, embed, benchmark."""
from __future__ import annotations

import argparse


def _train(args) -> int:
    from core.config import load_yaml_model
    from recognition.config import TrainConfig
    cfg = load_yaml_model(TrainConfig, args.config)
    if args.out:
        cfg = cfg.model_copy(update={"out": args.out})
    if cfg.ray.enabled:
        from recognition import ray_train
        path = ray_train.run(cfg)
    else:
        from recognition import train
        path = train.run(cfg)
    print(path)  # the last line of stdout: scripts and tests read it
    return 0


def _eval(args) -> int:
    from recognition import eval as ev
    doc = ev.run(args.checkpoint, args.bin or [], args.pairs or [], args.out, args.batch_size, args.device)
    print(ev.markdown_table(doc["sets"]), end="")
    print(f"{args.out}/results.json")
    return 0


def _embed(args) -> int:
    from recognition import embed
    print(embed.run(args.checkpoint, args.images, args.out, args.batch_size, args.device))
    return 0


def _benchmark(args) -> int:
    from recognition import benchmark
    report = benchmark.run_from_args(args.config, args.out)
    print(report["table"], end="")
    print(report["json"])
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train an ArcFace/CosFace face recognition model",
                              description="Train from a YAML TrainConfig (see configs/smoke-train.yaml). "
                                          "Resumes from the newest checkpoint in the output directory. "
                                          "Prints the final checkpoint's path as the last line.")
    p.add_argument("--config", required=True, help="TrainConfig YAML")
    p.add_argument("--out", help="override the config's output directory")
    p.set_defaults(func=_train)

    p = subparsers.add_parser("eval", help="verification accuracy of a checkpoint on .bin sets or pair lists",
                              description="10-fold accuracy (mean ± std), TAR@FAR=1e-3, ROC and angle histograms.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--bin", nargs="+", metavar="FILE.bin", help="insightface verification files")
    p.add_argument("--pairs", nargs="+", metavar="LIST.txt", help="lines 'image1 image2 same'")
    p.add_argument("--out", default="out/eval", help="directory for results.json, results.md, angles_*.png")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.set_defaults(func=_eval)

    p = subparsers.add_parser("embed", help="write face embeddings of images to Parquet")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("images", nargs="+", help="aligned face images or directories of them")
    p.add_argument("--out", default="embeddings.parquet")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.set_defaults(func=_embed)

    p = subparsers.add_parser("benchmark", help="train real-only vs real+synthetic and print the gain table",
                              description="Without --config, runs the embedded default: synthetic data only, "
                                          "evaluated on a held-out synthetic frontal-vs-profile set.")
    p.add_argument("--config", help="BenchmarkConfig YAML (default: the embedded synthetic-only benchmark)")
    p.add_argument("--out", help="override the config's working directory")
    p.set_defaults(func=_benchmark)
