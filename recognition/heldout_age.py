"""Held-out synthetic cross-age verification set (AgeDB-30-like), in insightface's .bin format.

AgeDB-30 (Moschoglou et al., CVPR-W 2017) pairs photos of one person taken about 30 years
apart. Here held-out identities are rendered with aging on, each at several ages over a wide
span (gen/aging/), and every positive pair sets two images of one identity at least
`min_age_gap` years apart. As in recognition/heldout.py, identities are split into 10
disjoint groups, one per fold, and each fold holds pairs_per_fold pairs, half positive.
Everything is a pure function of (rows, seed, config).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.errors import FacesynthError
from core.rng import stream
from recognition.verification import N_FOLDS, write_bin

STREAM_AGE_PAIRS = 0x4147
# Ages are stored rounded to 0.01 year (gen/aging/ages.py) in float32: a gap meant to be exactly
# 30 years may read back as 29.99.
AGE_TOLERANCE = 0.011
NEGATIVES = ("gap", "matched", "any")


def _negative_ok(gap: np.ndarray, negatives: str, min_age_gap: float, matched_max_gap: float) -> np.ndarray:
    if negatives == "gap":
        return gap >= min_age_gap - AGE_TOLERANCE
    if negatives == "matched":
        return gap <= matched_max_gap + AGE_TOLERANCE
    return np.ones_like(gap, dtype=bool)


def build_age_pairs(identity, age, pairs_per_fold: int, min_age_gap: float = 30.0, negatives: str = "gap",
                    matched_max_gap: float = 5.0, seed: int = 0, n_folds: int = N_FOLDS) -> list[tuple[int, int, bool]]:
    """(row a, row b, issame) for every pair, fold after fold (positives, then negatives, in each).
    Rows are indices into `identity` and `age`, which must be in a fixed order (see order_rows)."""
    identity, age = np.asarray(identity), np.asarray(age, dtype=np.float64)
    if pairs_per_fold % 2:
        raise FacesynthError(f"pairs_per_fold {pairs_per_fold}: must be even (half positive)")
    if negatives not in NEGATIVES:
        raise FacesynthError(f"negatives {negatives!r}: choose one of {', '.join(NEGATIVES)}")
    if not np.isfinite(age).all():
        raise FacesynthError("cross-age held-out rows have no age (NaN): render them with gen.aging.enabled: true")
    rows = {int(i): np.flatnonzero(identity == i) for i in np.unique(identity)}
    positives = {}
    for i, r in rows.items():
        a, b = np.triu_indices(len(r), 1)
        far = np.abs(age[r[a]] - age[r[b]]) >= min_age_gap - AGE_TOLERANCE
        positives[i] = list(zip(r[a][far].tolist(), r[b][far].tolist()))
    ids = np.array(sorted(i for i in rows if positives[i]))
    if len(ids) < 2 * n_folds:
        raise FacesynthError(f"cross-age held-out set: {len(ids)} identities have two images >= {min_age_gap} years "
                             f"apart; need at least {2 * n_folds} (render more identities or widen the span)")
    groups = np.array_split(stream(seed, STREAM_AGE_PAIRS).permutation(ids), n_folds)
    half = pairs_per_fold // 2
    out: list[tuple[int, int, bool]] = []
    for fold, group in enumerate(groups):
        frng = stream(seed, STREAM_AGE_PAIRS, fold)
        combos = [p for i in group for p in positives[int(i)]]
        if len(combos) < half:
            raise FacesynthError(f"cross-age fold {fold}: only {len(combos)} distinct positive pairs for {half}; "
                                 "lower pairs_per_fold, render more identities or more stages")
        out += [(*combos[k], True) for k in frng.permutation(len(combos))[:half]]
        members = np.concatenate([rows[int(i)] for i in group])
        for t in range(half):
            out.append((*_negative(frng, group, t, rows, members, identity, age, negatives, min_age_gap,
                                   matched_max_gap, fold), False))
    return out


def _negative(rng, group, t, rows, members, identity, age, negatives, min_age_gap, matched_max_gap, fold):
    """A different-identity pair, drawn uniformly from those meeting the age condition whose first
    image is identity group[t % len]'s (or the next identity's, when it has none)."""
    for step in range(len(group)):
        a = int(group[(t + step) % len(group)])
        mine, others = rows[a], members[identity[members] != a]
        ok = np.flatnonzero(_negative_ok(np.abs(age[mine][:, None] - age[others][None, :]), negatives,
                                         min_age_gap, matched_max_gap))
        if len(ok):
            k = int(rng.choice(ok))
            return int(mine[k // len(others)]), int(others[k % len(others)])
    raise FacesynthError(f"cross-age fold {fold}: no pair of different identities meets negatives: {negatives}; "
                         "use negatives: any, or render more identities")


def order_rows(table):
    """The rows sorted by (identity, image_index): pairs then do not depend on shard order."""
    keys = ["identity", "image_index"] if "image_index" in table.columns else ["identity"]
    return table.sort_values(keys, kind="stable").reset_index(drop=True)


def write_cross_age_bin(path: str | Path, table, pairs_per_fold: int, min_age_gap: float = 30.0,
                        negatives: str = "gap", matched_max_gap: float = 5.0, seed: int = 0) -> Path:
    """Build the pairs from a table (pandas or pyarrow) with columns image, identity, age
    (image_index, when present, fixes the order)."""
    if hasattr(table, "to_pandas"):
        table = table.to_pandas()
    for col in ("image", "identity", "age"):
        if col not in table.columns:
            raise FacesynthError(f"cross-age held-out rows lack column {col!r}; render with facesynth's Parquet schema")
    table = order_rows(table)
    pairs = build_age_pairs(table["identity"].to_numpy(), table["age"].to_numpy(), pairs_per_fold, min_age_gap,
                            negatives, matched_max_gap, seed)
    images = list(table["image"])
    return write_bin(path, [images[k] for a, b, _ in pairs for k in (a, b)], [s for _, _, s in pairs])


def cross_age_job_data(h, spec: str | dict, train_end: int) -> dict:
    """The cross-age held-out job (h: HeldoutCrossAgeConfig): identities after every training one,
    aged over h.span years in h.stages stages, h.images_per_stage images at each, near-frontal."""
    from core.config import read_yaml
    data = read_yaml(spec) if isinstance(spec, str) else json.loads(json.dumps(spec))
    data.update(identity_start=max(h.identity_offset, train_end), identities=h.identities,
                images_per_identity=h.stages * h.images_per_stage)
    gen = data.setdefault("gen", {})
    # stage_run = images_per_stage and stages * stage_run images: every identity shows every age.
    gen["aging"] = {**gen.get("aging", {}), "enabled": True, "span": h.span, "stages": h.stages,
                    "stage_run": h.images_per_stage, "base_age": {"min": h.min_age, "max": h.max_age}}
    pose = data.setdefault("render", {}).setdefault("pose", {})
    pose.pop("poses", None)
    pose["yaw"] = {"kind": "normal", "mean": 0.0, "std": h.max_yaw / 2, "min": -h.max_yaw, "max": h.max_yaw}
    return data


def cross_age_bin_from_dataset(uri: str, path: str | Path, pairs_per_fold: int, min_age_gap: float = 30.0,
                               negatives: str = "gap", matched_max_gap: float = 5.0, seed: int = 0) -> Path:
    """The .bin of a rendered dataset (e.g. the benchmark's OUT/heldout_cross_age), via its manifest."""
    from cluster.dataset import open_dataset
    table = open_dataset(uri, require_complete=True).read(columns=["image", "identity", "image_index", "age"])
    return write_cross_age_bin(path, table, pairs_per_fold, min_age_gap, negatives, matched_max_gap, seed)
