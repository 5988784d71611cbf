"""Subcommands of the recognition stage: train, eval, embed, benchmark, judge."""
from __future__ import annotations

import argparse


def _train(args) -> int:
    from core.overrides import load_with_overrides
    from recognition.config import TrainConfig
    cfg = load_with_overrides(TrainConfig, args.config, args.overrides)
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
    from core.overrides import load_with_overrides
    from recognition import benchmark
    from recognition.config import BenchmarkConfig
    cfg = load_with_overrides(BenchmarkConfig, args.config, args.overrides, default=benchmark.DEFAULT)
    if args.out:
        cfg = cfg.model_copy(update={"out": args.out})
    report = benchmark.run(cfg)
    print(report["table"], end="")
    print(report["json"])
    return 0


def _judge(args) -> int:
    from recognition.judge import report, run
    doc = run.judge(args.dataset, out=args.out, real=args.real, max_identities=args.max_identities,
                    images_per_identity=args.images_per_identity, max_yaw=args.max_yaw,
                    progress=not args.no_progress)
    print(report.table(doc["metrics"]), end="")
    print(doc["files"]["report"])  # the last line of stdout: scripts and tests read it
    return 0


def _export(args) -> int:
    from recognition.export import run
    r = run(args.dataset, args.to, args.out, progress=not args.no_progress, heldout=args.heldout,
            pairs_per_fold=args.pairs_per_fold, license_id=args.license)
    extra = f", held-out sets: {', '.join(r['heldout'])}" if r.get("heldout") else ""
    print(f"exported {r['images']} images of {r['identities']} identities as {args.to} to {args.out}{extra}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train an ArcFace/CosFace face recognition model",
                              description="Train from a YAML TrainConfig (see configs/smoke-train.yaml). "
                                          "Resumes from the newest checkpoint in the output directory. "
                                          "Prints the final checkpoint's path as the last line.")
    p.add_argument("--config", required=True, help="TrainConfig YAML")
    p.add_argument("--out", help="override the config's output directory")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="config overrides, e.g. epochs=2 optim.lr=0.05")
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
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="config overrides (also of the embedded default), e.g. seeds=[0] train.epochs=2")
    p.set_defaults(func=_benchmark)

    p = subparsers.add_parser("judge", help="do identities look like different people to a real-trained recogniser?",
                              description="Embed DATASET with dlib's face recogniser (chips from each record's own "
                                          "landmarks) and report genuine/impostor distances, FAR/TAR at 0.6, EER, "
                                          "uniqueness and consistency by |yaw|, expression and age. Writes judge.json, "
                                          "distances.png and an embedding cache (reused by reruns). See docs/judge.md.")
    p.add_argument("dataset", metavar="DATASET", help="facesynth dataset (or, with --real, a folder ID/*.jpg|png)")
    p.add_argument("--out", help="report folder (default: DATASET/_judge)")
    p.add_argument("--max-identities", type=int, help="judge only the first N identities")
    p.add_argument("--images-per-identity", type=int, help="judge only the first K images of each identity")
    p.add_argument("--max-yaw", type=float, help="judge only images with |yaw| <= DEG")
    p.add_argument("--real", action="store_true", help="DATASET is a folder of real photos, one subfolder per "
                                                      "person; faces are found with the MTCNN judge")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_judge)

    p = subparsers.add_parser("export", help="write a dataset as insightface RecordIO, an image folder or a Hugging Face dataset",
                              description="Stream DATASET (a `facesynth generate` output) into DIR, committed "
                                          "atomically. insightface: train.rec/train.idx/property for arcface_torch; "
                                          "folder: IDENTITY/IMAGE.jpg|png (DigiFace-1M layout); hf: Parquet with "
                                          "the datasets.Image feature and a dataset card (datasets.load_dataset(DIR)).")
    p.add_argument("dataset", help="dataset folder or URI (as given to generate --out)")
    p.add_argument("--to", required=True, choices=["insightface", "folder", "hf"], help="output format")
    p.add_argument("--out", required=True, metavar="DIR", help="new folder (an earlier export there is replaced)")
    p.add_argument("--heldout", nargs="+", metavar="PATH",
                   help="insightface only: verification sets to write beside train.rec, each a .bin or a rendered "
                        "held-out dataset (e.g. the benchmark's OUT/heldout) made into frontal-vs-profile pairs")
    p.add_argument("--pairs-per-fold", type=int, default=60, help="pairs per fold of a held-out set built from a dataset")
    p.add_argument("--license", default=None, help="hf only: licence id for the card (default: the face model's)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_export)
