"""`facesynth inspect OUT`: dataset statistics, a contact sheet and pose/expression histograms."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pyarrow.compute as pc

from cluster.dataset import Dataset, open_dataset
from core.atomic import atomic_path, atomic_write_text
from core.errors import FacesynthError

SHEET_IDS = 8  # contact sheet: up to 8 identities (rows) x 8 images (columns)
SHEET_IMAGES = 8


def stats(ds: Dataset) -> dict:
    names = set(ds.arrow().schema.names)
    cats = [c for c in ("sex", "hair_style", "glasses", "headwear", "face_mask") if c in names]  # sex: schema 3
    t = ds.read(columns=["identity", "image_index", "yaw", "pitch", "roll", "background", "expression", "age", *cats])
    ident = t["identity"].to_numpy()
    per_id = np.unique(ident, return_counts=True)[1] if len(ident) else np.zeros(0, int)
    pairs = ident.astype(np.int64) * (1 << 32) + t["image_index"].to_numpy().astype(np.int64)
    m = ds.manifest

    def rng(name):
        a = t[name].to_numpy()
        return {"min": float(a.min()), "mean": float(a.mean()), "max": float(a.max()),
                "std": float(a.std())} if len(a) else {}

    bg = pc.value_counts(t["background"]).to_pylist() if len(t) else []

    def counts(name):
        return {d["values"]: int(d["counts"]) for d in pc.value_counts(t[name]).to_pylist()} if len(t) else {}

    age = t["age"].to_numpy(zero_copy_only=False).astype(np.float64)
    aged = np.isfinite(age)
    span = _age_spans(ident[aged], age[aged])
    return {
        "uri": ds.out.uri, "complete": ds.complete, "schema_version": m["schema_version"],
        "config_hash": m["config_hash"], "image_format": m.get("image_format"),
        "shards": len(m["committed"]), "units": m["layout"]["units"], "bytes": ds.bytes,
        "rows": t.num_rows, "identities": int(len(per_id)),
        "images_per_identity": {"min": int(per_id.min()), "max": int(per_id.max())} if len(per_id) else {},
        "duplicates": int(len(pairs) - len(np.unique(pairs))),
        "yaw": rng("yaw"), "pitch": rng("pitch"), "roll": rng("roll"),
        "background": {d["values"]: int(d["counts"]) for d in bg},
        "expression_mean": float(np.asarray(t["expression"].combine_chunks().flatten()).mean()) if len(t) else 0.0,
        "age": ({"min": float(age[aged].min()), "mean": float(age[aged].mean()), "max": float(age[aged].max()),
                 "std": float(age[aged].std())} if aged.any() else {}),
        "age_span_per_identity": ({"min": float(span.min()), "mean": float(span.mean()), "max": float(span.max()),
                                   "std": float(span.std())} if len(span) else {}),
        **{name: counts(name) for name in cats},
        "identity_filter": _filter_summary(m),
    }


def _filter_summary(m: dict) -> dict | None:
    """What the identity filter did (render/identity_filter.py), from the manifest; None when off."""
    f = m.get("identity_filter")
    if not f:
        return None
    cfg = m.get("config", {}).get("render", {}).get("identity_filter", {})
    close = np.asarray(f.get("close", []), np.int64)
    nearest = np.asarray([d for d in f["nearest"] if d >= 0], np.float64)  # -1: the first identity
    return {"identities": len(f["variants"]), "candidates": int(f["tries"]), "unmet": int(f["unmet"]),
            "min_distance": cfg.get("min_distance"), "max_tries": cfg.get("max_tries"), "cohort": cfg.get("cohort", 0),
            "score": cfg.get("score", "count"),
            "close_median": float(np.median(close)) if len(close) else None,
            "nearest_median": float(np.median(nearest)) if len(nearest) else None}


def _age_spans(ident: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Oldest minus youngest age shown, per identity."""
    if not len(ident):
        return np.zeros(0)
    order = np.argsort(ident, kind="stable")
    ids, start = np.unique(ident[order], return_index=True)
    return np.maximum.reduceat(age[order], start) - np.minimum.reduceat(age[order], start)


