"""Held-out synthetic frontal-vs-profile verification set, in insightface's .bin format.

Like CFP-FP, every pair sets a frontal image against a profile one. Identities are split
into 10 disjoint groups, one per fold, so the threshold picked on 9 folds never saw the
10th fold's identities. Each fold holds pairs_per_fold pairs: half the same identity, half a
different one. Everything is a pure function of (rows, seed).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import FacesynthError
from core.rng import stream
from recognition.verification import N_FOLDS, write_bin

STREAM_PAIRS = 0x4850


def build_pairs(images: list[bytes], identity: np.ndarray, yaw: np.ndarray, pairs_per_fold: int,
                frontal_max_yaw: float = 10.0, profile_min_yaw: float = 60.0, seed: int = 0,
                n_folds: int = N_FOLDS) -> tuple[list[bytes], list[bool]]:
    """(images, issame) with 2 images per pair: frontal first, profile second."""
    identity, yaw = np.asarray(identity), np.abs(np.asarray(yaw, float))
    if pairs_per_fold % 2:
        raise FacesynthError(f"pairs_per_fold {pairs_per_fold}: must be even (half positive)")
    frontal = {i: np.flatnonzero((identity == i) & (yaw <= frontal_max_yaw)) for i in np.unique(identity)}
    profile = {i: np.flatnonzero((identity == i) & (yaw >= profile_min_yaw)) for i in np.unique(identity)}
    ids = np.array(sorted(i for i in frontal if len(frontal[i]) and len(profile[i])))
    if len(ids) < 2 * n_folds:
        raise FacesynthError(f"held-out set: {len(ids)} identities have both a frontal (|yaw| <= {frontal_max_yaw}) "
                             f"and a profile (|yaw| >= {profile_min_yaw}) image; need at least {2 * n_folds}")
    rng = stream(seed, STREAM_PAIRS)
    groups = np.array_split(rng.permutation(ids), n_folds)
    half = pairs_per_fold // 2
    out_images: list[bytes] = []
    issame: list[bool] = []
    for fold, group in enumerate(groups):
        frng = stream(seed, STREAM_PAIRS, fold)
        combos = [(i, f, p) for i in group for f in frontal[i] for p in profile[i]]
        if len(combos) < half:
            raise FacesynthError(f"held-out fold {fold}: only {len(combos)} distinct positive pairs for {half}; "
                                 "lower pairs_per_fold or render more identities or images")
        for k in frng.permutation(len(combos))[:half]:
            _, f, p = combos[k]
            out_images += [images[f], images[p]]
            issame.append(True)
        for t in range(half):
            a = group[t % len(group)]
            b = group[(t % len(group) + 1 + int(frng.integers(len(group) - 1))) % len(group)]
            out_images += [images[int(frng.choice(frontal[a]))], images[int(frng.choice(profile[b]))]]
            issame.append(False)
    return out_images, issame


def write_heldout_bin(path: str | Path, table, pairs_per_fold: int, frontal_max_yaw: float = 10.0,
                      profile_min_yaw: float = 60.0, seed: int = 0) -> Path:
    """Build the pairs from a table (pandas or pyarrow) with columns image, identity, yaw."""
    if hasattr(table, "to_pandas"):
        table = table.to_pandas()
    for col in ("image", "identity", "yaw"):
        if col not in table.columns:
            raise FacesynthError(f"held-out rows lack column {col!r}; render with facesynth's Parquet schema")
    images, issame = build_pairs(list(table["image"]), table["identity"].to_numpy(), table["yaw"].to_numpy(),
                                 pairs_per_fold, frontal_max_yaw, profile_min_yaw, seed)
    return write_bin(path, images, issame)


def heldout_bin_from_dataset(uri: str, path: str | Path, pairs_per_fold: int, frontal_max_yaw: float = 10.0,
                             profile_min_yaw: float = 60.0, seed: int = 0) -> Path:
    """The .bin of a rendered held-out dataset (e.g. the benchmark's OUT/heldout), read through
    its manifest. Only the three needed columns are read; a .bin is one pickle, built in memory."""
    from cluster.dataset import open_dataset
    table = open_dataset(uri, require_complete=True).read(columns=["image", "identity", "yaw"])
    return write_heldout_bin(path, table, pairs_per_fold, frontal_max_yaw, profile_min_yaw, seed)
