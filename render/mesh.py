"""What of the face model is drawn, and how an identity becomes GPU-ready arrays.

The ICT model stores UVs per face corner in a UDIM-like layout (face tile u in [0,1], back of head
[1,2], gums [2,3], teeth [3,4], each eye part again [0,1]). We "unweld" vertices into unique
(vertex, uv) pairs and remap UVs into one texture atlas of three square tiles:
    [ face | back of head | parts ]
where the parts tile is a 4x4 grid of cells: an iris texture (pupil, iris, limbal ring), and flat
swatches for the sclera, teeth, gums and eyelashes (all UVs of a swatch part point at its cell centre).

The face and back-of-head tiles come from gen's maps (albedo / albedo_head etc., see
gen/appearance.py); the back-of-head map also paints the mouth and eye sockets dark.

Not drawn: lacrimal fluid, eye blend and eye occlusion (transparent overlays, invisible at
112 px). Teeth, gums and the mouth socket are a second primitive drawn only when the mouth opens.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse as sp

from gen.facemodel import FaceModel

# Not the M_Sclera* shells: they are the cornea, and would hide the eyeball (ICT's M_Iris* mesh is the
# whole eyeball, white included; _eye_geometry textures it).
MAIN_REGIONS = ("M_Face", "M_BackHead", "M_IrisLeft", "M_IrisRight", "M_EyeLashes")
MOUTH_REGIONS = ("M_GumsTongue", "M_Teeth")

# Parts-tile cells (column, row) in a 4x4 grid.
CELL = {"iris": (0, 0), "sclera": (1, 0), "teeth": (2, 0), "gums": (3, 0), "eyelashes": (0, 1)}

# Fallback colours (sRGB) for parts the identity does not colour itself (keys as gen's `colors`).
DEFAULT_COLORS = {"iris": (90, 62, 40), "pupil": (8, 6, 6), "sclera": (228, 222, 214), "teeth": (226, 218, 196),
                  "gums": (176, 92, 92), "eyelashes": (30, 24, 22)}
# Roughness / specular (0..1) per part; eyes are wet and glossy.
PART_SURFACE = {"iris": (0.12, 0.9), "sclera": (0.15, 0.9), "teeth": (0.35, 0.6), "gums": (0.3, 0.6),
                "eyelashes": (0.7, 0.1)}
# ICT's lower lashes are ribbons ~5 mm long, made for a strand texture with alpha; drawn solid they
# are a dark flap under each eye. Each ribbon is drawn at this share of its length, from its root.
# 0.3 looked the most natural but cost MTCNN 1.5 points of detection at |yaw| <= 45 (98.0% ->
# 96.5%, 180 renders per bin); at 0.5 it stays (97.8%).
LOWER_LASH_KEEP = 0.5


@dataclass(frozen=True)
class Primitive:
    vertex: np.ndarray  # (U,) index into the welded subset for each unwelded vertex
    uv: np.ndarray  # (U, 2) float32 atlas UV, OBJ convention (v = 0 at the image's bottom row)
    triangles: np.ndarray  # (T, 3) uint32 into the unwelded vertices


@dataclass(frozen=True)
class Topology:
    """Per-model render topology, built once per process."""
    used: np.ndarray  # (Vs,) model vertex ids that are drawn (welded subset)
    main: Primitive
    mouth: Primitive | None  # None where the model has no mouth interior
    corners: np.ndarray  # (3, F) corner vertex ids of the triangles over the welded subset, for normals
    incidence: sp.csr_matrix  # (Vs, F) vertex-face incidence, sums face normals into vertex normals
    lash_tips: np.ndarray  # (L,) welded-subset ids of lower-lash vertices off their ribbon's root row
    lash_roots: np.ndarray  # (L,) the root-row vertex of the same ribbon and column, for each of those


def _region_faces(model: FaceModel, names) -> np.ndarray:
    return model.region_faces(*names)


# Human iris radius ~0.59 cm (white-to-white corneal diameter 11.7 mm, Ruefer et al., Cornea 24(3),
# 2005); a pupil of ~3.5 mm in indoor light. The iris cell maps the eyeball's front so that the
# iris disc fills IRIS_FRAC of the cell's radius and the rest is sclera.
IRIS_RADIUS_CM = 0.59
IRIS_FRAC = 0.42
PUPIL_FRAC = 0.3  # of the iris radius
# The sclera in photos is far from paper white: lids, lashes and the brow shade it (what ICT's
# undrawn eye-occlusion shell does). Full-white sclera also cost the MTCNN judge detections.
SCLERA_SHADE = 0.72


def _eye_geometry(model: FaceModel) -> np.ndarray:
    """Per-vertex eyeball coordinates (V, 2) in the iris cell, |q| <= 1 (0 = pupil centre,
    IRIS_FRAC = limbus); zero off the eyeballs."""
    v = np.asarray(model.neutral, np.float64)
    polar = np.zeros((model.n_vertices, 2), np.float32)
    for side in ("left", "right"):
        if f"iris_{side}" not in model.vertex_regions:
            continue  # a model without separate eyeballs (e.g. BFM)
        ia, ib = model.vertex_regions[f"iris_{side}"]
        ball = v[ia:ib]
        centre = ball.mean(0)
        d = ball - centre
        front = ball[d[:, 2] > np.quantile(d[:, 2], 0.98)].mean(0)  # the gaze axis: through the front pole
        axis = (front - centre) / np.linalg.norm(front - centre)
        x = np.cross([0.0, 1.0, 0.0], axis)
        x /= np.linalg.norm(x)
        y = np.cross(axis, x)
        q = np.stack([d @ x, d @ y], 1) * (IRIS_FRAC / IRIS_RADIUS_CM)
        r = np.linalg.norm(q, axis=1, keepdims=True)
        q = np.where((r > 1) | ((d @ axis)[:, None] < 0), q / np.maximum(r, 1e-9), q)  # the back: sclera
        polar[ia:ib] = q
    return polar


def _atlas_uv(model: FaceModel, faces: np.ndarray, flat_uv: np.ndarray, region_of_face: np.ndarray,
              iris_polar: np.ndarray) -> np.ndarray:
    """Atlas UVs (in [0,1]^2, v up) for each corner of `faces`."""
    names = model.region_names
    u, v = flat_uv[..., 0], flat_uv[..., 1]
    out = np.empty_like(flat_uv)
    for ri in np.unique(region_of_face):
        sel = region_of_face == ri
        name = names[ri]
        part = {"M_ScleraLeft": "sclera", "M_ScleraRight": "sclera", "M_IrisLeft": "iris", "M_IrisRight": "iris",
                "M_Teeth": "teeth", "M_GumsTongue": "gums", "M_EyeLashes": "eyelashes"}.get(name)
        if name == "M_Face":
            out[sel, :, 0] = np.clip(u[sel], 0, 1) / 3
            out[sel, :, 1] = v[sel]
        elif name == "M_BackHead":
            out[sel, :, 0] = (1 + np.clip(u[sel] - 1, 0, 1)) / 3
            out[sel, :, 1] = v[sel]
        elif part == "iris":
            # Radial coordinates from the geometry (the model's iris UVs are only roughly radial).
            col, row = CELL["iris"]
            q = iris_polar[faces[sel]]  # (n, 3, 2), |q| <= 1, pupil at 0
            out[sel, :, 0] = (2 + (col + 0.5 + 0.48 * q[..., 0]) / 4) / 3
            out[sel, :, 1] = 1 - (row + 0.5 - 0.48 * q[..., 1]) / 4
        else:
            out[sel] = _cell_centre(part)
    return out.astype(np.float32)


def _cell_centre(part: str) -> tuple[float, float]:
    col, row = CELL[part]
    return (2 + (col + 0.5) / 4) / 3, 1 - (row + 0.5) / 4


def build_topology(model: FaceModel, detail=None) -> Topology:
    """The drawn parts of `model`; `detail` (render.config.MeshDetail) draws a coarser mesh
    (render/decimate.py), None every triangle."""
    iris_polar = _eye_geometry(model)
    main_f = _region_faces(model, MAIN_REGIONS)
    mouth_lo, mouth_hi = model.vertex_regions.get("mouth_socket", (0, 0))
    fv = model.faces[main_f]
    socket = np.all((fv >= mouth_lo) & (fv < mouth_hi), axis=1)
    mouth_f = np.concatenate([main_f[socket], _region_faces(model, MOUTH_REGIONS)])
    main_f = main_f[~socket]

    all_f = np.concatenate([main_f, mouth_f])
    used = np.unique(model.faces[all_f])
    local = np.full(model.n_vertices, -1, np.int64)
    local[used] = np.arange(len(used))
    normal_tris = local[model.faces[all_f]]
    nf = len(normal_tris)
    rows = normal_tris.ravel()
    cols = np.repeat(np.arange(nf), 3)
    incidence = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(used), nf))

    def prim(faces_idx: np.ndarray, double_sided_region: str | None = None) -> Primitive:
        f = model.faces[faces_idx]
        fuv = model.uvs[model.face_uvs[faces_idx]]
        atlas = _atlas_uv(model, f, fuv, model.face_region[faces_idx], iris_polar)
        # Unique (vertex, atlas uv) pairs.
        key = np.concatenate([local[f].reshape(-1, 1).astype(np.float64), atlas.reshape(-1, 2).astype(np.float64)], 1)
        uniq, inv = np.unique(key, axis=0, return_inverse=True)
        tris = inv.reshape(-1, 3).astype(np.uint32)
        if double_sided_region is not None:
            ri = model.region_names.index(double_sided_region)
            ds = model.face_region[faces_idx] == ri
            tris = np.concatenate([tris, tris[ds][:, ::-1]])
        uv = uniq[:, 1:].astype(np.float32)  # OBJ convention; pyrender flips images on upload
        return Primitive(vertex=uniq[:, 0].astype(np.int64), uv=uv,
                         triangles=np.ascontiguousarray(tris))

    main, mouth = prim(main_f), prim(mouth_f) if len(mouth_f) else None
    if detail is not None:
        from render.decimate import decimate, zones
        pos = np.asarray(model.neutral, np.float32)[used]
        main = decimate(main, pos[main.vertex], zones(model, main, used), (detail.back, detail.forehead, detail.face))
        if mouth is not None:
            mouth = decimate(mouth, pos[mouth.vertex], np.zeros(len(mouth.triangles), np.int64), (detail.mouth,))
    tips, roots = _lower_lash_roots(model)
    return Topology(used=used, main=main, mouth=mouth,
                    corners=np.ascontiguousarray(normal_tris.T), incidence=incidence,
                    lash_tips=local[tips], lash_roots=local[roots])


_TOPOLOGIES: dict[tuple, Topology] = {}


def topology(model: FaceModel, detail=None) -> Topology:
    """`build_topology`, once per process for each model and detail (~0.25 s): a renderer is made
    afresh for every unit and every chunk of the identity filter (render/pipeline.py:
    fresh_renderer), and the topology never changes."""
    key = (model.name, model.version, model.n_vertices, detail)
    if key not in _TOPOLOGIES:
        _TOPOLOGIES[key] = build_topology(model, detail)
    return _TOPOLOGIES[key]


def _lower_lash_roots(model: FaceModel) -> tuple[np.ndarray, np.ndarray]:
    """Model vertex ids of the lower lashes off their root row, and the root of each. ICT's lash
    UVs: lower lashes in v < 0.5, three stacked ribbons per eye (v bands of 1/6), u along the lid,
    v from tip to root (the root row has the highest v of its band)."""
    if "M_EyeLashes" not in model.region_names:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    sel = model.face_region == model.region_names.index("M_EyeLashes")
    vid = model.faces[sel].ravel()
    vid, first = np.unique(vid, return_index=True)
    uv = model.uvs[model.face_uvs[sel].ravel()[first]]
    low = uv[:, 1] < 0.5
    vid, uv = vid[low], uv[low]
    # A ribbon column: (band, side of the face, u); its root is the vertex with the largest v.
    key = np.stack([np.floor(uv[:, 1] * 6), np.sign(model.neutral[vid, 0]), np.round(uv[:, 0], 3)], 1)
    _, col = np.unique(key, axis=0, return_inverse=True)
    col = col.ravel()
    order = np.lexsort((uv[:, 1], col))  # by column, then v: each column's root comes last
    last = np.r_[col[order][1:] != col[order][:-1], True]
    root_of_col = np.empty(col.max() + 1, np.int64)
    root_of_col[col[order][last]] = vid[order][last]
    roots = root_of_col[col]
    off = roots != vid
    return vid[off], roots[off]


def shorten_lower_lashes(topo: Topology, v: np.ndarray) -> np.ndarray:
    """`v` (welded subset) with each lower-lash ribbon drawn at LOWER_LASH_KEEP of its length, in place."""
    r = v[topo.lash_roots]
    v[topo.lash_tips] = r + np.float32(LOWER_LASH_KEEP) * (v[topo.lash_tips] - r)
    return v


def drawn_geometry(topo: Topology, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions, normals) of the welded subset as drawn, from the model's (V, 3) `vertices`."""
    v = shorten_lower_lashes(topo, np.ascontiguousarray(vertices[topo.used], np.float32))
    return v, vertex_normals(topo, v)


