"""Loaders for Basel Face Models that users bring under their own licence (never shipped).

* BFM 2017 (`model2017-1_*.h5`, statismo layout): `/shape/model/{mean, pcaBasis, pcaVariance}`,
  the same under `/color/model` and `/expression/model`, and `/shape/representer/{points, cells}`
  (points (3, V), cells (3, F), 0-based). Vectors interleave x1 y1 z1 x2 ...; `pcaBasis` (3V, K)
  has orthonormal columns and `pcaVariance` holds *variances*, so an instance is
  mean + pcaBasis @ (sqrt(pcaVariance) * alpha), alpha ~ N(0, I). Colours are RGB in [0, 1].
* BFM 2009 (`01_MorphableModel.mat`, MATLAB v5): `shapeMU` (3V, 1), `shapePC` (3V, K), `shapeEV`
  (K, 1) *standard deviations*, `texMU`/`texPC`/`texEV` likewise with colours in 0..255, and `tl`
  (F, 3) 1-based triangles. It has no expression model.

Units: BFM 2017 coordinates are millimetres and BFM 2009 micrometres (per their documentation);
`scale` converts to centimetres like ICT and can be overridden. Landmarks come from config.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from core.config import FrozenConfig
from core.errors import FacesynthError
from gen.modelcache import FaceModel

DEFAULT_SCALE = {"bfm2017": 0.1, "bfm2009": 1e-4}


class BFMConfig(FrozenConfig):
    path: str = Field(description="the .h5 (BFM 2017) or .mat (BFM 2009) file")
    format: Literal["bfm2017", "bfm2009"] = Field(description="which Basel model layout the file has")
    landmarks68: list[int] | None = Field(None, description="68 Multi-PIE landmark vertex ids (0-based), in order")
    scale: float | None = Field(None, gt=0, description="model units -> cm (default: 0.1 for 2017, 1e-4 for 2009)")
    psi: float = Field(2.0, gt=0, le=5, description="truncation of shape/colour coefficients (std units)")

    @field_validator("landmarks68")
    @classmethod
    def _68(cls, v):
        if v is not None and (len(v) != 68 or min(v) < 0):
            raise ValueError("needs exactly 68 non-negative vertex ids")
        return v


@dataclass(frozen=True)
class MorphableModel:
    name: str
    mean: np.ndarray  # (V,3) float32 cm
    shape_basis: np.ndarray  # (K,V,3) float32 orthonormal modes (cm per unit)
    shape_std: np.ndarray  # (K,) float32
    color_mean: np.ndarray  # (V,3) float32 RGB in [0,1]
    color_basis: np.ndarray  # (Kc,V,3) float32
    color_std: np.ndarray  # (Kc,)
    expr_basis: np.ndarray  # (E,V,3) float32 (E may be 0)
    expr_std: np.ndarray  # (E,)
    faces: np.ndarray  # (F,3) int32, 0-based
    landmarks68: np.ndarray | None  # (68,) int64

    @property
    def n_vertices(self) -> int:
        return int(self.mean.shape[0])

    def shape(self, coeffs: np.ndarray, expr: np.ndarray | None = None) -> np.ndarray:
        c = np.asarray(coeffs, np.float32) * self.shape_std
        v = self.mean + np.tensordot(c, self.shape_basis, axes=1)
        if expr is not None and len(self.expr_std):
            v = v + np.tensordot(np.asarray(expr, np.float32) * self.expr_std, self.expr_basis, axes=1)
        return v.astype(np.float32)

    def albedo(self, coeffs: np.ndarray) -> np.ndarray:
        c = np.asarray(coeffs, np.float32) * self.color_std
        return np.clip(self.color_mean + np.tensordot(c, self.color_basis, axes=1), 0, 1).astype(np.float32)

    def sample(self, rng: np.random.Generator, psi: float = 2.0) -> dict:
        """Truncated N(0, I) shape and colour coefficients, with the vertices and per-vertex albedo."""
        def draw(n):
            c = rng.standard_normal(n)
            for _ in range(1000):
                bad = np.abs(c) > psi
                if not bad.any():
                    break
                c[bad] = rng.standard_normal(int(bad.sum()))
            return np.clip(c, -psi, psi).astype(np.float32)
        s, t = draw(len(self.shape_std)), draw(len(self.color_std))
        return {"shape_coeffs": s, "color_coeffs": t, "vertices": self.shape(s), "albedo": self.albedo(t)}

    def as_face_model(self) -> FaceModel:
        """Geometry in the FaceModel API (identity sampling, expressions). No UVs: BFM has per-vertex
        colour instead, so gen.appearance's UV maps do not apply; use `albedo()`."""
        F = len(self.faces)
        return FaceModel(
            name=self.name, version="user", neutral=self.mean, id_basis=self.shape_basis, id_std=self.shape_std,
            expr_basis=self.expr_basis * self.expr_std[:, None, None] if len(self.expr_std) else self.expr_basis,
            expr_names=[f"expr{k:03d}" for k in range(len(self.expr_std))], faces=self.faces,
            uvs=np.zeros((1, 2), np.float32), face_uvs=np.zeros((F, 3), np.int32),
            face_region=np.zeros(F, np.int16), region_names=["M_Face"],
            vertex_regions={"face": (0, self.n_vertices)},
            landmarks68=self.landmarks68 if self.landmarks68 is not None else np.zeros(0, np.int64),
            meta={"units": "cm", "source": self.name})


