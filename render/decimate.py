"""A coarser drawing mesh: most of ICT's triangles are smaller than a pixel at facesynth's frame size.

In a frontal 144 px frame the face's ~19,650 front-facing triangles have a median area of 0.39 px²
(81% under one pixel, docs/render.md). llvmpipe pays per triangle (vertex shading, setup, and at
least one block of fragment shading each), so it spends most of a frame on triangles no pixel
needs. `decimate` removes a share of them by quadric edge collapse (Garland & Heckbert,
SIGGRAPH 1997; the fast-simplification package) on the model's mean shape, once per process:

- half-edge collapses only: every drawn vertex is one of the model's, so identities, expressions
  and aging move the coarse mesh exactly as they move the full one, and the UVs are the vertex's own;
- borders stay whole: in the unwelded mesh a UV seam is a border, so seams, the lids' and lips'
  openings and the lash ribbons keep every vertex and edge (no cracks, no smeared texture);
- the lids keep every triangle (a blink or squint folds them, which a coarse lid shows as spikes);
- normals still come from the full mesh (render/mesh.py: vertex_normals), so shading stays smooth.
"""
from __future__ import annotations

import dataclasses

import numpy as np

# Face triangles whose centroid lies this close (cm) to an eye's centre (mean of its 6 iBUG
# landmarks) are kept whole: the lids, lid creases and inner/outer corners.
LID_RADIUS_CM = 1.6


def decimate(prim, positions: np.ndarray, reduction: float, keep: np.ndarray | None = None):
    """`prim` (a render.mesh.Primitive) with about `reduction` of its triangles outside `keep` (T,) bool removed.

    `positions` (U, 3): the unwelded vertices on the shape the collapses are chosen on. The result
    draws a subset of `prim`'s vertices (same `vertex` and `uv` rows) with new triangles.

    The collapses are chosen for an optimal new position, but each vertex stays where it is, so
    about 1% of the coarse triangles fold over a neighbour. They face away from the camera where
    the fold is seen from the front, and are culled: the triangles around them cover the area."""
    if reduction <= 0 or len(prim.triangles) == 0:
        return prim
    tris = prim.triangles.astype(np.int64)
    keep = np.zeros(len(tris), bool) if keep is None else np.asarray(keep, bool)
    out = np.concatenate([tris[keep], _collapse(tris[~keep], positions, reduction)])
    drawn = np.unique(out)
    renumber = np.full(len(prim.vertex), -1, np.int64)
    renumber[drawn] = np.arange(len(drawn))
    return dataclasses.replace(prim, vertex=prim.vertex[drawn], uv=prim.uv[drawn],
                               triangles=np.ascontiguousarray(renumber[out].astype(np.uint32)))


def _collapse(free: np.ndarray, positions: np.ndarray, reduction: float) -> np.ndarray:
    """The triangles `free` (T, 3) after the collapses, in the same vertex ids."""
    import fast_simplification

    used = np.unique(free)
    local = np.full(len(positions), -1, np.int64)
    local[used] = np.arange(len(used))
    # Vertices shared with kept triangles are borders of the free part, so they stay too.
    _, _, collapses = fast_simplification.simplify(
        np.ascontiguousarray(positions[used], np.float32), np.ascontiguousarray(local[free], np.int32),
        target_reduction=float(reduction), preserve_border=True, return_collapses=True)
    survivor = np.arange(len(used))
    for a, b in np.asarray(collapses, np.int64).reshape(-1, 2):  # b was merged into a
        survivor[b] = a
    while True:  # follow chains of merges to the vertex that remains
        nxt = survivor[survivor]
        if np.array_equal(nxt, survivor):
            break
        survivor = nxt
    coarse = used[survivor[local[free]]]
    return coarse[(coarse[:, 0] != coarse[:, 1]) & (coarse[:, 1] != coarse[:, 2]) & (coarse[:, 0] != coarse[:, 2])]


def lid_triangles(model, prim, used: np.ndarray, ball: np.ndarray) -> np.ndarray:
    """(T,) bool: triangles of `prim` near the eyes that are not on an eyeball (`ball`: (V,) bool
    over the model's vertices). `used`: the welded subset's model vertex ids."""
    v = np.asarray(model.neutral, np.float64)
    lm = v[np.asarray(model.landmarks68)]
    eyes = np.stack([lm[36:42].mean(0), lm[42:48].mean(0)])
    corners = used[prim.vertex[prim.triangles.astype(np.int64)]]  # (T, 3) model vertex ids
    centre = v[corners].mean(1)
    near = np.min(np.linalg.norm(centre[:, None] - eyes[None], axis=2), 1) < LID_RADIUS_CM
    return near & ~ball[corners].all(1)
