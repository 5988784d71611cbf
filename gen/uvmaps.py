"""Static texture-space data of a face model, computed once per (model, size) and cached.

ICT's UVs are tiled (UDIM-like): M_Face uses u in [0,1], M_BackHead (scalp, neck, mouth and eye
sockets) u in [1,2], gums/tongue [2,3], teeth [3,4], lacrimal fluid [4,6], eyelashes [6,7]; the
eyeball parts reuse [0,1] with their own layout. Maps cover the face tile and the head tile.

Texel (row r, col c) of a map of size S samples u = tile + (c + 0.5)/S, v = 1 - (r + 0.5)/S:
row 0 is the top of the image, as in any PNG used by an OBJ/MTL viewer.

Region masks are soft functions of the *3D position* (neutral mesh, cm) under each texel, so
they continue across UV seams (e.g. the hair cap spans both tiles), plus UV polygons of the
68 landmarks for small features (lips, brows, eyelids).
"""
from __future__ import annotations

from dataclasses import dataclass
import cv2
import numpy as np
from scipy import ndimage

from core.errors import FacesynthError
from gen.modelcache import FaceModel

FACE_TILE = 0
HEAD_TILE = 1


@dataclass(frozen=True)
class TileRaster:
    size: int
    tri: np.ndarray  # (S,S) int32 index of the covering triangle (nearest one outside the chart)
    pos: np.ndarray  # (S,S,3) float32 neutral 3D position under each texel (cm)
    covered: np.ndarray  # (S,S) bool: texel lies inside a triangle of the tile
    cm_per_texel: float