def _modes(path: Path, key: str, flat: np.ndarray, n_vertices: int) -> np.ndarray:
    """(3V, K) basis -> (K, V, 3)."""
    if flat.ndim != 2 or flat.shape[0] != 3 * n_vertices:
        raise FacesynthError(f"{path}: {key} has shape {flat.shape}, expected (3*{n_vertices}, K); "
                             "is this an unmodified Basel Face Model file?")
    return np.ascontiguousarray(flat.T.reshape(flat.shape[1], n_vertices, 3), np.float32)


def _vec(path: Path, key: str, a: np.ndarray, n: int | None = None) -> np.ndarray:
    a = np.asarray(a, np.float64).reshape(-1)
    if n is not None and a.size != n:
        raise FacesynthError(f"{path}: {key} has {a.size} values, expected {n}; is this an unmodified Basel Face Model file?")
    return a


def _load_2017(path: Path, scale: float) -> dict:
    import h5py
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise FacesynthError(f"{path}: not an HDF5 file; BFM 2017 comes as model2017-1_*.h5 (or set format: bfm2009)") from None
    with f:
        def get(k):
            if k not in f:
                raise FacesynthError(f"{path}: no /{k} inside; expected the BFM 2017 statismo layout "
                                     "(/shape/model/mean, pcaBasis, pcaVariance, /shape/representer/points, cells)")
            return np.asarray(f[k][()])
        pts = get("shape/representer/points")
        if pts.ndim != 2 or pts.shape[0] != 3:
            raise FacesynthError(f"{path}: /shape/representer/points has shape {pts.shape}, expected (3, V)")
        V = pts.shape[1]
        cells = get("shape/representer/cells")
        if cells.ndim != 2 or cells.shape[0] != 3:
            raise FacesynthError(f"{path}: /shape/representer/cells has shape {cells.shape}, expected (3, F)")
        out = {"faces": cells.T.astype(np.int32)}
        for part, key in (("shape", "shape"), ("color", "color"), ("expression", "expr")):
            if part == "expression" and "expression/model/mean" not in f:
                out[key] = None
                continue
            mean = _vec(path, f"/{part}/model/mean", get(f"{part}/model/mean"), 3 * V).reshape(V, 3)
            basis = _modes(path, f"/{part}/model/pcaBasis", get(f"{part}/model/pcaBasis"), V)
            var = _vec(path, f"/{part}/model/pcaVariance", get(f"{part}/model/pcaVariance"), basis.shape[0])
            if (var < 0).any():
                raise FacesynthError(f"{path}: /{part}/model/pcaVariance has negative values; the file is corrupt")
            s = 1.0 if part == "color" else scale
            out[key] = (mean * s, basis * s, np.sqrt(var))
    return out


