"""The one exception type the CLI turns into a one-line message and a non-zero exit, and the
helpers that keep other errors to one line."""
from __future__ import annotations

import os


class FacesynthError(Exception):
    """A user-facing error. The message names what is wrong and how to fix it, on one line."""


def validation_message(err, source: str = "config") -> str:
    """One line for a pydantic ValidationError: `source: key.path: problem (got X)`."""
    parts = []
    for e in err.errors():
        key = ".".join(str(p) for p in e.get("loc", ())) or "<root>"
        msg = e.get("msg", "invalid value")
        if e.get("type") == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling"
        got = e.get("input")
        got_s = "" if e.get("type") == "extra_forbidden" or isinstance(got, dict) else f" (got {got!r})"
        parts.append(f"{key}: {msg}{got_s}")
    return f"{source}: " + "; ".join(parts)


def first_line(e: BaseException) -> str:
    """The first non-empty line of an exception's message (its type name if it has none)."""
    for ln in str(e).splitlines():
        if ln.strip():
            return ln.strip()
    return type(e).__name__


def debug_enabled() -> bool:
    """`FACESYNTH_DEBUG=1` keeps full tracebacks instead of one-line errors."""
    return os.environ.get("FACESYNTH_DEBUG", "") not in ("", "0")
