"""`facesynth benchmark`: train on real data only and on real + synthetic, print the gain table.

Layout of the table follows the TBGAN paper (ECCV 2020, Table 3): one row per training set,
one column per verification benchmark, and a gain row. Without real data (the embedded
default), it trains on synthetic data only and tests on a held-out synthetic
frontal-vs-profile set and a cross-age (AgeDB-30-like) set, both rendered from identities
never used in training.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text
from core.errors import FacesynthError
from core.config import load_yaml_model, parse_model, read_yaml
from recognition.config import BenchmarkConfig, SourceConfig, TrainConfig, TrainTemplate

# The embedded default: synthetic data only, sized to finish on a 2-core CPU in < 30 minutes.
# Training runs at 64x64 (the 112x112 renders are downscaled): on such a CPU a 112x112
# MobileFaceNet step costs ~10x more, which would not fit the budget.
DEFAULT = {
    "out": "out/benchmark",
    "synthetic": {"job": {"seed": 0, "identities": 300, "images_per_identity": 10,
                          "gen": {"appearance": {"texture_size": 256}}}, "workers": 2},
    "synthetic_name": "Synthetic (300 ids x 10)",
    "seeds": [0, 1, 2],  # ~3 min of training each here: three fit the budget, so mean ± std is over seeds
    "train": {
        "epochs": 15, "batch_size": 64, "num_workers": 1, "threads": 2, "log_every": 10, "input_size": 64,
        "model": {"backbone": "mobilefacenet", "width": 0.5, "embedding_size": 128},
        "optim": {"lr": 0.1, "warmup_epochs": 1, "schedule": "poly"},
    },
    "heldout": {"identities": 200, "frontal_per_identity": 1, "profile_per_identity": 2, "pairs_per_fold": 80},
}


def load_config(path: str | None) -> BenchmarkConfig:
    if path is None:
        return parse_model(BenchmarkConfig, DEFAULT, "embedded default benchmark")
    return load_yaml_model(BenchmarkConfig, path)


# ------------------------------------------------------------------ synthetic data

def _job_config(spec: str | dict, overrides: dict, source: str):
    from cluster.config import parse_job_config  # lazy: only this path needs the generator
    data = read_yaml(spec) if isinstance(spec, str) else json.loads(json.dumps(spec))
    data.update(overrides)
    return parse_job_config(data, source)


def _generate(job, out: Path, workers: int | None) -> Path:
    from cluster.job import generate
    print(f"benchmark: rendering {job.identities} identities x {job.images_per_identity} into {out}",
          file=sys.stderr)
    generate(job, str(out), workers=workers)
    return out


def synthetic_shards(cfg: BenchmarkConfig) -> Path:
    s = cfg.synthetic
    if s.shards is not None:
        if not Path(s.shards).exists():
            raise FacesynthError(f"synthetic.shards: {s.shards} not found; generate it or set synthetic.job")
        return Path(s.shards)
    overrides = {k: v for k, v in (("identities", s.identities), ("images_per_identity", s.images_per_identity))
                 if v is not None}
    job = _job_config(s.job, overrides, "synthetic.job")
    return _generate(job, Path(cfg.out) / "synthetic", s.workers)


def heldout_job_data(cfg: BenchmarkConfig, train_end: int) -> dict:
    """The held-out job: identities after every training one, rendered at explicit frontal and
    profile yaws (0, then alternately -/+ 60..90 degrees)."""
    h = cfg.heldout
    spec = h.job or cfg.synthetic.job
    data = read_yaml(spec) if isinstance(spec, str) else json.loads(json.dumps(spec))
    yaws = [0.0] * h.frontal_per_identity
    # Profiles alternate left/right, spread over [profile_min_yaw, profile_min_yaw + 15]: beyond
    # about 75 degrees the far eye is hidden and five-point alignment gets unreliable.
    n_side = (h.profile_per_identity + 1) // 2
    for k in range(h.profile_per_identity):
        mag = min(90.0, h.profile_min_yaw + 15.0 * (k // 2 + 0.5) / n_side)
        yaws.append(-mag if k % 2 == 0 else mag)
    data.update(identity_start=max(h.identity_offset, train_end), identities=h.identities,
                images_per_identity=len(yaws))
    # render.pose.poses: image j of every identity is rendered at poses[j] (yaw, pitch, roll).
    data.setdefault("render", {}).setdefault("pose", {})["poses"] = [[y, 0.0, 0.0] for y in yaws]
    return data


def heldout_bin(cfg: BenchmarkConfig, train_end: int) -> Path:
    h = cfg.heldout
    if h.bin is not None:
        if not Path(h.bin).is_file():
            raise FacesynthError(f"heldout.bin: {h.bin} not found")
        return Path(h.bin)
    path = Path(cfg.out) / "heldout_frontal_profile.bin"
    if path.is_file():
        return path
    from cluster.config import parse_job_config
    job = parse_job_config(heldout_job_data(cfg, train_end), "heldout job")
    shards = _generate(job, Path(cfg.out) / "heldout", h.workers)
    import pyarrow.parquet as pq

    from recognition.data.parquet import shard_files
    from recognition.heldout import write_heldout_bin
    import pyarrow as pa
    table = pa.concat_tables([pq.read_table(f, columns=["image", "identity", "yaw"]) for f in shard_files(shards)])
    return write_heldout_bin(path, table, h.pairs_per_fold, h.frontal_max_yaw, h.profile_min_yaw, seed=0)


def cross_age_job(cfg: BenchmarkConfig, train_end: int) -> dict:
    """The cross-age held-out job: identities after every training and frontal-profile one."""
    from recognition.heldout_age import cross_age_job_data
    a, h = cfg.heldout_cross_age, cfg.heldout
    if h.enabled and h.bin is None:
        train_end = max(h.identity_offset, train_end) + h.identities
    return cross_age_job_data(a, a.job or h.job or cfg.synthetic.job, train_end)


def cross_age_bins(cfg: BenchmarkConfig, train_end: int) -> list[Path]:
    """The AgeDB-30-like held-out .bins (recognition/heldout_age.py), one per kind of negatives:
    given, cached, or rendered once and paired for each kind."""
    a = cfg.heldout_cross_age
    if a.bins is not None:
        for b in a.bins:
            if not Path(b).is_file():
                raise FacesynthError(f"heldout_cross_age.bin: {b} not found")
        return [Path(b) for b in a.bins]
    out = Path(cfg.out)
    # The name says the kind (a cached .bin is never taken for another kind); gap keeps the plain name.
    paths = [out / ("heldout_cross_age.bin" if kind == "gap" else f"heldout_cross_age_{kind}.bin")
             for kind in a.kinds]
    if all(p.is_file() for p in paths):
        return paths
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cluster.config import parse_job_config
    from recognition.data.parquet import shard_files
    from recognition.heldout_age import write_cross_age_bin
    job = parse_job_config(cross_age_job(cfg, train_end), "heldout_cross_age job")
    shards = _generate(job, out / "heldout_cross_age", a.workers)
    cols = ["image", "identity", "image_index", "age"]
    table = pa.concat_tables([pq.read_table(f, columns=cols) for f in shard_files(shards)])
    return [p if p.is_file() else
            write_cross_age_bin(p, table, a.pairs_per_fold, a.min_age_gap, kind, a.matched_max_gap, seed=0)
            for p, kind in zip(paths, a.kinds)]


# ------------------------------------------------------------------ runs

def train_config(t: TrainTemplate, sources: list[SourceConfig], combine: str, out: Path, seed: int,
                 epochs: float | None = None, steps: int | None = None, init_from: str | None = None) -> TrainConfig:
    d = t.model_dump(mode="json", exclude={"num_workers", "input_size", "augment"})
    if epochs is not None or steps is not None:
        d["epochs"], d["steps"] = epochs, steps
    d.update(out=str(out), seed=seed, init_from=init_from, data={
        "sources": [s.model_dump(mode="json") for s in sources], "combine": combine,
        "num_workers": t.num_workers, "input_size": t.input_size, "augment": t.augment.model_dump(mode="json")})
    return TrainConfig.model_validate(d)


def plan_runs(cfg: BenchmarkConfig, syn: Path | None, seed: int) -> list[tuple[str, list[TrainConfig]]]:
    """(row label, train phases) for one seed. Each phase's final checkpoint feeds the next."""
    t, root = cfg.train, Path(cfg.out) / "runs"
    syn_src = SourceConfig(kind="parquet", path=str(syn), name="synthetic") if syn is not None else None
    if not cfg.real:
        return [(cfg.synthetic_name, [train_config(t, [syn_src], "mix", root / f"synthetic-s{seed}", seed)])]
    rows = [(cfg.real_name, [train_config(t, cfg.real, "mix", root / f"real-s{seed}", seed)])]
    if syn_src is None:
        return rows
    label = f"{cfg.real_name} + {cfg.synthetic_name}"
    out = root / f"real+synthetic-{cfg.combine}-s{seed}"
    if cfg.combine == "mix":
        r = cfg.synthetic_ratio
        total_w = sum(s.weight for s in cfg.real)
        real = [s.model_copy(update={"weight": (1 - r) * s.weight / total_w}) for s in cfg.real]
        syn_w = syn_src.model_copy(update={"weight": r})
        # An epoch is a pass over the first real source, so `epochs` keeps real-image passes equal;
        # a step budget is stretched by 1/(1-r) for the same reason.
        steps = math.ceil(t.steps / (1 - r)) if t.steps else None
        rows.append((label, [train_config(t, real + [syn_w], "mix", out, seed, t.epochs if steps is None else None, steps)]))
    elif cfg.combine == "concat":
        plain = [s.model_copy(update={"weight": 1.0}) for s in cfg.real] + [syn_src]
        rows.append((label, [train_config(t, plain, "concat", out, seed)]))
    else:  # pretrain on synthetic, fine-tune on real (DigiFace-1M, Sec. 5)
        pre = train_config(t, [syn_src], "mix", out / "pretrain", seed,
                           epochs=cfg.pretrain_epochs or t.epochs, steps=None if cfg.pretrain_epochs else t.steps)
        fine = train_config(t, cfg.real, "mix", out / "finetune", seed,
                            init_from=str(out / "pretrain" / "final.pt"))
        rows.append((label, [pre, fine]))
    return rows


