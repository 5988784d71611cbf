"""What a face recogniser's embeddings say about a set of identities (pure numpy functions).

Distances are Euclidean between embeddings; a pair is "accepted" (taken for one person) when its
distance is below the threshold (0.6 for dlib's recogniser).

- genuine pairs: every pair of images of one identity; TAR = accepted share.
- impostor pairs: pairs of images of different identities; FAR = accepted share. All of them
  when there are at most ``max_impostor_pairs``, else that many drawn with a seeded generator
  (uniform over unordered pairs of different identities), so a report is reproducible.
- EER: the error rate where FAR(t) = FRR(t) over thresholds t.
- uniqueness: share of identity pairs whose mean embeddings lie more than the threshold apart
  (all pairs of identities).
- consistency: every image is paired with its identity's reference image, the most frontal one
  (smallest |yaw|, then lowest index); the TAR of these reference pairs is reported by the
  image's |yaw| bin, by its expression (neutral or expressive) and, when ages are given, by the
  age gap to the reference. One reference per identity keeps the bins comparable: each bin
  asks "is this image still the person of the frontal shot?", as a gallery/probe test would.
- cross-age (when ages are given): every genuine pair by its age gap, the aging effect (mean
  genuine distance at >= 20 years apart minus at < 5 years: is aging visible to the judge?), and
  the FAR by the ages of an impostor pair's two images (younger image's bin x older image's bin):
  where different people are taken for one, among the young, among the old, or across ages.
"""
from __future__ import annotations

import numpy as np

YAW_BINS = ((0, 15), (15, 30), (30, 45), (45, 60), (60, 90))
AGE_GAP_BINS = ((0, 5), (5, 20), (20, float("inf")))
AGE_BINS = ((0, 35), (35, 50), (50, 65), (65, float("inf")))  # years: rows/columns of the FAR by age
# An image is neutral when no blendshape weight exceeds this (the generator's neutral images are
# all zeros; 0.1 also counts barely visible micro-expressions as neutral).
NEUTRAL_MAX_WEIGHT = 0.1
CLOSEST_PAIRS = 10  # identity pairs listed in the report, closest means first
HIST_BINS = np.linspace(0.0, 1.4, 71)  # histogram edges for distances, 0.02 wide


def pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances, float64."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def _pair_dist(emb: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    e = np.asarray(emb, np.float64)
    return np.linalg.norm(e[i] - e[j], axis=1)


def genuine_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (i, j), i < j, of every pair of images that share a label."""
    labels = np.asarray(labels)
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    ii, jj = [], []
    for s, e in zip(starts, ends):
        if e - s > 1:
            a, b = np.triu_indices(e - s, k=1)
            ii.append(order[s + a])
            jj.append(order[s + b])
    if not ii:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i, j = np.concatenate(ii), np.concatenate(jj)
    return np.minimum(i, j), np.maximum(i, j)


def impostor_pairs(labels: np.ndarray, max_pairs: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (i, j), i < j, of pairs with different labels: all, or max_pairs drawn (seeded)."""
    labels = np.asarray(labels)
    n = len(labels)
    _, counts = np.unique(labels, return_counts=True)
    total = n * (n - 1) // 2 - int((counts * (counts - 1) // 2).sum())
    if total <= max_pairs:
        i, j = np.triu_indices(n, k=1)
        keep = labels[i] != labels[j]
        return i[keep], j[keep]
    rng = np.random.default_rng(seed)
    found_i, found_j, have = [], [], 0
    while have < max_pairs:  # rejection of same-label pairs; with many labels few are rejected
        k = 2 * (max_pairs - have) + 64
        i = rng.integers(0, n, k)
        j = rng.integers(0, n, k)
        keep = labels[i] != labels[j]
        i, j = i[keep][:max_pairs - have], j[keep][:max_pairs - have]
        found_i.append(np.minimum(i, j))
        found_j.append(np.maximum(i, j))
        have += len(i)
    return np.concatenate(found_i), np.concatenate(found_j)


