"""The one exception type the CLI turns into a one-line message and a non-zero exit."""
from __future__ import annotations


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
