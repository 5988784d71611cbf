"""A coarser drawing mesh where the judge does not look: most of ICT's triangles are under a pixel.

In a frontal 144 px frame the face's ~19,650 front-facing triangles have a median area of 0.39 px²
(81% under one pixel, docs/render.md), and llvmpipe pays for every triangle it is given (vertex
work, setup, at least one block of fragment shading). `zones` splits the drawn mesh into parts and
`decimate` removes a share of each part's triangles by quadric edge collapse (Garland & Heckbert,
SIGGRAPH 1997; the fast-simplification package) on the model's mean shape, once per process:

- half-edge collapses only: every drawn vertex is one of the model's, so identities, expressions
  and aging move the coarse mesh exactly as they move the full one, and each keeps its own UV;
- borders stay whole: in the unwelded mesh a UV seam is a border, and so is the edge between two
  zones, so seams, zone edges, the lid and lip openings and the lash ribbons keep every vertex and
  edge (no cracks, no smeared texture);
- normals still come from the full mesh (render/mesh.py: vertex_normals), so shading stays smooth.

The face is thinned only lightly by default (0.4 of its triangles, the flattest first): at 0.55
and above below the brows (cheeks, jaw line, ears) the dlib judge's FAR rose (150 x 3 frontal
identities: 12.9% -> 13.5% at 0.55, 13.9% at 0.8), and 0.8 above them (forehead, scalp) cost
MTCNN detections near the hairline; 0.4 on both moved neither, and the back of the head and the
mouth's interior cost nothing measurable (docs/render.md, "Speed").
"""
from __future__ import annotations

import dataclasses

import numpy as np

# Zones of the main mesh, in the order of render.config.MeshDetail's fields.
BACK, FOREHEAD, FACE = 0, 1, 2
# Face triangles whose centroid lies this close (cm) to an eye's centre (mean of its 6 iBUG
# landmarks) are drawn whole even when the face zone is decimated: a blink or squint folds the
# lids, which a coarse lid shows as spikes.
LID_RADIUS_CM = 1.6


def decimate(prim, positions: np.ndarray, zone: np.ndarray, reductions) -> object:
    """`prim` (a render.mesh.Primitive) with about `reductions[z]` of the triangles of zone z
    removed (zone (T,) int; a zone outside `reductions`, e.g. -1, is drawn whole).

    `positions` (U, 3): the unwelded vertices on the shape the collapses are chosen on. The result
    draws a subset of `prim`'s vertices (same `vertex` and `uv` rows) with new triangles.

    The collapses are chosen for an optimal new position, but each vertex stays where it is, so
    about 1% of the coarse triangles fold over a neighbour. They face away from the camera where
    the fold is seen from the front, and are culled: the triangles around them cover the area."""
    if not any(float(r) > 0 for r in reductions):
        return prim
    tris = prim.triangles.astype(np.int64)
    parts = []
    for z in np.unique(zone):
        sel = tris[zone == z]
        r = float(reductions[z]) if 0 <= z < len(reductions) else 0.0
        parts.append(_collapse(sel, positions, r) if r > 0 else sel)
    out = np.concatenate(parts)
    drawn = np.unique(out)
    renumber = np.full(len(prim.vertex), -1, np.int64)
    renumber[drawn] = np.arange(len(drawn))
    return dataclasses.replace(prim, vertex=prim.vertex[drawn], uv=prim.uv[drawn],
                               triangles=np.ascontiguousarray(renumber[out].astype(np.uint32)))


def _collapse(free: np.ndarray, positions: np.ndarray, reduction: float) -> np.ndarray:
    """The triangles `free` (T, 3) after the collapses, in the same vertex ids. Their border
    vertices (including those shared with other zones) never move."""
    import fast_simplification

    used = np.unique(free)
    local = np.full(len(positions), -1, np.int64)
    local[used] = np.arange(len(used))
    _, _, collapses = fast_simplification.simplify(
        np.ascontiguousarray(positions[used], np.float32), np.ascontiguousarray(local[free], np.int32),
        target_reduction=reduction, preserve_border=True, return_collapses=True)
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


def zones(model, prim, used: np.ndarray) -> np.ndarray:
    """(T,) zone of each triangle of the main primitive: BACK (only back-of-head vertices), FOREHEAD
    (face above the brows' highest landmark: forehead and scalp, mostly under hair), FACE (the
    rest, eyeballs and lashes included), or -1 for the lids. `used`: the welded subset's model ids."""
    v = np.asarray(model.neutral, np.float64)
    lm = v[np.asarray(model.landmarks68)]
    corners = used[prim.vertex[prim.triangles.astype(np.int64)]]  # (T, 3) model vertex ids
    centre = v[corners].mean(1)
    back = _vertex_mask(model, "M_BackHead") & ~_vertex_mask(model, "M_Face")
    ball = np.zeros(model.n_vertices, bool)
    for side in ("left", "right"):
        a, b = model.vertex_regions.get(f"iris_{side}", (0, 0))
        ball[a:b] = True
    eyes = np.stack([lm[36:42].mean(0), lm[42:48].mean(0)])
    lids = (np.min(np.linalg.norm(centre[:, None] - eyes[None], axis=2), 1) < LID_RADIUS_CM) & ~ball[corners].all(1)
    zone = np.where(back[corners].all(1), BACK, np.where(centre[:, 1] > lm[17:27, 1].max(), FOREHEAD, FACE))
    zone[lids & (zone != BACK)] = -1
    return zone


def _vertex_mask(model, region: str) -> np.ndarray:
    m = np.zeros(model.n_vertices, bool)
    if region in model.region_names:
        m[np.unique(model.faces[model.region_faces(region)])] = True
    return m
