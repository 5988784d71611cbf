"""Where facesynth keeps its cache (models, downloads)."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def facesynth_home() -> Path:
    """`$FACESYNTH_HOME`, defaulting to `~/.cache/facesynth`."""
    env = os.environ.get("FACESYNTH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "facesynth"


def models_dir() -> Path:
    return facesynth_home() / "models"


def dev_shared_dir() -> Path:
    """`../shared` beside a development checkout (also present in CI)."""
    return REPO_ROOT.parent / "shared"
