"""Procedural, physically motivated appearance of one identity in the ICT UV layout.

What comes from where (the renderer relies on this):

* ``maps["albedo"]`` (S,S,3) uint8 sRGB, ``maps["roughness"]`` / ``maps["specular"]`` (S,S) uint8
  (value/255 in [0,1]) texture material **M_Face** (UV tile u in [0,1]).
* ``maps["albedo_head"]``, ``maps["roughness_head"]``, ``maps["specular_head"]`` (S/2 square)
  texture material **M_BackHead** (UV tile u in [1,2]: subtract 1 from u). That material also holds
  the mouth and eye sockets, painted dark inside the map.
* Everything else gets a flat sRGB colour from ``colors`` (see MATERIAL_COLORS): gums/tongue,
  teeth, sclera, iris (with ``iris_vertex_colors`` for a pupil and limbal ring), eyelashes.
  M_LacrimalFluid, M_EyeBlend and M_EyeOcclusion are thin transparent helper shells: skip them
  (MATERIAL_COLORS maps them to None).

Texel row 0 is the top of the image (v = 1), as in a PNG read by an OBJ/MTL viewer.

Per identity only cheap work runs: a few spectral skin evaluations (gen/skin.py), a linear
combination of cached region masks (gen/uvmaps.py) in log-albedo space, upsampled low-res noise,
a few hundred anti-aliased brow strokes and circles, and alpha compositing inside bounding boxes.
Facial and scalp hair threshold stroke fields drawn once per process (`_hair_statics`) by a
per-identity density, so they cost a few array operations per identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.rng import weighted_choice
from gen import skin
from gen.config import BROW_STYLES, AppearanceConfig
from gen.facemodel import FaceModel
from gen.uvmaps import FaceLayout, face_layout, smoothstep

# Material -> (map key, u offset of its UV tile). The *_head maps go with M_BackHead.
MATERIAL_TEXTURES = {"M_Face": ("albedo", 0.0), "M_BackHead": ("albedo_head", 1.0)}
MATERIAL_SURFACE = {"M_Face": ("roughness", "specular"), "M_BackHead": ("roughness_head", "specular_head")}
# Material -> key of `colors` (flat colour), or None for transparent helper shells to skip.
MATERIAL_COLORS = {"M_GumsTongue": "gums", "M_Teeth": "teeth", "M_ScleraLeft": "sclera",
                   "M_ScleraRight": "sclera", "M_IrisLeft": "iris", "M_IrisRight": "iris",
                   "M_EyeLashes": "eyelashes", "M_LacrimalFluid": None, "M_EyeBlend": None,
                   "M_EyeOcclusion": None}

_DARK_HAIR = ("black", "dark_brown")
_BROWN_IRIS = ("dark_brown", "brown")
_MEL_LO, _MEL_HI = np.log(0.013), np.log(0.43)


@dataclass
class Appearance:
    maps: dict[str, np.ndarray]
    colors: dict[str, tuple[int, int, int]]
    attributes: dict


def _biased(probs: dict[str, float], favoured: tuple[str, ...], share: float) -> dict[str, float]:
    """Move `share` of the probability mass onto the `favoured` names (by their own weights)."""
    fav = {k: v for k, v in probs.items() if k in favoured}
    tot, ftot = sum(probs.values()), sum(fav.values())
    if ftot <= 0 or share <= 0:
        return dict(probs)
    return {k: (1 - share) * v / tot + (share * fav.get(k, 0.0) / ftot) for k, v in probs.items()}


def _u(rng, r) -> float:
    return float(rng.uniform(r.min, r.max))


def _srgb8(lin) -> tuple[int, int, int]:
    return tuple(int(x) for x in np.round(skin.srgb_encode(np.asarray(lin)) * 255))


def _lin(srgb) -> np.ndarray:
    return skin.srgb_decode(np.asarray(srgb, np.float64) / 255.0)


def sample_attributes(cfg: AppearanceConfig, rng: np.random.Generator) -> dict:
    """All per-identity appearance choices (JSON-able), drawn before any texel is touched."""
    s, h, e, mk, sf = cfg.skin, cfg.hair, cfg.eyes, cfg.marks, cfg.surface
    w = np.asarray(s.melanin_weights, np.float64)
    g = s.melanin_groups[int(rng.choice(len(w), p=w / w.sum()))]
    melanin = float(np.exp(rng.uniform(np.log(g.min), np.log(g.max))))
    blood = float(np.exp(rng.uniform(np.log(s.blood.min), np.log(s.blood.max))))
    oxy = _u(rng, s.oxygenation)
    base = skin.linear_rgb(melanin, blood, oxy)
    lab = skin.lab(base)
    dark = float(np.clip((np.log(melanin) - _MEL_LO) / (_MEL_HI - _MEL_LO), 0, 1))
    hair_name = weighted_choice(rng, _biased(h.color_probs, _DARK_HAIR, h.dark_bias * dark))
    iris_name = weighted_choice(rng, _biased(e.iris_probs, _BROWN_IRIS, e.dark_bias * dark))
    facial = weighted_choice(rng, h.facial_hair_styles) if rng.random() < h.facial_hair_prob else "none"
    has_freckles = rng.random() < mk.freckle_prob * (1 - dark) ** 2
    attrs = {
        "skin": {"melanin": melanin, "blood": blood, "oxygenation": oxy,
                 "lab": [round(float(x), 2) for x in lab], "ita_deg": round(skin.ita_degrees(lab), 2),
                 "srgb": list(_srgb8(base)),
                 "cheek_blood": _u(rng, s.cheek_blood), "lip_blood": _u(rng, s.lip_blood),
                 "eye_melanin": _u(rng, s.eye_melanin)},
        "hair": {"color": hair_name, "srgb": list(h.colors[hair_name]),
                 "scalp": bool(rng.random() < h.scalp_prob), "hairline": _u(rng, h.hairline)},
        "brows": {"style": weighted_choice(rng, h.brow_styles), "thickness": _u(rng, h.brow_thickness),
                  "density": _u(rng, h.brow_density), "darken": float(rng.uniform(0.6, 1.0))},
        "facial_hair": facial,
        "eyes": {"iris": iris_name, "srgb": list(e.iris_colors[iris_name]),
                 "sclera_redness": _u(rng, e.sclera_redness)},
        "marks": {"freckles": int(rng.integers(mk.freckles.min, mk.freckles.max + 1)) if has_freckles else 0,
                  "moles": int(rng.poisson(mk.mole_mean)), "blemishes": int(rng.poisson(mk.blemish_mean))},
        "surface": {"roughness": _u(rng, sf.roughness), "specular": _u(rng, sf.specular),
                    "tzone_oil": _u(rng, sf.tzone_oil)},
        "teeth_yellow": float(rng.uniform(0.0, 0.35)),
    }
    return attrs


def _noise(rng: np.random.Generator, size: int, cells: int, out: int) -> np.ndarray:
    """Smooth noise of unit std: `cells`² normals upsampled bicubically to out²."""
    n = rng.standard_normal((cells, cells), dtype=np.float32)
    return cv2.resize(n, (out, out), interpolation=cv2.INTER_CUBIC)


def _composite(lin: np.ndarray, alpha: np.ndarray, color: np.ndarray, box=None) -> None:
    """lin = lin*(1-a) + color*a, in place, inside box = (r0, r1, c0, c1). `color` is an RGB
    triple or an image the size of the box."""
    if box is None:
        box = (0, lin.shape[0], 0, lin.shape[1])
    r0, r1, c0, c1 = box
    if r1 <= r0 or c1 <= c0:
        return
    a = np.ascontiguousarray(alpha.reshape(r1 - r0, c1 - c0), np.float32)
    sub = lin[r0:r1, c0:c1]
    col = np.asarray(color, np.float32)
    if col.ndim == 1:
        col = np.broadcast_to(col, sub.shape)
    # OpenCV's per-pixel blend is one SIMD pass; weights are (1-a, a), which sum to 1.
    out = cv2.blendLinear(np.ascontiguousarray(sub), np.ascontiguousarray(col), 1.0 - a, a)
    lin[r0:r1, c0:c1] = out


def _bbox(mask: np.ndarray, pad: int = 2):
    rows = np.flatnonzero(mask.any(1))
    cols = np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return (0, 0, 0, 0)
    return (max(rows[0] - pad, 0), min(rows[-1] + pad + 1, mask.shape[0]),
            max(cols[0] - pad, 0), min(cols[-1] + pad + 1, mask.shape[1]))


@dataclass(frozen=True)
class _StrandField:
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


def _draw_strands(tag: int, box: tuple, pad: int, seed_mask: np.ndarray, dirs: np.ndarray, per_texel: float,
                  length: tuple[float, float], jitter: float, tint: tuple[float, float]) -> _StrandField:
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
        return _StrandField(box, pad, z, z + 1)
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
    return _StrandField(box, pad, rank_img.astype(np.float32) * (1 / 255),
                        (lo + (hi - lo) * tint_img.astype(np.float32) * (1 / 255)).astype(np.float32))


@dataclass(frozen=True)
class _HairStatics:
    px_cm: float  # face-tile texels per cm
    beard_box: tuple
    beard: dict  # box-sized static masks/fields of the face tile
    beard_strands: _StrandField
    stubble: _StrandField
    scalp: _StrandField  # face tile
    head_scalp: _StrandField  # head tile


_STATICS: dict[int, tuple[FaceLayout, _HairStatics]] = {}


def _crop(d: dict, box) -> dict:
    r0, r1, c0, c1 = box
    return {k: np.ascontiguousarray(v[r0:r1, c0:c1]) for k, v in d.items()}


def _scalp_strands(tag: int, masks: dict, size: int, cm_per_texel: float) -> _StrandField:
    box = _bbox(masks["scalp_field"] > -2.5)
    r0, r1, c0, c1 = box
    field = masks["scalp_field"]
    # Strands run away from the hairline (up the field's gradient): combed back at the front,
    # hanging down at the back.
    gy, gx = np.gradient(cv2.GaussianBlur(field, (0, 0), 2.0))
    g = np.stack([gx, gy], -1)[r0:r1, c0:c1]
    g /= np.linalg.norm(g, axis=-1, keepdims=True) + 1e-6
    sub = field[r0:r1, c0:c1]
    seed = (sub > -1.5) & (masks["ear"][r0:r1, c0:c1] < 0.5)
    px = 1.0 / cm_per_texel
    return _draw_strands(tag, box, max(int(round(0.4 * px)), 2), seed, g.astype(np.float32), 0.25,
                         (0.5 * px, 1.1 * px), 0.25, (0.7, 1.25))


def _hair_statics(lay: FaceLayout) -> _HairStatics:
    """Per-process facial and scalp hair data: boxes, cropped fields, stroke fields (~0.3 s)."""
    hit = _STATICS.get(id(lay))
    if hit is not None and hit[0] is lay:
        return hit[1]
    m = lay.masks
    px = 1.0 / lay.face.cm_per_texel
    area = (m["beard_field"] > -1.5) | (m["mustache_field"] > -0.5) | (m["goatee_field"] > -0.5)
    box = _bbox(area, pad=4)
    r0, r1, c0, c1 = box
    beard = _crop({k: m[k] for k in ("beard_field", "mustache_field", "goatee_field", "mouth_ring_field",
                                     "cheek_line", "mustache")}, box)
    # Hairs grow down; on the upper lip down and out from the philtrum.
    cols = np.arange(c0, c1, dtype=np.float32) - (lay.size - 1) / 2
    k = 0.25 + 0.75 * beard["mustache"]
    dirs = np.stack([k * np.sign(cols)[None, :], np.ones_like(k)], -1)
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    seed = area[r0:r1, c0:c1]
    pad = max(int(round(0.5 * px)), 2)
    strands = _draw_strands(1, box, pad, seed, dirs, 0.45, (0.35 * px, 0.7 * px), 0.3, (0.65, 1.3))
    # Stubble: stumps ~1 mm long at about life density (facial hair ~50-100 per cm²; one 512²
    # texel is ~0.003 cm², so ~0.2-0.3 per texel; a little denser so the speckle reads).
    stubble = _draw_strands(2, box, pad, seed, dirs, 0.4, (0.06 * px, 0.14 * px), 0.5, (0.8, 1.1))
    out = _HairStatics(px, box, beard, strands, stubble, _scalp_strands(3, m, lay.size, lay.face.cm_per_texel),
                       _scalp_strands(4, lay.head_masks, lay.head_size, lay.head.cm_per_texel))
    _STATICS[id(lay)] = (lay, out)
    return out


def _brow_strokes(rng, lay: FaceLayout, attrs: dict) -> tuple[np.ndarray, tuple]:
    """Anti-aliased brow hairs (uint8 coverage) on a canvas; returns (canvas crop, box)."""
    S = lay.size
    px_cm = 1.0 / lay.face.cm_per_texel
    b = attrs["brows"]
    arch, peak, tail = BROW_STYLES[b["style"]]
    thick, dens = b["thickness"], b["density"]
    lm = lay.lm_uv
    boxes, canv = [], []
    for path in (lm[21:16:-1], lm[22:27]):  # inner -> outer, each brow
        seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
        tt = np.concatenate([[0], np.cumsum(seg)]) / seg.sum()

        def at(t):
            return np.stack([np.interp(t, tt, path[:, 0]), np.interp(t, tt, path[:, 1])], -1)

        n = int(70 + 260 * dens * thick)
        t = rng.beta(1.3, 1.6, n)
        tan = at(np.clip(t + 0.02, 0, 1)) - at(np.clip(t - 0.02, 0, 1))
        tan /= np.linalg.norm(tan, axis=1, keepdims=True) + 1e-9
        up = np.array([0.0, -1.0])
        # Style: raise an arch around `peak`, drop the tail; landmarks are the brow's lower-mid line.
        bump = np.exp(-0.5 * ((t - peak) / 0.22) ** 2) - 0.35
        lift = (arch - 0.45) * 0.45 * bump - tail * 0.25 * smoothstep(t, peak, 1.0) + 0.1
        width = thick * 0.85 * (1.0 - 0.6 * t ** 1.5)  # cm: full at the head, thin at the tail
        across = rng.uniform(-0.5, 0.5, n) * width
        centre = at(t) + (lift + 0.15)[:, None] * up * px_cm + across[:, None] * up * px_cm
        # Hairs point up at the head of the brow and turn to run along it towards the tail.
        a = smoothstep(t, 0.05, 0.35) * 0.85
        d = tan * a[:, None] + up * (1 - a)[:, None] + rng.normal(0, 0.15, (n, 2))
        d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
        length = rng.uniform(0.45, 0.75, n) * px_cm * (0.7 + 0.3 * thick)
        p0 = centre - d * length[:, None] * 0.4
        p1 = centre + d * length[:, None] * 0.6
        segs = np.stack([p0, p1], 1)
        boxes.append(segs.reshape(-1, 2))
        canv.append((segs, at, lift, width))
    allp = np.concatenate(boxes)
    pad = 4
    c0, r0 = np.floor(allp.min(0)).astype(int) - pad
    c1, r1 = np.ceil(allp.max(0)).astype(int) + pad
    r0, c0 = max(r0, 0), max(c0, 0)
    r1, c1 = min(r1, S), min(c1, S)
    canvas = np.zeros((r1 - r0, c1 - c0), np.uint8)
    shift = np.array([c0, r0], np.float64)
    for segs, at, lift, width in canv:
        # A faint fill under the hairs so sparse brows still read at low resolution.
        t = np.linspace(0, 1, 24)
        bump = np.exp(-0.5 * ((t - peak) / 0.22) ** 2) - 0.35
        lift_t = (arch - 0.45) * 0.45 * bump - tail * 0.25 * smoothstep(t, peak, 1.0) + 0.1 + 0.15
        w_t = thick * 0.85 * (1.0 - 0.6 * t ** 1.5)
        up = np.array([0.0, -1.0])
        top = at(t) + ((lift_t + 0.45 * w_t) * px_cm)[:, None] * up
        bot = at(t) + ((lift_t - 0.45 * w_t) * px_cm)[:, None] * up
        poly = np.concatenate([top, bot[::-1]]) - shift
        cv2.fillPoly(canvas, [np.round(poly * 16).astype(np.int32)], int(70 + 90 * dens), cv2.LINE_AA, shift=4)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.5 * S / 512)
    for segs, *_ in canv:
        lines = np.round((segs - shift) * 16).astype(np.int32)
        half = len(lines) // 2
        th = max(1, int(round(S / 512)))
        cv2.polylines(canvas, list(lines[:half]), False, 255, th, cv2.LINE_AA, shift=4)
        cv2.polylines(canvas, list(lines[half:]), False, 200, th, cv2.LINE_AA, shift=4)
    return canvas, (r0, r1, c0, c1)


def _lash_line(lay: FaceLayout) -> tuple[np.ndarray, tuple]:
    """Dark line along the upper lids (the lash roots), which keeps eyes readable at 112 px."""
    S = lay.size
    lm = lay.lm_uv
    pts = [lm[36:40], lm[42:46]]
    allp = np.concatenate(pts)
    c0, r0 = np.floor(allp.min(0)).astype(int) - 6
    c1, r1 = np.ceil(allp.max(0)).astype(int) + 6
    canvas = np.zeros((r1 - r0, c1 - c0), np.uint8)
    th = max(1, int(round(2 * S / 512)))
    for p in pts:
        q = np.round((p - [c0, r0]) * 16).astype(np.int32)
        cv2.polylines(canvas, [q], False, 200, th, cv2.LINE_AA, shift=4)
    return canvas, (r0, r1, c0, c1)


def _blemishes(rng, lay: FaceLayout, attrs: dict, blood_half: np.ndarray) -> None:
    """Small red blotches, added to the half-resolution blood map (they are blurry anyway)."""
    n = attrs["marks"]["blemishes"]
    if not n or not len(lay.skin_sites):
        return
    H = blood_half.shape[0]
    px = H / 512.0
    idx = rng.integers(0, len(lay.skin_sites), n)
    for x, y in (lay.skin_sites[idx] * H // lay.size).tolist():
        r = max(int(round(rng.uniform(2.0, 4.0) * px)), 1)
        y0, y1, x0, x1 = max(y - 3 * r, 0), min(y + 3 * r + 1, H), max(x - 3 * r, 0), min(x + 3 * r + 1, H)
        patch = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.circle(patch, (x - x0, y - y0), r, float(rng.uniform(0.8, 1.6)), -1)
        blood_half[y0:y1, x0:x1] += cv2.GaussianBlur(patch, (0, 0), r * 0.6)


def _pigment_marks(rng, lay: FaceLayout, attrs: dict, lin: np.ndarray, mel_dir: np.ndarray) -> None:
    """Freckles and moles: extra melanin (log-gain) in small discs, applied at full resolution."""
    S = lay.size
    px = S / 512.0
    mk = attrs["marks"]
    if mk["freckles"] and len(lay.freckle_sites):
        idx = rng.integers(0, len(lay.freckle_sites), mk["freckles"])
        rad = rng.uniform(0.6, 1.8, mk["freckles"]) * px
        val = rng.uniform(0.4, 1.1, mk["freckles"])
        pts = lay.freckle_sites[idx]
        c0, r0 = pts.min(0) - 4
        c1, r1 = pts.max(0) + 5
        r0, c0 = max(r0, 0), max(c0, 0)
        gain = np.zeros((r1 - r0, c1 - c0), np.float32)
        for (x, y), r, v in zip(pts.tolist(), rad.tolist(), val.tolist()):
            cv2.circle(gain, (x - c0, y - r0), max(int(round(r)), 1), float(v), -1)
        lin[r0:r1, c0:c1] *= np.exp(gain[..., None] * mel_dir.astype(np.float32))
    if mk["moles"] and len(lay.skin_sites):
        idx = rng.integers(0, len(lay.skin_sites), mk["moles"])
        for x, y in lay.skin_sites[idx].tolist():
            r = max(int(round(rng.uniform(1.5, 3.5) * px)), 1)
            y0, y1, x0, x1 = max(y - r - 2, 0), min(y + r + 3, S), max(x - r - 2, 0), min(x + r + 3, S)
            gain = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.circle(gain, (x - x0, y - y0), r, 255, -1, cv2.LINE_AA)
            g = gain.astype(np.float32)[..., None] * (float(rng.uniform(1.6, 2.6)) / 255)
            lin[y0:y1, x0:x1] *= np.exp(g * mel_dir.astype(np.float32))


def make_appearance(model: FaceModel, cfg: AppearanceConfig, rng: np.random.Generator,
                    attrs: dict | None = None) -> Appearance:
    """Maps, flat colours and attributes of one identity, drawn from `rng`."""
    lay = face_layout(model, cfg.texture_size)
    S, HS = lay.size, lay.head_size
    m, hm = lay.masks, lay.head_masks
    attrs = attrs if attrs is not None else sample_attributes(cfg, rng)
    sk = attrs["skin"]
    mel, blood, oxy = sk["melanin"], sk["blood"], sk["oxygenation"]
    base = skin.linear_rgb(mel, blood, oxy)
    log_base = np.log(base).astype(np.float32)
    # Log-albedo directions of the spectral model, linearised per unit log-gain:
    blood_dir = np.log(skin.linear_rgb(mel, min(blood * np.e, 0.45), oxy)) - np.log(base)
    mel_dir = np.log(skin.linear_rgb(min(mel * np.e, 0.9), blood, oxy)) - np.log(base)
    # Periorbital darkening: more melanin and darker (less oxygenated) venous blood.
    eye_dir = np.log(skin.linear_rgb(min(mel * np.exp(sk["eye_melanin"]), 0.9), blood * 1.3, oxy * 0.6)) - np.log(base)
    lip_col = skin.linear_rgb(min(mel * 1.25, 0.9), min(blood * np.exp(sk["lip_blood"]), 0.45), 0.85)
    lip_dir = np.log(lip_col) - np.log(base)

    # Low-frequency skin colour at half resolution (masks and noise are smooth), upsampled.
    noise_sd = cfg.skin.noise
    H = S // 2
    blood_dyn = _noise(rng, H, 20, H) * (noise_sd * 2.0)
    _blemishes(rng, lay, attrs, blood_dyn)
    n_lum = _noise(rng, H, 12, H) * noise_sd + _noise(rng, H, 48, H) * (noise_sd * 0.5)
    K = np.empty((H, H, 5), np.float32)
    K[..., :3] = lay.half_stack  # flush (cheek + nose + chin), eyes, lips
    K[..., 0] *= sk["cheek_blood"]
    K[..., 0] += blood_dyn
    K[..., 3] = n_lum
    K[..., 4] = 1.0
    T = np.stack([blood_dir, eye_dir, lip_dir, np.ones(3), log_base]).astype(np.float32)
    low = (K.reshape(-1, 5) @ T).reshape(H, H, 3)
    np.exp(low, out=low)
    lin = cv2.resize(low, (S, S), interpolation=cv2.INTER_LINEAR)
    _pigment_marks(rng, lay, attrs, lin, mel_dir)

    # Hair layers, composited in linear RGB.
    hair_lin = _lin(attrs["hair"]["srgb"]).astype(np.float32)
    brow_lin = (hair_lin * attrs["brows"]["darken"]).astype(np.float32)
    lash_lin = (np.minimum(hair_lin, _lin((30, 24, 22))) * 0.8).astype(np.float32)
    hair_alpha = np.zeros((S, S), np.float32)  # for the surface maps

    canvas, (r0, r1, c0, c1) = _brow_strokes(rng, lay, attrs)
    a = canvas.astype(np.float32) * (1 / 255) * (1 - m["eye_open"][r0:r1, c0:c1])
    _composite(lin, a, brow_lin, (r0, r1, c0, c1))
    hair_alpha[r0:r1, c0:c1] = np.maximum(hair_alpha[r0:r1, c0:c1], a)
    canvas, (r0, r1, c0, c1) = _lash_line(lay)
    _composite(lin, canvas.astype(np.float32) * (0.8 / 255), lash_lin, (r0, r1, c0, c1))

    st = _hair_statics(lay)
    style = attrs["facial_hair"]
    if style != "none":
        r0, r1, c0, c1 = st.beard_box
        a = _facial_hair(rng, style, st, hair_lin, lin)
        hair_alpha[r0:r1, c0:c1] = np.maximum(hair_alpha[r0:r1, c0:c1], a)

    hr = attrs["hair"]
    if hr["scalp"]:
        r0, r1, c0, c1 = st.scalp.box
        a = _scalp(rng, m, st.scalp, hr["hairline"], hair_lin, lin)
        hair_alpha[r0:r1, c0:c1] = np.maximum(hair_alpha[r0:r1, c0:c1], a)

    # Surface: oily T-zone is smoother and shinier, lips glossy, hair matte.
    sf = attrs["surface"]
    n_s = _noise(rng, S, 32, S)  # noqa: surface noise at full size (one resize)
    rough = sf["roughness"] - sf["tzone_oil"] * m["tzone"] - 0.15 * m["lips"] + 0.04 * n_s
    rough += (0.85 - rough) * hair_alpha
    spec = sf["specular"] + 0.6 * sf["tzone_oil"] * m["tzone"] + 0.1 * m["lips"] - 0.03 * n_s
    spec -= (spec - 0.2) * hair_alpha

    # Head tile: skin, sockets, scalp hair (and beard under the chin).
    lin_h = np.empty((HS, HS, 3), np.float32)
    lin_h[:] = base.astype(np.float32)
    lin_h *= np.exp(_noise(rng, HS, 8, HS) * noise_sd)[..., None]
    mouth_in = skin.linear_rgb(min(mel * 1.1, 0.9), 0.3, 0.5) * 0.55
    _composite(lin_h, hm["mouth_socket"], mouth_in.astype(np.float32))
    _composite(lin_h, hm["eye_socket"], (base * 0.5 + mouth_in * 0.5).astype(np.float32))
    hair_h = np.zeros((HS, HS), np.float32)
    # Facial hair stays on the face tile: the beard area (down the neck to the sideburns in front
    # of the ears) lies inside it.
    if hr["scalp"]:
        r0, r1, c0, c1 = st.head_scalp.box
        hair_h[r0:r1, c0:c1] = _scalp(rng, hm, st.head_scalp, hr["hairline"], hair_lin, lin_h)
    rough_h = sf["roughness"] + (0.85 - sf["roughness"]) * hair_h
    spec_h = sf["specular"] - (sf["specular"] - 0.2) * hair_h

    maps = {
        "albedo": skin.to_srgb8_fast(lin),
        "roughness": np.clip(rough * 255 + 0.5, 0, 255).astype(np.uint8),
        "specular": np.clip(spec * 255 + 0.5, 0, 255).astype(np.uint8),
        "albedo_head": skin.to_srgb8_fast(lin_h),
        "roughness_head": np.clip(rough_h * 255 + 0.5, 0, 255).astype(np.uint8),
        "specular_head": np.clip(spec_h * 255 + 0.5, 0, 255).astype(np.uint8),
    }
    return Appearance(maps, _colors(attrs, lip_col, base), attrs)


def _box_noise(rng, shape: tuple[int, int], cells: tuple[int, int]) -> np.ndarray:
    """Smooth unit-std noise over a box: cells (rows, cols) normals upsampled bicubically."""
    n = rng.standard_normal(cells, dtype=np.float32)
    return cv2.resize(n, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


# Multiplicative cast of stubble under the skin (linear RGB): dark hair seen through the
# translucent epidermis reads blue-grey ("five o'clock shadow").
_STUBBLE_CAST = np.array([0.55, 0.62, 0.76], np.float32)


def _facial_hair(rng, style: str, st: _HairStatics, hair_lin: np.ndarray, lin: np.ndarray) -> np.ndarray:
    """Composite one facial hair style into `lin` (face tile) inside the beard box; returns the
    hair coverage (box-sized) for the surface maps. Density falls off towards every border, the
    borders are moved and roughened per identity, and the hair is made of static strokes
    thresholded by density, so skin shows through where the hair is sparse."""
    f = st.beard
    r0, r1, c0, c1 = st.beard_box
    shape = (r1 - r0, c1 - c0)
    cells = (max(int(shape[0] / st.px_cm / 1.2), 2), max(int(shape[1] / st.px_cm / 1.2), 2))  # ~1.2 cm features
    edge = _box_noise(rng, shape, cells)
    patch = _box_noise(rng, shape, (max(cells[0] // 3, 2), max(cells[1] // 3, 2)))
    box = lin[r0:r1, c0:c1]
    if style == "stubble":
        rank, _ = st.stubble.window(rng)
        shift = float(rng.uniform(-0.4, 0.5))  # cm: cheek line lower (+) or higher (-)
        field = f["beard_field"] - shift * f["cheek_line"] + 0.25 * edge
        dens = np.clip(smoothstep(field, -0.3, 1.0) * (float(rng.uniform(0.6, 1.0)) + 0.12 * patch), 0.0, 1.0)
        dark = float(np.clip(1.0 - (hair_lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)) / 0.3, 0.15, 1.0))
        shade = dens * (float(rng.uniform(0.45, 0.75)) * dark)
        box *= (1.0 - shade[..., None] * (1.0 - _STUBBLE_CAST))
        a = smoothstep(rank - 1.0 + 0.8 * dens, 0.0, 0.25) * 0.6
        _composite(lin, a, hair_lin * 0.85, st.beard_box)
        return np.maximum(a, 0.5 * shade)
    rank, tint = st.beard_strands.window(rng)
    if style == "full_beard":
        shift = float(rng.uniform(-0.4, 0.6))
        field = f["beard_field"] - shift * f["cheek_line"] + (0.08 + 0.25 * f["cheek_line"]) * edge
        soft = float(rng.uniform(0.6, 1.2))  # cm over which density builds up from the border
        fill = float(rng.uniform(0.8, 1.0))
        # The mustache part of a beard is as dense as a mustache alone.
        field = np.maximum(field, f["mustache_field"] * (soft / 0.15))
    elif style == "mustache":
        field = f["mustache_field"] - float(rng.uniform(0.0, 0.1)) + 0.06 * edge
        soft, fill = 0.15, float(rng.uniform(0.85, 1.0))  # dense up to the nostril sill
    else:  # goatee: chin patch alone, with a separate mustache, or joined round the mouth
        g = f["goatee_field"] + float(rng.uniform(-0.25, 0.2)) + 0.15 * edge
        kind = rng.random()
        if kind > 0.25:
            g = np.maximum(g, (f["mustache_field"] - float(rng.uniform(0.0, 0.1)) + 0.06 * edge) * (0.4 / 0.15))
        if kind > 0.6:
            g = np.maximum(g, f["mouth_ring_field"] + 0.05 * edge)
        field = g
        soft, fill = 0.4, float(rng.uniform(0.8, 1.0))
    dens = np.clip(smoothstep(field, -0.05, soft) * (fill + 0.15 * patch), 0.0, 1.0)
    # Strands above the density threshold, over a thin undercoat where the hair is dense.
    a = np.maximum(smoothstep(rank - 1.0 + dens, 0.0, 0.2), 0.75 * dens * dens) * 0.96
    _composite(lin, a, hair_lin * tint[..., None], st.beard_box)
    return a


def _scalp(rng, m: dict[str, np.ndarray], sf: _StrandField, hairline: float, hair_lin: np.ndarray,
           lin: np.ndarray) -> np.ndarray:
    """Composite scalp hair into one tile; returns its coverage (box-sized). The hairline is a
    soft, irregular ramp made of single strands (the threshold trick of `_facial_hair`)."""
    r0, r1, c0, c1 = sf.box
    field = m["scalp_field"][r0:r1, c0:c1]
    fw = m["front_weight"][r0:r1, c0:c1]
    h, w = field.shape
    lowf = _box_noise(rng, (h, w), (6, 6))
    midf = _box_noise(rng, (h, w), (max(h // 12, 2), max(w // 12, 2)))
    # Positive hairline recedes (up to ~2 cm at the front); noise keeps the edge irregular.
    f = field - 2.0 * hairline * fw + 0.25 * lowf + 0.12 * midf
    dens = smoothstep(f, -0.5, 0.6)
    rank, tint = sf.window(rng)
    a = np.maximum(smoothstep(rank - 1.0 + dens, 0.0, 0.2) * 0.9, smoothstep(f, 0.1, 0.9) * 0.97)
    a *= 1 - m["ear"][r0:r1, c0:c1]
    _composite(lin, a, hair_lin * tint[..., None], sf.box)
    return a


def _colors(attrs: dict, lip_col: np.ndarray, base: np.ndarray) -> dict[str, tuple[int, int, int]]:
    e = attrs["eyes"]
    red = e["sclera_redness"]
    sclera = (1 - red) * _lin((232, 226, 218)) + red * _lin((225, 170, 160))
    ty = attrs["teeth_yellow"]
    teeth = (1 - ty) * _lin((238, 234, 222)) + ty * _lin((222, 204, 160))
    gums = 0.55 * lip_col + 0.45 * _lin((190, 90, 95))
    hair = _lin(attrs["hair"]["srgb"])
    return {
        "skin": _srgb8(base),
        "hair": tuple(attrs["hair"]["srgb"]),
        "brow": _srgb8(hair * attrs["brows"]["darken"]),
        "eyelashes": _srgb8(np.minimum(hair, _lin((30, 24, 22))) * 0.8),
        "iris": tuple(e["srgb"]),
        "pupil": (8, 6, 6),
        "sclera": _srgb8(sclera),
        "teeth": _srgb8(teeth),
        "gums": _srgb8(gums),
        "lips": _srgb8(lip_col),
    }


def iris_vertex_colors(model: FaceModel, colors: dict, vertices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-vertex sRGB uint8 colours (n,3) for M_IrisLeft / M_IrisRight vertex ranges: pupil in
    the middle, iris colour, darker limbal ring. Keys are the vertex_regions names."""
    v = model.neutral if vertices is None else vertices
    out = {}
    for name in ("iris_left", "iris_right"):
        if name not in model.vertex_regions:
            continue
        a, b = model.vertex_regions[name]
        p = v[a:b].astype(np.float64)
        c = p.mean(0)
        # The iris is a shallow cap: its axis is the direction of the cap's most forward point.
        axis = p[np.argmax(p[:, 2])] - c
        axis /= np.linalg.norm(axis) + 1e-9
        rad = np.linalg.norm((p - c) - np.outer((p - c) @ axis, axis), axis=1)
        r = rad / (rad.max() + 1e-9)
        iris = _lin(colors["iris"])
        col = np.where(r[:, None] < 0.35, _lin(colors["pupil"]), iris * (0.8 + 0.4 * r[:, None]))
        col = np.where(r[:, None] > 0.88, iris * 0.45, col)
        out[name] = np.round(skin.srgb_encode(col) * 255).astype(np.uint8)
    return out