def _load_2009(path: Path, scale: float) -> dict:
    import scipy.io
    try:
        d = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise FacesynthError(f"{path}: MATLAB v7.3 file; re-save it in MATLAB with save(..., '-v7') or use the original 01_MorphableModel.mat") from None
    except (ValueError, OSError, TypeError) as e:
        raise FacesynthError(f"{path}: not a readable MATLAB .mat file ({e}); BFM 2009 comes as 01_MorphableModel.mat") from None
    for k in ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV", "tl"):
        if k not in d:
            raise FacesynthError(f"{path}: no variable {k}; expected BFM 2009 (shapeMU, shapePC, shapeEV, texMU, texPC, texEV, tl)")
    mu = _vec(path, "shapeMU", d["shapeMU"])
    if mu.size % 3:
        raise FacesynthError(f"{path}: shapeMU has {mu.size} values, not a multiple of 3")
    V = mu.size // 3
    tl = np.asarray(d["tl"])
    if tl.ndim != 2 or tl.shape[1] != 3:
        raise FacesynthError(f"{path}: tl has shape {tl.shape}, expected (F, 3)")
    if tl.min() < 1 or tl.max() > V:
        raise FacesynthError(f"{path}: tl must hold 1-based vertex ids in 1..{V}")
    out = {"faces": (tl - 1).astype(np.int32), "expr": None}
    basis = _modes(path, "shapePC", np.asarray(d["shapePC"]), V)
    out["shape"] = (mu.reshape(V, 3) * scale, basis * scale, _vec(path, "shapeEV", d["shapeEV"], basis.shape[0]))
    tb = _modes(path, "texPC", np.asarray(d["texPC"]), V)
    out["color"] = (_vec(path, "texMU", d["texMU"], 3 * V).reshape(V, 3) / 255.0, tb / 255.0,
                    _vec(path, "texEV", d["texEV"], tb.shape[0]))
    return out


def load_bfm(cfg: BFMConfig) -> MorphableModel:
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise FacesynthError(f"{path}: no such file; set bfm.path to your Basel Face Model file (it is not distributed with facesynth)")
    scale = cfg.scale if cfg.scale is not None else DEFAULT_SCALE[cfg.format]
    d = (_load_2017 if cfg.format == "bfm2017" else _load_2009)(path, scale)
    mean, basis, std = d["shape"]
    V = mean.shape[0]
    if d["faces"].size and (d["faces"].min() < 0 or d["faces"].max() >= V):
        raise FacesynthError(f"{path}: triangles reference vertices outside 0..{V - 1}; the file is corrupt")
    cmean, cbasis, cstd = d["color"]
    if cmean.shape[0] != V:
        raise FacesynthError(f"{path}: colour model has {cmean.shape[0]} vertices, shape model {V}")
    if d["expr"] is not None:
        emean, ebasis, estd = d["expr"]
        # The expression mean is applied as an offset from the neutral mean. Should a file store it
        # as a full mesh instead (as large as the shape mean), its difference is the offset.
        offset = emean if np.abs(emean).max() < 0.25 * np.abs(mean).max() else emean - mean
        mean = mean + offset
    else:
        ebasis, estd = np.zeros((0, V, 3), np.float32), np.zeros(0)
    lm = None
    if cfg.landmarks68 is not None:
        lm = np.asarray(cfg.landmarks68, np.int64)
        if lm.max() >= V:
            raise FacesynthError(f"bfm.landmarks68: vertex id {int(lm.max())} is out of range for {path} ({V} vertices)")
    return MorphableModel(name=cfg.format, mean=mean.astype(np.float32), shape_basis=basis.astype(np.float32),
                          shape_std=std.astype(np.float32), color_mean=cmean.astype(np.float32),
                          color_basis=cbasis.astype(np.float32), color_std=cstd.astype(np.float32),
                          expr_basis=ebasis.astype(np.float32), expr_std=np.asarray(estd, np.float32),
                          faces=d["faces"], landmarks68=lm)