def accept_rate(distances: np.ndarray, threshold: float) -> float | None:
    """Share of distances below the threshold (None for no distances)."""
    d = np.asarray(distances)
    return float((d < threshold).mean()) if d.size else None


def eer(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float | None, float | None]:
    """(equal error rate, its threshold).

    FAR(t) = share of impostor distances < t, FRR(t) = share of genuine distances >= t. The
    rate is (FAR + FRR) / 2 at the candidate threshold (any observed distance) where
    |FAR - FRR| is smallest; perfectly separated sets give 0 at a threshold between them.
    """
    g = np.sort(np.asarray(genuine, np.float64))
    im = np.sort(np.asarray(impostor, np.float64))
    if not g.size or not im.size:
        return None, None
    cand = np.unique(np.r_[g, im, np.nextafter(g[-1], np.inf)])
    far = np.searchsorted(im, cand, side="left") / im.size
    frr = 1.0 - np.searchsorted(g, cand, side="left") / g.size
    k = int(np.argmin(np.abs(far - frr)))
    return float(0.5 * (far[k] + frr[k])), float(cand[k])


def identity_means(emb: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted unique labels, (L, D) mean embedding of each)."""
    labels = np.asarray(labels)
    uniq, inv = np.unique(labels, return_inverse=True)
    sums = np.zeros((len(uniq), emb.shape[1]), np.float64)
    np.add.at(sums, inv, np.asarray(emb, np.float64))
    return uniq, sums / np.bincount(inv)[:, None]


def uniqueness(emb: np.ndarray, labels: np.ndarray, threshold: float, chunk: int = 2048) -> dict:
    """Share of identity pairs whose mean embeddings are > threshold apart, and nearest-neighbour stats.

    All L(L-1)/2 identity pairs, in row blocks of `chunk` identities so memory stays bounded for
    large L (the result does not depend on `chunk`)."""
    uniq, means = identity_means(emb, labels)
    n = len(means)
    if n < 2:
        return {"uniqueness": None, "identity_pairs": 0, "nearest_identity_distance": None}
    apart = 0
    nearest = np.full(n, np.inf)
    best = (np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64))  # closest pairs so far
    for start in range(0, n, chunk):
        d = pairwise(means[start:start + chunk], means)
        rows = np.arange(start, min(start + chunk, n))
        d[rows - start, rows] = np.inf
        nearest[rows] = d.min(1)
        a, b = np.nonzero(rows[:, None] < np.arange(n)[None, :])  # upper triangle: each pair once
        du = d[a, b]
        apart += int((du > threshold).sum())
        k = np.argsort(du, kind="stable")[:CLOSEST_PAIRS]
        dist = np.r_[best[0], du[k]]
        ia, ib = np.r_[best[1], rows[a[k]]], np.r_[best[2], b[k]]
        keep = np.lexsort((ib, ia, dist))[:CLOSEST_PAIRS]
        best = (dist[keep], ia[keep], ib[keep])
    pairs = n * (n - 1) // 2
    return {
        "uniqueness": apart / pairs,
        "identity_pairs": pairs,
        # how far each identity's mean is from the closest other identity's mean
        "nearest_identity_distance": _summary(nearest),
        "identities_with_a_twin": float((nearest <= threshold).mean()),
        # the identity pairs a recogniser finds most alike: what to look at first
        "closest_identity_pairs": [[_plain(uniq[i]), _plain(uniq[j]), float(v)] for v, i, j in zip(*best)],
    }


def reference_images(labels: np.ndarray, yaw: np.ndarray, image_index: np.ndarray | None = None) -> np.ndarray:
    """For every image, the index of its identity's most frontal image (smallest |yaw|, then index)."""
    labels = np.asarray(labels)
    n = len(labels)
    idx = np.arange(n) if image_index is None else np.asarray(image_index)
    order = np.lexsort((idx, np.abs(np.asarray(yaw, np.float64)), labels))
    first = np.r_[True, labels[order][1:] != labels[order][:-1]]
    ref_of_group = order[first]
    group = np.cumsum(first) - 1
    ref = np.empty(n, np.int64)
    ref[order] = ref_of_group[group]
    return ref