def age_histogram(ds: Dataset, path: Path) -> Path | None:
    """Ages of the images and each identity's age span (None when the dataset has no ages)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t = ds.read(columns=["identity", "age"])
    age = t["age"].to_numpy(zero_copy_only=False).astype(np.float64)
    ok = np.isfinite(age)
    if not ok.any():
        return None
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(8, 3))
    a0.hist(age[ok], bins=34, range=(0, 102), color="#667744")
    a0.set_xlabel("age in the image (years)")
    a1.hist(_age_spans(t["identity"].to_numpy()[ok], age[ok]), bins=20, color="#447766")
    a1.set_xlabel("age span per identity (years)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return path


def contact_sheet(ds: Dataset, path: Path) -> Path:
    from PIL import Image

    m = ds.manifest
    first = m["layout"]["identity_start"]
    filt = (pc.field("identity") < first + SHEET_IDS) & (pc.field("image_index") < SHEET_IMAGES)
    t = ds.read(columns=["image", "identity", "image_index"], filter=filt)
    tiles = {(int(i), int(j)): b for b, i, j in zip(t["image"].to_pylist(), t["identity"].to_pylist(),
                                                    t["image_index"].to_pylist())}
    ids = sorted({i for i, _ in tiles})
    cols = max([j for _, j in tiles], default=0) + 1
    size = None
    sheet = None
    for r, i in enumerate(ids):
        for j in range(cols):
            if (i, j) not in tiles:
                continue
            im = Image.open(io.BytesIO(tiles[(i, j)])).convert("RGB")
            if sheet is None:
                size = im.size
                sheet = Image.new("RGB", (cols * size[0], max(1, len(ids)) * size[1]), (255, 255, 255))
            sheet.paste(im.resize(size), (j * size[0], r * size[1]))
    if sheet is None:
        sheet = Image.new("RGB", (112, 112), (255, 255, 255))
    with atomic_path(path) as tmp:
        sheet.save(tmp)
    return path


def histograms(ds: Dataset, pose_path: Path, expr_path: Path) -> tuple[Path, Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = ds.read(columns=["yaw", "pitch", "roll", "expression"])
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    for ax, name in zip(axes, ("yaw", "pitch", "roll")):
        ax.hist(t[name].to_numpy(), bins=36, color="#4477aa")
        ax.set_xlabel(f"{name} (deg)")
    axes[0].set_ylabel("images")
    fig.suptitle(f"head pose, {t.num_rows} images")
    fig.tight_layout()
    with atomic_path(pose_path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)

    names = json.loads(ds.arrow().schema.metadata.get(b"facesynth.expression_names", b"[]"))
    e = np.asarray(t["expression"].combine_chunks().flatten()).reshape(t.num_rows, -1) if t.num_rows else np.zeros((0, 1))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 4), gridspec_kw={"width_ratios": [1, 3]})
    a1.hist(e.max(axis=1) if len(e) else [], bins=20, color="#aa7744")
    a1.set_xlabel("strongest blendshape weight per image")
    a1.set_ylabel("images")
    a2.bar(np.arange(e.shape[1]), e.mean(axis=0) if len(e) else np.zeros(e.shape[1]), color="#aa7744")
    a2.set_xticks(np.arange(e.shape[1]))
    a2.set_xticklabels(names if len(names) == e.shape[1] else [str(k) for k in range(e.shape[1])],
                       rotation=90, fontsize=6)
    a2.set_ylabel("mean weight")
    fig.suptitle("expression (ARKit blendshape weights)")
    fig.tight_layout()
    with atomic_path(expr_path) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
    return pose_path, expr_path


def inspect(uri: str, report: str | None = None) -> dict:
    ds = open_dataset(uri, verify=True)  # damaged shards: one line, before any report is written
    if report is None:
        report = os.path.join(ds.out.root, "_inspect") if ds.out.is_local else "facesynth-inspect"
    rdir = Path(report)
    try:
        rdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FacesynthError(f"--report {report}: cannot create it ({e.strerror}); pass a folder you can write to") from None
    s = stats(ds)
    s["contact_sheet"] = str(contact_sheet(ds, rdir / "contact_sheet.png"))
    pose, expr = histograms(ds, rdir / "pose_hist.png", rdir / "expression_hist.png")
    s["pose_hist"], s["expression_hist"] = str(pose), str(expr)
    ages = age_histogram(ds, rdir / "age_hist.png")
    s["age_hist"] = str(ages) if ages else None
    atomic_write_text(rdir / "stats.json", json.dumps(s, indent=1))
    s["stats_json"] = str(rdir / "stats.json")
    return s


def format_stats(s: dict) -> str:
    def r(d):
        return f"{d['min']:.1f} .. {d['max']:.1f} (mean {d['mean']:.1f}, std {d['std']:.1f})" if d else "-"
    ipi = s["images_per_identity"]
    lines = [
        f"{s['uri']}: {'complete' if s['complete'] else 'INCOMPLETE'}, schema v{s['schema_version']}, "
        f"config {s['config_hash'][:12]}",
        f"  rows {s['rows']}, identities {s['identities']} "
        f"({ipi.get('min', 0)}..{ipi.get('max', 0)} images each), duplicates {s['duplicates']}",
        f"  shards {s['shards']}/{s['units']}, {s['bytes'] / 1e6:.1f} MB, images {s['image_format']}",
        f"  yaw {r(s['yaw'])}", f"  pitch {r(s['pitch'])}", f"  roll {r(s['roll'])}",
        "  background " + ", ".join(f"{k}: {v}" for k, v in sorted(s["background"].items())),
        f"contact sheet: {s['contact_sheet']}",
        f"  age {r(s['age'])}, span per identity {r(s['age_span_per_identity'])}",
        "  " + "; ".join(f"{k.replace('_', ' ')}: " + ", ".join(f"{a} {n}" for a, n in sorted(s[k].items()))
                         for k in ("sex", "hair_style", "glasses", "headwear", "face_mask") if k in s),
        *([_format_filter(s["identity_filter"])] if s.get("identity_filter") else []),
        f"histograms: {s['pose_hist']} {s['expression_hist']}" + (f" {s['age_hist']}" if s.get("age_hist") else ""),
        f"stats: {s['stats_json']}",
    ]
    return "\n".join(lines)


def _format_filter(f: dict) -> str:
    line = (f"  identity filter: {f['candidates']:,} candidates for {f['identities']:,} identities "
            f"(min_distance {f['min_distance']}, up to {f['max_tries']} tries, cohort {f['cohort']}, "
            f"ranked by {f.get('score', 'count')}); "
            f"{f['unmet']:,} kept with an earlier identity or reference within min_distance")
    if f["close_median"] is not None and f["nearest_median"] is not None:
        line += (f"; earlier identities within it: median {f['close_median']:g}; nearest earlier identity: "
                 f"median {f['nearest_median']:.3f}")
    return line
