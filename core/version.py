"""facesynth's version: the installed distribution's, else pyproject.toml's in a checkout
that pip never saw (a Ray job's working_dir)."""
from __future__ import annotations

from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def version() -> str:
    try:
        import tomllib
        return str(tomllib.loads(PYPROJECT.read_text())["project"]["version"])
    except (ImportError, OSError, KeyError, ValueError):
        pass
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version
        return dist_version("facesynth")
    except (ImportError, PackageNotFoundError):
        return "unknown"