def _bin_name(lo: float, hi: float) -> str:
    return f"<{hi:g}" if lo == 0 else (f">={lo:g}" if hi == float("inf") else f"{lo:g}-{hi:g}")


def _bin_of(values: np.ndarray, bins) -> np.ndarray:
    """Index of each value's bin (bins as AGE_BINS: contiguous, from 0, the last one open)."""
    return np.searchsorted(np.array([hi for _, hi in bins[:-1]]), values, side="right")


def _binned(dist: np.ndarray, values: np.ndarray, bins, threshold: float, fmt) -> dict:
    out = {}
    for lo, hi in bins:
        m = (values >= lo) & (values < hi)
        if lo == bins[-1][0]:
            m |= values == hi  # the last bin is closed (|yaw| = 90)
        out[fmt(lo, hi)] = {"pairs": int(m.sum()), "tar": accept_rate(dist[m], threshold),
                            "mean_distance": float(dist[m].mean()) if m.any() else None}
    return out


def consistency(emb: np.ndarray, labels: np.ndarray, yaw: np.ndarray, threshold: float,
                expression: np.ndarray | None = None, age: np.ndarray | None = None,
                image_index: np.ndarray | None = None, categories: dict[str, np.ndarray] | None = None) -> dict:
    """TAR of (image, identity's most frontal image) pairs by |yaw| bin, expression, age gap and
    each per-image category given (e.g. glasses: the probe image's value)."""
    yaw = np.asarray(yaw, np.float64)
    ref = reference_images(labels, yaw, image_index)
    probe = np.flatnonzero(ref != np.arange(len(ref)))
    d = _pair_dist(emb, probe, ref[probe])
    out = {"reference": "most frontal image of the identity (smallest |yaw|)",
           "pairs": int(len(probe)), "tar": accept_rate(d, threshold),
           "by_abs_yaw": _binned(d, np.abs(yaw[probe]), YAW_BINS, threshold, lambda lo, hi: f"{lo}-{hi}")}
    if expression is not None:
        expressive = np.asarray(expression, np.float64).max(axis=1) > NEUTRAL_MAX_WEIGHT
        out["by_expression"] = {
            name: {"pairs": int(m.sum()), "tar": accept_rate(d[m], threshold),
                   "mean_distance": float(d[m].mean()) if m.any() else None}
            for name, m in (("neutral", ~expressive[probe]), ("expressive", expressive[probe]))}
    if age is not None:
        age = np.asarray(age, np.float64)
        gap = np.abs(age[probe] - age[ref[probe]])
        out["by_age_gap"] = _binned(d, gap, AGE_GAP_BINS, threshold, _bin_name)
    for name, values in sorted((categories or {}).items()):
        v = np.asarray(values)[probe]
        out[f"by_{name}"] = {str(c): {"pairs": int((v == c).sum()), "tar": accept_rate(d[v == c], threshold),
                                      "mean_distance": float(d[v == c].mean())}
                             for c in np.unique(v)}
    return out