def describe_combination(cfg: BenchmarkConfig) -> str:
    if not cfg.real:
        return "synthetic data only (no real data configured)"
    if cfg.combine == "mix":
        return (f"mix: {100 * cfg.synthetic_ratio:.0f}% synthetic in every batch, "
                "same number of real-image passes as the real-only run")
    if cfg.combine == "concat":
        return "concat: real and synthetic shuffled into one pool"
    return "pretrain: trained on synthetic, then fine-tuned on real"


def format_table(rows: dict[str, dict[str, list[float]]], sets: list[str], n_seeds: int,
                 fold_std: dict[str, dict[str, float]], with_gain: bool) -> str:
    """Markdown: rows = training data, columns = verification sets, accuracy in %."""
    head = "| Training data | " + " | ".join(sets) + " |"
    lines = [head, "|---|" + "---:|" * len(sets)]
    means = {}
    for label, per_set in rows.items():
        cells = []
        for s in sets:
            acc = 100 * np.asarray(per_set[s])
            means[(label, s)] = acc.mean()
            std = acc.std() if n_seeds > 1 else 100 * fold_std[label][s]
            cells.append(f"{acc.mean():.2f} ± {std:.2f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if with_gain and len(rows) == 2:
        a, b = list(rows)
        lines.append("| gain | " + " | ".join(f"{means[(b, s)] - means[(a, s)]:+.2f}" for s in sets) + " |")
    return "\n".join(lines) + "\n"


def run(cfg: BenchmarkConfig) -> dict:
    from recognition import eval as ev
    from recognition import train
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    for b in cfg.bins:  # validate inputs before any work
        if not Path(b).is_file():
            raise FacesynthError(f"bins: {b} not found; pass insightface .bin files (cfp_fp.bin, agedb_30.bin)")
    for s in cfg.real:
        if not Path(s.path).exists():
            raise FacesynthError(f"real: {s.path} not found; fix the path")
    syn = synthetic_shards(cfg) if cfg.synthetic is not None else None
    bins = list(cfg.bins)
    train_end = 0
    if syn is not None and (cfg.heldout.enabled or cfg.heldout_cross_age.enabled):
        from recognition.data.parquet import ParquetSource
        train_end = int(ParquetSource(syn, preload_mb=0).identities.max()) + 1
    if cfg.heldout.enabled:
        bins.append(str(heldout_bin(cfg, train_end)))
    if cfg.heldout_cross_age.enabled:
        bins.extend(str(p) for p in cross_age_bins(cfg, train_end))
    sets = [ev.set_name(b) for b in bins]
    accs: dict[str, dict[str, list[float]]] = {}
    fold_std: dict[str, dict[str, float]] = {}
    runs = []
    for seed in cfg.seeds:
        for label, phases in plan_runs(cfg, syn, seed):
            ckpt = None
            for phase in phases:
                ckpt = train.run(phase)
            res = ev.run(str(ckpt), bins, [], Path(phases[-1].out) / "eval", cfg.eval_batch_size,
                         "cuda" if train.pick_device(phases[-1].device).type == "cuda" else "cpu")
            for s in sets:
                accs.setdefault(label, {}).setdefault(s, []).append(res["sets"][s]["accuracy_mean"])
                fold_std.setdefault(label, {})[s] = res["sets"][s]["accuracy_std"]
            runs.append({"label": label, "seed": seed, "checkpoint": str(ckpt),
                         "sets": {s: {k: res["sets"][s][k] for k in ("accuracy_mean", "accuracy_std", "tar_at_far")}
                                  for s in sets}})
    table = format_table(accs, sets, len(cfg.seeds), fold_std, with_gain=bool(cfg.real))
    spread = "std over seeds" if len(cfg.seeds) > 1 else "std over the 10 folds of one seed"
    t = cfg.train
    caption = (f"Verification accuracy (%), 10-fold, mean ± {spread}. Combination: {describe_combination(cfg)}. "
               f"{t.model.backbone} x{t.model.width}, {t.model.embedding_size}-D, {t.model.loss}; seeds "
               f"{', '.join(map(str, cfg.seeds))}.\n")
    doc = {"table": table, "caption": caption, "combination": describe_combination(cfg), "seeds": cfg.seeds,
           "sets": sets, "bins": bins, "runs": runs, "config": cfg.model_dump(mode="json")}
    for name, text in (("benchmark.json", json.dumps(doc, indent=1)), ("benchmark.md", caption + "\n" + table)):
        atomic_write_text(out / name, text)
    return {"table": caption + "\n" + table, "json": str(out / "benchmark.json"), "doc": doc}


def run_from_args(config: str | None, out: str | None) -> dict:
    cfg = load_config(config)
    if out:
        cfg = cfg.model_copy(update={"out": out})
    return run(cfg)
