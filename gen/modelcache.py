"""The in-memory face model every stage shares, and its on-disk cache format.

This module imports no importer (gen/ict.py, gen/bfm.py import it); gen/facemodel.load_model is
the one door that reads the cache and imports a missing model.

A cached model is a folder `$FACESYNTH_HOME/models/<name>/` holding one `.npy` per array
(memory-mapped on load, so loading takes milliseconds), `meta.json`, and the model's LICENSE.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.atomic import atomic_dir
from core.errors import FacesynthError
from core.paths import models_dir

CACHE_FORMAT = 1
_ARRAYS = ("neutral", "id_basis", "id_std", "expr_basis", "faces", "uvs", "face_uvs",
           "face_region", "landmarks68")


@dataclass(frozen=True)
class FaceModel:
    name: str
    version: str
    neutral: np.ndarray  # (V, 3) float32, model units (ICT: cm)
    id_basis: np.ndarray  # (K, V, 3) float32, one shape mode per row
    id_std: np.ndarray  # (K,) float32, std of each mode's coefficient
    expr_basis: np.ndarray  # (E, V, 3) float32 blendshape deltas
    expr_names: list[str]
    faces: np.ndarray  # (F, 3) int32 triangles
    uvs: np.ndarray  # (T, 2) float32
    face_uvs: np.ndarray  # (F, 3) int32
    face_region: np.ndarray  # (F,) int16 index into region_names
    region_names: list[str]
    vertex_regions: dict[str, tuple[int, int]]  # name -> [start, end) vertex range
    landmarks68: np.ndarray  # (68,) int64 Multi-PIE landmark vertex ids
    meta: dict = field(default_factory=dict)

    @property
    def n_vertices(self) -> int:
        return int(self.neutral.shape[0])

    @property
    def n_identity(self) -> int:
        return int(self.id_basis.shape[0])

    def shape(self, coeffs: np.ndarray, expr: np.ndarray | None = None) -> np.ndarray:
        """Vertices for identity coefficients (in units of each mode's std) and blendshape weights."""
        c = np.asarray(coeffs, np.float32) * self.id_std
        v = (self.neutral + np.tensordot(c, self.id_basis, axes=1)).astype(np.float32, copy=False)
        return v if expr is None else self.with_expression(v, expr)

    def with_expression(self, vertices: np.ndarray, expr: np.ndarray) -> np.ndarray:
        """`vertices` (an identity's shape) deformed by blendshape weights `expr`."""
        w = np.asarray(expr, np.float32)
        nz = np.flatnonzero(w)  # few units are active: skip the rest
        if not nz.size:
            return vertices
        return (vertices + np.tensordot(w[nz], self.expr_basis[nz], axes=1)).astype(np.float32, copy=False)

    def region_faces(self, *names: str) -> np.ndarray:
        """Indices of the triangles whose material region is one of `names`."""
        ids = [self.region_names.index(n) for n in names if n in self.region_names]
        return np.flatnonzero(np.isin(self.face_region, ids))


def save_model(model: FaceModel, license_text: str | None, extra_files: dict[str, bytes] | None = None,
               root: Path | None = None) -> Path:
    """Write the cache atomically: build in a temp folder beside it, then swap it in."""
    root = root or models_dir()
    final = root / model.name
    with atomic_dir(final, "model cache") as tmp:
        for key in _ARRAYS:
            np.save(tmp / f"{key}.npy", np.ascontiguousarray(getattr(model, key)))
        meta = dict(model.meta, name=model.name, version=model.version, cache_format=CACHE_FORMAT,
                    expr_names=model.expr_names, region_names=model.region_names,
                    vertex_regions={k: list(v) for k, v in model.vertex_regions.items()})
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        if license_text is not None:
            (tmp / "LICENSE").write_text(license_text)
        for name, data in (extra_files or {}).items():
            (tmp / name).write_bytes(data)
    return final


def read_cached(name: str, root: Path | None = None) -> FaceModel | None:
    """The cached model, or None where it is not installed."""
    folder = (root or models_dir()) / name
    meta_path = folder / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("cache_format") != CACHE_FORMAT:
            return None
        arrays = {k: np.load(folder / f"{k}.npy", mmap_mode="r", allow_pickle=False) for k in _ARRAYS}
    except (OSError, ValueError) as e:
        raise FacesynthError(f"{folder}: model cache is damaged ({e}); re-run `facesynth models import {name}`") from None
    return FaceModel(
        name=meta["name"], version=meta["version"],
        expr_names=list(meta["expr_names"]), region_names=list(meta["region_names"]),
        vertex_regions={k: (int(a), int(b)) for k, (a, b) in meta["vertex_regions"].items()},
        meta=meta, **arrays)


def installed_models(root: Path | None = None) -> list[dict]:
    root = root or models_dir()
    out = []
    for meta_path in sorted(root.glob("*/meta.json")):
        try:
            out.append(json.loads(meta_path.read_text()) | {"path": str(meta_path.parent)})
        except (OSError, ValueError):
            continue
    return out
