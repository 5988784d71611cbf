"""facesynth's version: pyproject.toml's where the checkout holds it (also one that pip never
saw, such as a Ray job's working_dir), else the installed distribution's."""
from __future__ import annotations

import re
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def version() -> str:
    try:
        text = PYPROJECT.read_text()
    except OSError:
        text = ""
    try:
        import tomllib
        return str(tomllib.loads(text)["project"]["version"])
    except ImportError:  # Python 3.10: the [project] table's version line
        m = re.search(r'^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', text, re.M | re.S)
        if m:
            return m.group(1)
    except (KeyError, ValueError):
        pass
    try:
        from importlib.metadata import PackageNotFoundError, version as dist_version
        return dist_version("facesynth")
    except (ImportError, PackageNotFoundError):
        return "unknown"
