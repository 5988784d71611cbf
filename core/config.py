"""Load a YAML file into a pydantic model, failing with one line that names the key."""
from __future__ import annotations

from pathlib import Path
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from core.errors import FacesynthError, KeyedValueError, validation_message

M = TypeVar("M", bound=BaseModel)


MAX_YAML_BYTES = 1 << 20  # configs are a few KB; a bigger file is a mistake or an attack
MAX_YAML_ALIASES = 100  # anchors may be reused a little, not expanded exponentially
MAX_YAML_NODES = 100_000  # values after aliases are expanded


class _Refused(yaml.YAMLError):
    """A YAML document this loader will not build (duplicate key, too many aliases)."""

    def __init__(self, problem: str, mark=None):
        super().__init__(problem)
        self.problem, self.problem_mark = problem, mark


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and more than MAX_YAML_ALIASES aliases."""

    def __init__(self, stream):
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _Refused(f"more than {MAX_YAML_ALIASES} aliases (*name)", self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
                seen.add(key)
            except TypeError:  # unhashable key: SafeLoader reports it below
                dup = False
            if dup:
                raise _Refused(f"duplicate key {str(key)[:60]!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _count_nodes(data, budget: int) -> int:
    """Values in `data` with aliases expanded, counting stops once past `budget`."""
    n, stack = 0, [data]
    while stack and n <= budget:
        x = stack.pop()
        n += 1
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend(x)
    return n


def read_yaml(path: str | Path) -> dict:
    """A YAML mapping, read strictly: UTF-8 text of at most MAX_YAML_BYTES, no duplicate keys,
    bounded aliases and expanded size. Every refusal is one line naming the file."""
    p = Path(path)
    if not p.is_file():
        raise FacesynthError(f"{p}: config file not found; pass an existing YAML file (see configs/)")
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_YAML_BYTES + 1)
    except OSError as e:
        raise FacesynthError(f"{p}: cannot read it ({e.strerror}); check the path and its permissions") from None
    if len(raw) > MAX_YAML_BYTES:
        raise FacesynthError(f"{p}: larger than {MAX_YAML_BYTES >> 10} KB; a config is a short YAML file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FacesynthError(f"{p}: not UTF-8 text (byte {raw[e.start]:#04x} at offset {e.start}); "
                             "save the config as UTF-8 YAML") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        what = f": {e.problem}" if isinstance(e, _Refused) else ""
        raise FacesynthError(f"{p}: malformed YAML{where}{what}; fix the syntax") from None
    except RecursionError:
        raise FacesynthError(f"{p}: malformed YAML: nested too deeply; fix the syntax") from None
    if _count_nodes(data, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise FacesynthError(f"{p}: expands to more than {MAX_YAML_NODES} values (aliases of aliases?); "
                             "write the config out plainly")
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


def _number_problem(annotation, value, key: str) -> str | None:
    """Why `value` is not a strict number for `annotation` (None where it is, or where the
    annotation holds no number). Booleans and strings are not numbers, and an int field takes
    no float: YAML's `true`, `"8"` and `8.0` are refused instead of converted."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is bool or annotation is Any:
        return None
    if annotation in (int, float):
        want = "an integer" if annotation is int else "a number"
        if isinstance(value, bool):
            return f"{key}: expected {want}, not a boolean ({value})"
        if isinstance(value, str):
            return f"{key}: expected {want}, not a string ({value[:40]!r})"
        if annotation is int and isinstance(value, float):
            return f"{key}: expected an integer, not {value!r}"
        return None
    if origin in (Union, UnionType):
        opts = [a for a in args if a is not type(None)]
        if value is None or not all(a in (int, float) for a in opts):
            return None  # a model, a string or a literal among the options: pydantic decides
        return _number_problem(float if float in opts else int, value, key)
    if origin is Annotated:
        return _number_problem(args[0], value, key)
    if origin in (dict, Mapping) and isinstance(value, dict) and len(args) == 2:
        for k, v in value.items():
            if (why := _number_problem(args[1], v, f"{key}.{k}")) is not None:
                return why
    if origin in (list, tuple, Sequence) and isinstance(value, (list, tuple)) and args:
        for i, v in enumerate(value):
            a = args[0] if origin is not tuple or (len(args) == 2 and args[1] is Ellipsis) else \
                (args[i] if i < len(args) else None)
            if a is not None and (why := _number_problem(a, v, f"{key}.{i}")) is not None:
                return why
    return None


class StrictConfig(BaseModel):
    """Base of every config section: unknown keys are errors, numbers are finite and strictly
    typed (see _number_problem), and a section given in part (say `pose: {yaw: {std: 20}}`)
    keeps the documented defaults for the keys it leaves out, including defaults that an
    enclosing section sets for it."""
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_defaults(cls, data):
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            if name in data and (why := _number_problem(field.annotation, data[name], name)) is not None:
                key, _, problem = why.partition(": ")
                raise KeyedValueError(key, problem)
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
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)