def _raster_tile(model: FaceModel, material: str, tile: int, size: int,
                 vertices: np.ndarray | None = None) -> TileRaster:
    faces = model.region_faces(material)
    uv = model.uvs[model.face_uvs[faces]].astype(np.float64)  # (F,3,2)
    px = np.stack([(uv[..., 0] - tile) * size - 0.5, (1.0 - uv[..., 1]) * size - 0.5], -1)
    ids = np.full((size, size), -1, np.int32)
    pts = np.round(px * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    for k in range(len(faces)):
        cv2.fillConvexPoly(ids, pts[k], int(k), lineType=cv2.LINE_8, shift=4)
    covered = ids >= 0
    # Texels outside the chart take the nearest triangle, so bilinear lookups near seams and
    # mip-mapping see plausible colours instead of black.
    _, (ri, ci) = ndimage.distance_transform_edt(~covered, return_indices=True)
    ids = ids[ri, ci]
    rr, cc = np.mgrid[0:size, 0:size]
    p = np.stack([cc, rr], -1).astype(np.float64)
    a, b, c = px[ids, 0], px[ids, 1], px[ids, 2]
    v0, v1, v2 = b - a, c - a, p - a
    d00 = (v0 * v0).sum(-1); d01 = (v0 * v1).sum(-1); d11 = (v1 * v1).sum(-1)
    d20 = (v2 * v0).sum(-1); d21 = (v2 * v1).sum(-1)
    den = d00 * d11 - d01 * d01
    den = np.where(np.abs(den) < 1e-12, 1e-12, den)
    w1 = np.clip((d11 * d20 - d01 * d21) / den, 0, 1)
    w2 = np.clip((d00 * d21 - d01 * d20) / den, 0, 1)
    s = np.maximum(w1 + w2, 1.0)
    w1, w2 = w1 / s, w2 / s
    w0 = 1 - w1 - w2
    verts = model.neutral if vertices is None else vertices
    tv = verts[model.faces[faces]].astype(np.float64)  # (F,3,3)
    pos = (w0[..., None] * tv[ids, 0] + w1[..., None] * tv[ids, 1] + w2[..., None] * tv[ids, 2]).astype(np.float32)
    # Texel scale: 3D edge length over UV edge length, median over triangles.
    e3 = np.linalg.norm(tv[:, 1] - tv[:, 0], axis=1)
    e2 = np.linalg.norm(px[:, 1] - px[:, 0], axis=1)
    ok = e2 > 1e-6
    cm = float(np.median(e3[ok] / e2[ok]))
    return TileRaster(size, faces[ids].astype(np.int32), pos, covered, cm)


def landmark_uv(model: FaceModel, size: int) -> np.ndarray:
    """(68,2) pixel coordinates (x=col, y=row) of the landmarks in the face tile."""
    faces = model.region_faces("M_Face")
    fv = model.faces[faces].ravel()
    fu = model.face_uvs[faces].ravel()
    first = {}
    for v, t in zip(fv.tolist(), fu.tolist()):
        first.setdefault(v, t)
    uv = model.uvs[[first[int(v)] for v in model.landmarks68]].astype(np.float64)
    return np.stack([uv[:, 0] * size - 0.5, (1 - uv[:, 1]) * size - 0.5], 1)


def _gauss(d2: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * d2 / sigma ** 2).astype(np.float32)


def _seg_dist2(p: np.ndarray, a: np.ndarray, b: np.ndarray, scale=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Squared distance of points p (...,3) to segment ab, axes scaled by `scale`."""
    s = np.asarray(scale, np.float32)
    ab = (b - a) * s
    ap = (p - a) * s
    t = np.clip((ap @ ab) / max(float(ab @ ab), 1e-9), 0, 1)
    d = ap - t[..., None] * ab
    return (d * d).sum(-1)


def smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


@dataclass(frozen=True)
class FaceLayout:
    """Everything appearance.py needs, for one model and texture size."""
    size: int
    head_size: int
    face: TileRaster
    head: TileRaster
    lm_uv: np.ndarray  # (68,2) landmark pixels in the face tile
    lm3: np.ndarray  # (68,3) landmark positions (cm)
    masks: dict[str, np.ndarray]  # face-tile soft masks (S,S) float32
    head_masks: dict[str, np.ndarray]  # head-tile soft masks (S/2,S/2) float32
    freckle_sites: np.ndarray  # (N,2) int texel (x,y) where freckles may go (cheeks, nose)
    skin_sites: np.ndarray  # (N,2) int texel (x,y) of plain facial skin (moles, blemishes)
    half_stack: np.ndarray  # (S/2,S/2,3) float32: flush (cheek+nose+chin), eyes, lips at half size


def _region_masks(pos: np.ndarray, lm: np.ndarray) -> dict[str, np.ndarray]:
    """Soft masks from 3D position; lm = 68 landmark positions. Distances in cm."""
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    eye_r, eye_l = lm[36:42].mean(0), lm[42:48].mean(0)
    nose_bottom = lm[33]
    mouth_c = lm[48:60].mean(0)
    front = smoothstep(z, lm[0, 2] - 1.0, lm[0, 2] + 1.5)  # in front of the ears
    m = {}
    # Cheeks: below the outer eye corner, beside the nose wings.
    cheek = np.zeros_like(x)
    for side in (0, 1):
        eye = eye_r if side == 0 else eye_l
        wing = lm[31] if side == 0 else lm[35]
        jaw = lm[3] if side == 0 else lm[13]
        c = 0.45 * eye + 0.3 * wing + 0.25 * jaw
        c[1] = 0.5 * (eye[1] + wing[1]) - 0.3
        cheek = np.maximum(cheek, _gauss(((pos - c) ** 2 * np.array([1.0, 1.3, 0.6], np.float32)).sum(-1), 1.6))
    m["cheek"] = cheek * front
    m["nose"] = np.maximum(_gauss(_seg_dist2(pos, lm[28], lm[30], (1.0, 0.5, 1.0)), 0.9),
                           _gauss(((pos - lm[30]) ** 2).sum(-1), 1.0)) * smoothstep(z, lm[27, 2] - 1.5, lm[27, 2])
    eyes = np.zeros_like(x)
    for e, out in ((eye_r, lm[36]), (eye_l, lm[45])):
        eyes = np.maximum(eyes, _gauss(_seg_dist2(pos, e, out, (1.0, 1.6, 1.0)), 1.0))
        eyes = np.maximum(eyes, _gauss(((pos - e) ** 2 * np.array([0.8, 1.6, 1.0], np.float32)).sum(-1), 1.1))
    m["eyes"] = eyes * front
    # Forehead and T-zone (forehead centre + nose ridge) get oilier skin.
    brow_y = lm[17:27, 1].mean()
    forehead = smoothstep(y, brow_y + 0.3, brow_y + 1.5) * _gauss(x ** 2, 4.5) * front
    m["forehead"] = forehead
    m["tzone"] = np.maximum(forehead * _gauss(x ** 2, 2.5) * 1.2, m["nose"]).clip(0, 1)
    m["chin"] = _gauss(((pos - (lm[8] + lm[57]) / 2) ** 2).sum(-1), 1.4) * front
    # Facial hair: signed fields in cm (> 0 inside) so each identity can move and roughen the
    # borders cheaply; "beard", "mustache" and "goatee" are their fixed-threshold masks.
    ax = np.abs(x)
    zc = lm[0, 2] - 2.5  # vertical axis of the head, ~2.5 cm behind the jaw-top landmarks
    theta = np.abs(np.arctan2(x, z - zc))  # 0 front, pi back

    def th(i):
        return float(abs(np.arctan2(lm[i, 0], lm[i, 2] - zc)))

    corner = 0.5 * (abs(lm[48, 0]) + abs(lm[54, 0]))
    corner_y = 0.5 * (lm[48, 1] + lm[54, 1])
    y_side = lm[0, 1] + 1.6  # scalp hairline at the temples (see below): sideburns reach it
    # Cheek line (top of a full beard) against the angle around the head: under the nose, down
    # the nasolabial fold beside the mouth corners, then up the cheek to the sideburn, which runs
    # in front of the ear up to the scalp.
    t48 = th(48)
    t_sb = th(2) - 0.02  # bottom front corner of the sideburn
    y_sb = lm[2, 1] + 1.9
    t_low, y_low = t48 + 0.2, corner_y + 1.3  # lowest point, beside the mustache
    # In between, a line bowed ~0.4 cm upwards (cheek lines are slightly convex).
    mid = [(t_low + f * (t_sb - t_low), y_low + f * (y_sb - y_low) + 0.4 * np.sin(np.pi * f)) for f in (0.33, 0.67)]
    ctl = [(0.0, nose_bottom[1] - 0.05), (th(31), lm[31, 1] - 0.1), (t48 + 0.05, corner_y + 1.5),
           (t_low, y_low), *mid, (t_sb, y_sb), (th(2) + 0.06, y_side + 0.5), (np.pi, y_side + 0.5)]
    y_top = np.interp(theta, [c[0] for c in ctl], [c[1] for c in ctl]).astype(np.float32)
    # Neck line: below the jaw contour (landmarks 0-8 against their angle), lowest under the chin;
    # counted at 0.6 cm per cm so the beard fades gradually down the neck.
    jaw_th = np.array([th(i) for i in range(8, -1, -1)])
    # (behind the jaw angle the contour climbs in front of the ear: keep the jaw-angle height there)
    jaw_y = np.minimum(np.interp(theta, jaw_th, lm[8::-1, 1]), lm[3, 1]).astype(np.float32)
    drop = 3.0 - 1.5 * smoothstep(theta, t48 + 0.2, th(2))
    back = th(0) + 0.03  # in front of the ear
    beard_f = np.minimum(np.minimum(y_top - y, 0.6 * (y - (jaw_y - drop))), (back - theta) * 6.0)
    m["beard_field"] = beard_f.astype(np.float32)
    # Where a per-identity cheek-line shift applies (the cheek, not the mustache or sideburn).
    # It pivots about the sideburn corner, so a shift tilts the line instead of denting it.
    m["cheek_line"] = (smoothstep(theta, t48 + 0.05, t48 + 0.35) * np.clip((t_sb - theta) / (t_sb - t_low), 0, 1)
                       * smoothstep(y, lm[4, 1], corner_y + 0.5))
    # Mustache: the band between the nose base and the upper lip, over the philtrum out to the
    # mouth corners, drooping a little past them (frontal projection: the area faces forward).
    lip_top = np.interp(x, lm[48:55, 0], lm[48:55, 1]).astype(np.float32) - 1.0 * np.maximum(ax - corner, 0)
    nose_x = np.concatenate([[-corner - 0.5], lm[31:36, 0], [corner + 0.5]])
    nose_y = np.concatenate([[corner_y + 0.6], lm[31:36, 1], [corner_y + 0.6]])
    nose_base = np.interp(x, nose_x, nose_y).astype(np.float32)
    front_mouth = z - (lm[48, 2] - 1.5)
    must_f = np.minimum(np.minimum(nose_base - 0.05 - y, y - lip_top), np.minimum(corner + 0.55 - ax, front_mouth))
    m["mustache_field"] = must_f.astype(np.float32)
    # Goatee: a patch from under the lower lip over the chin, about as wide as the mouth, with
    # straight sides above and a rounded bottom that wraps a little under the chin.
    g_top, g_bot = lm[57, 1] - 0.05, lm[8, 1] - 1.0
    cy = g_top - 1.0
    wx = 0.9 * corner * (0.7 + 0.3 * smoothstep(g_top - y, 0.0, 1.2))  # narrower under the lip
    p = 2.2  # superellipse: rounder than a box, fuller than an ellipse
    r = (np.abs(x / wx) ** p + (np.maximum(cy - y, 0) / (cy - g_bot)) ** p) ** (1 / p)
    goatee_f = np.minimum(np.minimum((1 - r) * 0.6 * wx, g_top - y), z - (lm[8, 2] - 3.0))
    m["goatee_field"] = goatee_f.astype(np.float32)
    # Strips around the mouth corners that join mustache and goatee (circle beard / Van Dyke).
    ring = np.full_like(x, -10.0)
    for sx in (-1.0, 1.0):
        a = np.array([sx * (corner + 0.3), corner_y + 0.4, 0], np.float32)
        b = np.array([sx * 0.8 * corner * 0.95, lm[57, 1] - 0.6, 0], np.float32)
        d = np.sqrt(_seg_dist2(pos, a, b, (1.0, 1.0, 0.0)))
        ring = np.maximum(ring, 0.4 - d)
    m["mouth_ring_field"] = np.minimum(ring, front_mouth).astype(np.float32)
    m["beard"] = smoothstep(beard_f, 0.0, 0.5)
    m["mustache"] = smoothstep(must_f, 0.0, 0.25)
    m["goatee"] = np.maximum(smoothstep(goatee_f, 0.0, 0.3), m["mustache"])
    # Scalp: signed height above a hairline that runs ~5.5 cm above the brows at the front,
    # drops to the ear tops at the temples and to the nape at the back.
    y_front = brow_y + 5.5
    y_back = lm[8, 1] - 1.0
    hl = np.where(theta < 1.35, y_front + (y_side - y_front) * smoothstep(theta, 0.45, 1.35),
                  y_side + (y_back - y_side) * smoothstep(theta, 1.6, 2.9))
    m["scalp_field"] = (y - hl).astype(np.float32)
    m["front_weight"] = (1 - smoothstep(theta, 0.3, 1.4)).astype(np.float32)
    # Ears are skin: around the jaw-top landmarks, outside |x| of the head side.
    ear = smoothstep(ax, abs(lm[0, 0]) + 0.3, abs(lm[0, 0]) + 1.0) * smoothstep(y, lm[0, 1] - 4.5, lm[0, 1] - 3.0) \
        * (1 - smoothstep(y, lm[0, 1] + 2.0, lm[0, 1] + 3.0))
    m["ear"] = ear.astype(np.float32)
    m["neck"] = smoothstep(lm[8, 1] - 2.0 - y, 0.0, 2.0)
    return m


def _poly_mask(size: int, pts: np.ndarray, blur: float) -> np.ndarray:
    img = np.zeros((size, size), np.uint8)
    cv2.fillPoly(img, [np.round(pts * 16).astype(np.int32)], 255, lineType=cv2.LINE_AA, shift=4)
    out = img.astype(np.float32) / 255
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    return out


def _build_layout(model: FaceModel, size: int) -> FaceLayout:
    face = _raster_tile(model, "M_Face", FACE_TILE, size)
    hs = max(size // 2, 32)
    head = _raster_tile(model, "M_BackHead", HEAD_TILE, hs)
    lm3 = model.neutral[model.landmarks68].astype(np.float32)
    lm_uv = landmark_uv(model, size)
    masks = _region_masks(face.pos, lm3)
    head_masks = _region_masks(head.pos, lm3)
    # Mouth and eye sockets live in the head tile; they get their own dark colours.
    sock_v0, sock_v1 = model.vertex_regions.get("mouth_socket", (0, 0))
    eye_v0, eye_v1 = model.vertex_regions.get("eye_socket_left", (0, 0))[0], model.vertex_regions.get("eye_socket_right", (0, 0))[1]
    tri_v = model.faces[head.tri, 0]
    head_masks["mouth_socket"] = ((tri_v >= sock_v0) & (tri_v < sock_v1)).astype(np.float32)
    head_masks["eye_socket"] = ((tri_v >= eye_v0) & (tri_v < eye_v1)).astype(np.float32)
    sockets = np.maximum(head_masks["mouth_socket"], head_masks["eye_socket"])
    for k in list(head_masks):
        if k not in ("mouth_socket", "eye_socket", "scalp_field"):
            head_masks[k] = head_masks[k] * (1 - sockets)
    head_masks["scalp_field"] = np.where(sockets > 0, -10.0, head_masks["scalp_field"])
    scale = size / 512.0
    lips = _poly_mask(size, lm_uv[48:60], 1.2 * scale)
    inner = _poly_mask(size, lm_uv[60:68], 0.8 * scale)
    masks["lips"] = np.clip(lips, 0, 1)
    # Facial hair stops at the lip line.
    keep = 1 - np.clip(cv2.GaussianBlur(lips, (0, 0), 2.0 * scale) * 2.0, 0, 1)
    for k in ("beard", "mustache", "goatee"):
        masks[k] = masks[k] * keep
    for k in ("beard_field", "mustache_field", "goatee_field", "mouth_ring_field"):
        masks[k] = masks[k] - 3.0 * (1 - keep)  # far outside on the lips
    masks["mouth_inner"] = inner
    eye_open = np.maximum(_poly_mask(size, lm_uv[36:42], 0.5 * scale), _poly_mask(size, lm_uv[42:48], 0.5 * scale))
    masks["eye_open"] = eye_open
    skin = face.covered & (masks["lips"] < 0.05) & (eye_open < 0.05) & (masks["scalp_field"] < -1.5) \
        & (masks["ear"] < 0.1) & (masks["neck"] < 0.1) & (masks["eyes"] < 0.6)
    yy, xx = np.nonzero(skin)
    skin_sites = np.stack([xx, yy], 1).astype(np.int32)
    fr = skin & ((masks["cheek"] > 0.35) | (masks["nose"] > 0.4) | (masks["forehead"] * masks["tzone"] > 0.5))
    yy, xx = np.nonzero(fr)
    freckle_sites = np.stack([xx, yy], 1).astype(np.int32)
    for d in (masks, head_masks):
        for k in d:
            d[k] = np.ascontiguousarray(d[k], np.float32)
    flush = masks["cheek"] + 0.8 * masks["nose"] + 0.25 * masks["chin"]
    half = np.stack([cv2.resize(a, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
                     for a in (flush, masks["eyes"], masks["lips"])], -1)
    return FaceLayout(size, hs, face, head, lm_uv, lm3, masks, head_masks, freckle_sites, skin_sites,
                      np.ascontiguousarray(half, np.float32))


_LAYOUTS: dict[tuple[int, int], tuple[FaceModel, FaceLayout]] = {}


def face_layout(model: FaceModel, size: int) -> FaceLayout:
    """Cached per process and (model object, size): ~1 s for 512² once, then free."""
    if "M_Face" not in model.region_names or len(model.uvs) < 3:
        raise FacesynthError(f"model {model.name} has no UV layout (M_Face), so its identities cannot be textured; "
                             "use a UV model such as ict-facekit for gen.model")
    key = (id(model), int(size))
    hit = _LAYOUTS.get(key)
    if hit is None or hit[0] is not model:
        hit = (model, _build_layout(model, int(size)))  # holding the model keeps id() unique
        _LAYOUTS[key] = hit
    return hit[1]
