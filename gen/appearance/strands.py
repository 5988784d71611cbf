"""Static hair stroke fields: short anti-aliased strokes drawn once per process, which an
identity thresholds by its own density (sparse hair lets skin show through)."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class StrandField:
    """Short anti-aliased strokes drawn once per process over a box of one tile, padded by `pad`
    texels on each side so an identity can take a randomly shifted box-sized window of it.
    rank: value in (0, 1] of the top-most stroke (strokes are drawn in rank order, so it is the
    highest rank covering the texel); thresholding it at 1 - density keeps a `density` share of
    the strokes, which is how sparse hair lets skin show through. tint: per-stroke brightness."""
    box: tuple
    pad: int
    rank: np.ndarray
    tint: np.ndarray

    def window(self, rng) -> tuple[np.ndarray, np.ndarray]:
        r0, r1, c0, c1 = self.box
        oy, ox = (int(v) for v in rng.integers(0, 2 * self.pad + 1, 2))
        return (self.rank[oy:oy + r1 - r0, ox:ox + c1 - c0], self.tint[oy:oy + r1 - r0, ox:ox + c1 - c0])


def draw_strands(tag: int, box: tuple, pad: int, seed_mask: np.ndarray, dirs: np.ndarray, per_texel: float,
                  length: tuple[float, float], jitter: float, tint: tuple[float, float]) -> StrandField:
    """Strokes rooted at random texels of `seed_mask` (box-sized), pointing along `dirs` (box-sized
    unit (dx, dy) in texels) with `jitter` radians of spread; `per_texel` strokes per seed texel."""
    rng = np.random.default_rng(np.random.SeedSequence([0x4A1F, tag]))  # static: same in every process
    sm = np.pad(seed_mask, pad, mode="edge")
    dv = np.pad(dirs, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    ys, xs = np.nonzero(sm)
    h, w = sm.shape
    n = int(per_texel * len(ys))
    if n == 0:
        z = np.zeros((h, w), np.float32)
        return StrandField(box, pad, z, z + 1)
    k = rng.integers(0, len(ys), n)
    root = np.stack([xs[k], ys[k]], 1) + rng.random((n, 2)) - 0.5
    ang = np.arctan2(dv[ys[k], xs[k], 1], dv[ys[k], xs[k], 0]) + rng.normal(0, jitter, n)
    d = np.stack([np.cos(ang), np.sin(ang)], 1)
    ln = rng.uniform(*length, n)[:, None]
    segs = np.stack([root - 0.2 * ln * d, root + 0.8 * ln * d], 1)
    rank = rng.random(n)
    tl = rng.integers(0, 4, n)
    order = np.argsort(rank, kind="stable")
    rank_img = np.zeros((h, w), np.uint8)
    tint_img = np.full((h, w), 128, np.uint8)
    pts = np.round(segs * 16).astype(np.int32)
    nb = 16  # rank levels: strokes are drawn lowest rank first, one polylines call per level x tint
    lvl = np.minimum((rank * nb).astype(int), nb - 1)
    for b in range(nb):
        for t in range(4):
            sel = order[(lvl[order] == b) & (tl[order] == t)]
            if sel.size:
                cv2.polylines(rank_img, list(pts[sel]), False, int(round((b + 1) * 255 / nb)), 1, cv2.LINE_AA, shift=4)
                cv2.polylines(tint_img, list(pts[sel]), False, int(t * 255 / 3), 1, cv2.LINE_AA, shift=4)
    lo, hi = tint
    return StrandField(box, pad, rank_img.astype(np.float32) * (1 / 255),
                        (lo + (hi - lo) * tint_img.astype(np.float32) * (1 / 255)).astype(np.float32))

