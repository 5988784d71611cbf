"""Load a YAML file into a pydantic model, failing with one line that names the key."""
from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from gen.errors import FacesynthError, validation_message

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
