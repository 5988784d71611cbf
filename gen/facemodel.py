"""load_model: the face model every stage uses, read from the cache and imported on a miss.

The model itself (FaceModel) and the cache format live in gen/modelcache.py, the importers in
gen/registry.py; this module sits above both, so neither imports it back.
"""
from __future__ import annotations

import os

from core.paths import models_dir
from gen import registry
from gen.modelcache import FaceModel, read_cached

__all__ = ["FaceModel", "load_model"]  # FaceModel re-exported: the type every stage passes around

_LOADED: dict[tuple[str, str], FaceModel] = {}


def load_model(name: str = "ict-facekit", source: str | os.PathLike | None = None) -> FaceModel:
    """The named model from the cache, importing it first where it is missing.

    Cached per process (keyed by the cache folder) so actors load it once.
    """
    key = (name, str(models_dir()))
    if key in _LOADED:
        return _LOADED[key]
    model = read_cached(name)
    if model is None:
        registry.import_model(name, source)
        model = read_cached(name)
        assert model is not None
    _LOADED[key] = model
    return model