def cross_age(age: np.ndarray, genuine: tuple, impostor: tuple, threshold: float) -> dict:
    """Genuine pairs by age gap with the aging effect, and the FAR by the ages of impostor pairs.
    genuine, impostor: (i, j, distance) of the pairs `compute` drew."""
    age = np.asarray(age, np.float64)
    gi, gj, g = genuine
    gap = np.abs(age[gi] - age[gj])
    by_gap = _binned(g, gap, AGE_GAP_BINS, threshold, _bin_name)
    near, far = by_gap[_bin_name(*AGE_GAP_BINS[0])], by_gap[_bin_name(*AGE_GAP_BINS[-1])]
    effect = (far["mean_distance"] - near["mean_distance"]
              if far["mean_distance"] is not None and near["mean_distance"] is not None else None)
    ii, ij, im = impostor
    lo = _bin_of(np.minimum(age[ii], age[ij]), AGE_BINS)
    hi = _bin_of(np.maximum(age[ii], age[ij]), AGE_BINS)
    names = [_bin_name(*b) for b in AGE_BINS]
    by_age: dict = {}
    for r in range(len(AGE_BINS)):
        by_age[names[r]] = {}
        for c in range(r, len(AGE_BINS)):
            m = (lo == r) & (hi == c)
            by_age[names[r]][names[c]] = {"pairs": int(m.sum()), "far": accept_rate(im[m], threshold)}
    return {"genuine_by_age_gap": by_gap,
            # mean genuine distance >= 20 years apart minus < 5 years apart: aging the judge sees
            "aging_effect": effect,
            "far_by_age": by_age}


def _plain(x):
    """A label as a JSON-friendly Python value."""
    return x.item() if isinstance(x, np.generic) else x


def _summary(d: np.ndarray) -> dict | None:
    d = np.asarray(d, np.float64)
    if not d.size:
        return None
    p5, p50, p95 = np.percentile(d, [5, 50, 95])
    return {"count": int(d.size), "mean": float(d.mean()), "std": float(d.std()), "min": float(d.min()),
            "p5": float(p5), "median": float(p50), "p95": float(p95), "max": float(d.max())}


def compute(emb: np.ndarray, labels: np.ndarray, yaw: np.ndarray | None = None, threshold: float = 0.6,
            expression: np.ndarray | None = None, age: np.ndarray | None = None,
            image_index: np.ndarray | None = None, categories: dict[str, np.ndarray] | None = None,
            max_impostor_pairs: int = 1_000_000, seed: int = 0) -> tuple[dict, dict]:
    """(metrics dict for the report, raw distances {"genuine": ..., "impostor": ...} for plots)."""
    emb = np.asarray(emb)
    labels = np.asarray(labels)
    if emb.ndim != 2 or len(emb) != len(labels):
        raise ValueError(f"expected (N, D) embeddings and N labels (got {emb.shape} and {labels.shape})")
    gi, gj = genuine_pairs(labels)
    ii, ij = impostor_pairs(labels, max_impostor_pairs, seed)
    g = _pair_dist(emb, gi, gj)
    im = _pair_dist(emb, ii, ij)
    rate, at = eer(g, im)
    out = {
        "threshold": float(threshold),
        "images": int(len(labels)),
        "identities": int(len(np.unique(labels))),
        "far": accept_rate(im, threshold),
        "tar": accept_rate(g, threshold),
        "eer": rate,
        "eer_threshold": at,
        **uniqueness(emb, labels, threshold),
        "genuine": _summary(g),
        "impostor": _summary(im),
        # True when impostor pairs were drawn (seeded) rather than all taken
        "impostor_pairs_sampled": bool(len(labels) * (len(labels) - 1) // 2 - len(g) > max_impostor_pairs),
    }
    sex = (categories or {}).get("sex")
    if sex is not None:  # are people of one sex told apart as well as people of two?
        same = np.asarray(sex)[ii] == np.asarray(sex)[ij]
        out["far_same_sex"], out["far_cross_sex"] = accept_rate(im[same], threshold), accept_rate(im[~same], threshold)
    if yaw is not None:
        out["consistency"] = consistency(emb, labels, yaw, threshold, expression, age, image_index, categories)
    if age is not None and np.isfinite(np.asarray(age, np.float64)).all():
        out["cross_age"] = cross_age(age, (gi, gj, g), (ii, ij, im), threshold)
    return out, {"genuine": g, "impostor": im}