def vertex_normals(topo: Topology, v: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals of the welded subset `v` (Vs, 3)."""
    # np.take with contiguous index rows gathers ~4x faster than v[t[:, k]]; same values.
    a, b, c = (np.take(v, topo.corners[k], axis=0) for k in range(3))
    fn = np.cross(b - a, c - a)
    n = topo.incidence @ fn
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    return n.astype(np.float32)


def interleave(prim: Primitive, v: np.ndarray, n: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(U, 8) float32 rows [position, normal, uv] in pyrender's vertex-buffer layout."""
    if out is None:
        out = np.empty((len(prim.vertex), 8), np.float32)
        out[:, 6:] = prim.uv
    out[:, 0:3] = np.take(v, prim.vertex, axis=0)
    out[:, 3:6] = np.take(n, prim.vertex, axis=0)
    return out


def _iris_tile(size: int, iris, pupil, sclera) -> np.ndarray:
    """Eyeball cell (UV centre = pupil): pupil, an iris with radial fibres, a lighter collarette
    and a dark limbal ring, then sclera darkening a little towards the corners."""
    yy, xx = np.mgrid[0:size, 0:size]
    dx, dy = xx - (size - 1) / 2, yy - (size - 1) / 2
    r = (np.hypot(dx, dy) / (size / 2))[..., None] / IRIS_FRAC  # 1 = limbus
    ang = np.arctan2(dy, dx)[..., None]
    c = np.asarray(iris, np.float32)
    fibres = 1 + 0.10 * np.sin(37 * ang) + 0.07 * np.sin(61 * ang + 1.3) + 0.05 * np.sin(23 * ang + 0.4)
    img = c * (0.75 + 0.45 * np.clip(r, 0, 1)) * fibres
    img = np.where(np.abs(r - 0.45) < 0.07, img * 1.15 + 12, img)  # collarette
    img = np.where(r > 0.86, c * 0.4, img)  # limbal ring
    img = np.where(r < PUPIL_FRAC, np.asarray(pupil, np.float32), img)
    white = np.asarray(sclera, np.float32) * (SCLERA_SHADE - 0.2 * np.clip(r - 1.0, 0, 1.4) / 1.4)
    img = np.where(r > 1.0, white, img)
    return np.clip(img, 0, 255).astype(np.uint8)


def _fit(img: np.ndarray | None, tile: int, default) -> np.ndarray:
    if img is None:
        return np.full((tile, tile) + ((3,) if np.ndim(default) else ()), default, np.uint8)
    img = np.asarray(img)
    if img.shape[0] != tile:
        interp = cv2.INTER_AREA if img.shape[0] > tile else cv2.INTER_LINEAR
        img = cv2.resize(img, (tile, tile), interpolation=interp)
    return img


def build_atlas(maps: dict, colors: dict, tile: int = 512, skin_roughness: float = 0.55,
                skin_specular: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """(albedo atlas (tile, 3*tile, 3) uint8 sRGB, surface atlas (same shape; G = roughness, B = specular)).

    `maps` as gen's Identity.maps: albedo/roughness/specular for the face tile and *_head for the
    back of the head (missing ones fall back to flat skin values)."""
    skin = colors.get("skin")
    if skin is None:
        skin = maps["albedo"].reshape(-1, 3).mean(0) if "albedo" in maps else (200, 150, 130)
    skin = np.asarray(skin, np.uint8)
    a = np.zeros((tile, 3 * tile, 3), np.uint8)
    rs = np.zeros((tile, 3 * tile, 3), np.uint8)
    for k, suffix in enumerate(("", "_head")):
        cols = slice(k * tile, (k + 1) * tile)
        a[:, cols] = _fit(maps.get("albedo" + suffix), tile, skin)
        rs[:, cols, 1] = _fit(maps.get("roughness" + suffix), tile, round(255 * skin_roughness))
        rs[:, cols, 2] = _fit(maps.get("specular" + suffix), tile, round(255 * skin_specular))
    cell = tile // 4
    for name, (col, row) in CELL.items():
        c = np.asarray(colors.get(name, DEFAULT_COLORS[name]), np.float32)
        if name == "eyelashes":  # sparse strands: at face-recognition resolutions they only darken the lid
            c = 0.5 * c + 0.5 * skin
        c = tuple(int(round(x)) for x in c)
        ys, xs = slice(row * cell, (row + 1) * cell), slice(2 * tile + col * cell, 2 * tile + (col + 1) * cell)
        if name == "iris":
            c = _iris_tile(cell, c, colors.get("pupil", DEFAULT_COLORS["pupil"]),
                           colors.get("sclera", DEFAULT_COLORS["sclera"]))
        a[ys, xs] = c
        r, s = PART_SURFACE[name]
        rs[ys, xs, 1], rs[ys, xs, 2] = round(255 * r), round(255 * s)
    return a, rs
