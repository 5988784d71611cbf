"""Load a YAML file into a pydantic model, failing with one line that names the key."""
from __future__ import annotations

from pathlib import Path
from typing import TypeVar, get_args

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from core.errors import FacesynthError, validation_message

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FacesynthError(f"{p}: config file not found; pass an existing YAML file (see configs/)")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise FacesynthError(f"{p}: malformed YAML{where}; fix the syntax") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FacesynthError(f"{p}: top level must be a mapping of keys to values")
    return data


def parse_model(cls: type[M], data: dict, source: str = "config") -> M:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise FacesynthError(validation_message(e, source)) from None


def load_yaml_model(cls: type[M], path: str | Path) -> M:
    return parse_model(cls, read_yaml(path), str(path))


def _model_type(annotation) -> type[BaseModel] | None:
    """The pydantic model class inside `annotation` (also `X | None`), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    subs = [a for a in get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return subs[0] if len(subs) == 1 else None


def _merge(cls: type[BaseModel], base: dict, over: dict) -> dict:
    # Recurse only through model-typed fields: free dicts (e.g. `kinds` weights) are replaced
    # whole, so a user can still drop entries from them.
    out = {**base, **over}
    for name, field in cls.model_fields.items():
        sub = _model_type(field.annotation)
        if sub and isinstance(base.get(name), dict) and isinstance(over.get(name), dict):
            out[name] = _merge(sub, base[name], over[name])
    return out


class StrictConfig(BaseModel):
    """Base of every config section: unknown keys are errors, and a section given in part
    (say `pose: {yaw: {std: 20}}`) keeps the documented defaults for the keys it leaves out,
    including defaults that an enclosing section sets for it."""
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _fill_from_defaults(cls, data):
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for name, field in cls.model_fields.items():
            sub = _model_type(field.annotation)
            given = out.get(name)
            if sub is None or not isinstance(given, dict):
                continue
            if field.default_factory is not None:
                default = field.default_factory()
            elif isinstance(field.default, BaseModel):
                default = field.default
            else:
                continue
            if isinstance(default, BaseModel):
                out[name] = _merge(sub, default.model_dump(), given)
        return out


class FrozenConfig(StrictConfig):
    model_config = ConfigDict(extra="forbid", frozen=True)
