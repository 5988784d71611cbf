"""Soft-tissue change with age as smooth deformation fields of the mesh (cm), placed from the
identity's own landmarks: jowls, lower-lid bags, nasolabial fullness and a general descent of the
lower face grow with age; youthful malar fullness fades (sources in gen/aging/curves.py)."""
from __future__ import annotations

import numpy as np

from gen.aging.traits import AgeLook
from gen.modelcache import FaceModel

MOVED = ("face", "head_neck")  # skin only: eyes, teeth and sockets stay


def aged_vertices(model: FaceModel, vertices: np.ndarray, lk: AgeLook) -> np.ndarray:
    """`vertices` (an identity's neutral shape) with the soft-tissue change of `lk`."""
    g = lk.traits.sag_gain
    sag, full = lk.sag, lk.fullness
    if sag <= 0 and full <= 0:
        return vertices
    lm = vertices[np.asarray(model.landmarks68, np.int64)].astype(np.float64)
    centres, sigmas, moves = [], [], []

    def blob(c, sigma: float, move, w: float) -> None:
        centres.append(c)
        sigmas.append(sigma)
        moves.append(np.asarray(move, np.float64) * w)

    for side, (jaw, corner, wing, lid, outer) in ((-1, (5, 48, 31, (40, 41), 36)), (1, (11, 54, 35, (46, 47), 45))):
        # Jowls: the fat beside the chin descends below the jaw line.
        blob(0.55 * lm[jaw] + 0.45 * lm[corner] + [0.0, -0.4, 0.0], 1.1, [side * 0.18, -0.55, 0.1], sag * g[0])
        # Lower-lid bags: a bulge below the lid, kept off the lid margin.
        blob(lm[list(lid)].mean(0) + [0.0, -0.6, 0.1], 0.38, [0.0, -0.05, 0.22], sag * g[1])
        # Nasolabial fullness: the cheek mass above the fold drops forward onto it.
        blob(0.5 * (lm[wing] + lm[corner]) + [side * 0.9, 0.2, -0.2], 0.8, [side * 0.06, -0.22, 0.24], sag * g[2])
        # Youthful fullness of the malar (upper cheek) fat pad.
        blob(0.5 * (lm[outer] + lm[wing]) + [side * 0.5, -0.4, 0.0], 1.2, [side * 0.08, 0.06, 0.32], full * g[4])
    # General descent of the lower face and a looser neck under the chin.
    blob(lm[57] + [0.0, -0.5, -1.0], 3.0, [0.0, -0.22, 0.0], sag * g[3])
    blob(lm[8] + [0.0, -1.8, -2.5], 1.6, [0.0, -0.35, 0.2], sag * g[3])
    C = np.asarray(centres, np.float32)
    inv = (-0.5 / np.asarray(sigmas, np.float32) ** 2)
    M = np.asarray(moves, np.float32)
    out = vertices.copy()
    for name in MOVED:
        if name not in model.vertex_regions:
            continue
        a, b = model.vertex_regions[name]
        v = vertices[a:b]
        d2 = (v * v).sum(1)[:, None] - 2 * v @ C.T + (C * C).sum(1)[None]
        out[a:b] = v + np.exp(np.maximum(d2, 0) * inv) @ M
    return out
