"""Cavity shading baked into the face albedo, from the identity's own shape.

The renderer has no shadows or ambient occlusion: eye sockets, the sides of the nose, nostrils,
the nasolabial folds and the corners of the mouth were lit as brightly as the cheeks, which
flattens the face (a renders' tell) and hides the very shape that tells people apart. Here each
vertex's cavity is how far it lies below its smoothed surroundings along its normal, at a fine
(creases) and a coarse (sockets) scale; that darkens the albedo, as a baked ambient-occlusion map
does in real-time rendering. Pure: the same (model, vertices, config) give the same map.
"""
from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import scipy.sparse as sp

from gen.modelcache import FaceModel
from gen.uvmaps import FaceLayout

# (smoothing iterations, depth in cm at which that scale reaches full strength); a face edge is
# ~0.2-0.4 cm, so 6 iterations reach ~1 cm (creases), 60 reach ~3 cm (eye sockets, nose sides).
SCALES = ((6, 0.15), (60, 0.6))


@lru_cache(maxsize=4)
def _surface_cached(key: tuple, faces_bytes: bytes, n: int):
    """Over the face and head surface only (its own vertex numbering): row-normalised adjacency,
    vertex-face incidence (for normals), the model vertex ids and the local triangles."""
    f = np.frombuffer(faces_bytes, np.int64).reshape(-1, 3)
    used, local = np.unique(f, return_inverse=True)
    f = local.reshape(-1, 3)
    m = len(used)
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    a = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(m, m))
    a.data[:] = 1.0
    a = (sp.diags(1.0 / np.maximum(np.asarray(a.sum(1)).ravel(), 1)) @ a).astype(np.float32).tocsr()
    inc = sp.csr_matrix((np.ones(3 * len(f), np.float32), (f.T.ravel(), np.tile(np.arange(len(f)), 3))),
                        shape=(m, len(f)))
    return a, inc, used, f


def vertex_cavity(model: FaceModel, vertices: np.ndarray) -> np.ndarray:
    """(V,) float32 in [0, 1]: 0 on open surface, 1 deep in a crease or socket."""
    faces = np.ascontiguousarray(model.faces[model.region_faces("M_Face", "M_BackHead")], np.int64)
    a, inc, used, f = _surface_cached((model.name, model.version), faces.tobytes(), model.n_vertices)
    v = np.asarray(vertices, np.float32)[used]
    n = inc @ np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    out = np.zeros(len(v), np.float32)
    s, done = v.copy(), 0
    for iters, depth in SCALES:
        for _ in range(iters - done):
            s = a @ s
        done = iters
        below = np.einsum("ij,ij->i", s - v, n)  # > 0: the surroundings stand out above the vertex
        out = np.maximum(out, np.clip(below / depth, 0, 1))
    res = np.zeros(len(vertices), np.float32)
    res[used] = out
    return res


def cavity_map(model: FaceModel, lay: FaceLayout, vertices: np.ndarray) -> np.ndarray:
    """(S, S) float32 cavity of the face tile (per triangle, softened by a texel or two)."""
    c = vertex_cavity(model, vertices)
    per_face = c[model.faces].mean(1)
    m = per_face[lay.face.tri].astype(np.float32)
    return cv2.GaussianBlur(m, (0, 0), max(lay.size / 512.0, 0.5) * 1.5)


def shade_cavities(lin: np.ndarray, cavity: np.ndarray, strength: float) -> None:
    """Darken linear albedo `lin` (S, S, 3) in place: x (1 - strength) at full cavity."""
    lin *= (1.0 - strength * np.clip(cavity, 0, 1))[..., None]
