"""The one exception type the CLI turns into a one-line message and a non-zero exit, and the
helpers that keep other errors to one line."""
from __future__ import annotations

import os
import re


class FacesynthError(Exception):
    """A user-facing error. The message names what is wrong and how to fix it, on one line."""


class KeyedValueError(ValueError):
    """A validator's error about a key below the model it validates (`key` is relative to it),
    so the one-line message names the whole path."""

    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


def validation_message(err, source: str = "config") -> str:
    """One line for a pydantic ValidationError: `source: key.path: problem (got X)`."""
    parts = []
    for e in err.errors():
        key = ".".join(str(p) for p in e.get("loc", ()))
        msg = e.get("msg", "invalid value")
        if e.get("type") == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling"
        cause = e.get("ctx", {}).get("error") if e.get("type") == "value_error" else None
        if isinstance(cause, KeyedValueError):
            key, msg = ".".join(x for x in (key, cause.key) if x), cause.problem
        elif cause is not None:
            msg = str(cause)
        got = e.get("input")
        got_s = "" if e.get("type") in ("extra_forbidden", "value_error") or isinstance(got, (dict, list)) \
            else f" (got {repr(got)[:80]})"  # a value can be huge (a long string): keep the line short
        parts.append(f"{key}: {msg}{got_s}" if key else f"{msg}{got_s}")
    return f"{source}: " + "; ".join(parts)


_FRAME = re.compile(r'^\s*File ".*", line \d+', re.MULTILINE)


def first_line(e: BaseException, limit: int = 400) -> str:
    """The first non-empty line of an exception's message (its type name if it has none), at
    most `limit` characters. An error that wraps another one's traceback (Ray's RayTaskError
    keeps the original in `.cause`) speaks through the original, with its type name; one whose
    message embeds a traceback (an actor that died in __init__) through its last line."""
    cause = getattr(e, "cause", None)
    if isinstance(cause, BaseException) and cause is not e:
        line = first_line(cause, limit)
        return line if isinstance(cause, FacesynthError) else f"{type(cause).__name__}: {line}"[:limit]
    text = str(e)
    if _FRAME.search(text):  # a remote error carrying its traceback (Ray's format drops its header)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return lines[-1][:limit]  # the exception line: what went wrong, not where
    for ln in text.splitlines():
        if ln.strip():
            return ln.strip()[:limit]
    return type(e).__name__


def debug_enabled() -> bool:
    """`FACESYNTH_DEBUG=1` keeps full tracebacks instead of one-line errors."""
    return os.environ.get("FACESYNTH_DEBUG", "") not in ("", "0")
