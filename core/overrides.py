"""`KEY=VALUE` overrides after a command's options, applied to the config file's data before it
is validated: `facesynth generate --config c.yaml --out o identities=100 render.pose.yaw.std=20`.

KEY is a dotted path into the YAML mapping; VALUE is parsed as YAML (`20` is a number, `true` a
bool, `[[0, 0, 0]]` a list, `'007'` a string). The merged mapping then goes through the same
validation as the file, so a bad override fails like a bad file (one line naming the key), and
anything derived from the parsed config (the dataset's config hash) includes it.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Sequence, TypeVar

import yaml
from pydantic import BaseModel

from core.config import parse_model, read_yaml
from core.errors import FacesynthError

M = TypeVar("M", bound=BaseModel)
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_override(item: str) -> tuple[list[str], object]:
    """'a.b.c=VALUE' -> (['a', 'b', 'c'], parsed VALUE)."""
    key, eq, raw = item.partition("=")
    key = key.strip()
    if not eq or not _KEY.match(key):
        raise FacesynthError(f"override {item!r}: expected KEY=VALUE with KEY a dotted config path "
                             "(e.g. identities=100 or render.pose.yaw.std=20)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise FacesynthError(f"override {item!r}: the value is not valid YAML; quote it, e.g. {key}='...'") from None
    return key.split("."), value


def apply_overrides(data: dict, items: Sequence[str] | None) -> dict:
    """A copy of `data` with every override set (later ones win); sections are created as needed."""
    out = copy.deepcopy(data)
    for item in items or ():
        path, value = parse_override(item)
        node = out
        for i, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                where = ".".join(path[:i + 1])
                raise FacesynthError(f"override {item!r}: {where} is a value, not a section; "
                                     f"set it as a whole ({where}=...)")
            node = child
        node[path[-1]] = value
    return out


def source_name(path: str | Path | None, items: Sequence[str] | None, default: str = "config") -> str:
    """How error messages name the config: the file, plus its overrides."""
    base = str(path) if path else default
    return f"{base} with overrides {' '.join(items)}" if items else base


def load_with_overrides(cls: type[M], path: str | Path | None, items: Sequence[str] | None,
                        default: dict | None = None) -> M:
    """read_yaml(path) (or `default` without a path) -> overrides -> validation, as one step."""
    data = read_yaml(path) if path else copy.deepcopy(default or {})
    return parse_model(cls, apply_overrides(data, items), source_name(path, items))
