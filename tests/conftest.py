"""Shared fixtures. The face model is imported once into a cache under .pytest_cache/
(git-ignored), so later runs reuse it; FACESYNTH_HOME is exported so subprocesses and Ray
workers started by tests see the same cache."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TEST_HOME = Path(os.environ.get("FACESYNTH_TEST_HOME", REPO / ".pytest_cache" / "facesynth-home"))
os.environ["FACESYNTH_HOME"] = str(TEST_HOME)
# Mesa's surfaceless EGL on machines without a GPU; harmless where NVIDIA's EGL is present.
os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


@pytest.fixture(scope="session")
def face_model():
    from gen.facemodel import load_model
    return load_model("ict-facekit")


@pytest.fixture(scope="module")
def ray_local(face_model):
    """An embedded Ray for the module's jobs (generate() then joins it instead of starting its own)."""
    import ray
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def ict_source() -> Path:
    """The upstream archive beside the checkout (../shared), as in development and CI."""
    from gen.registry import find_ict_source
    src = find_ict_source()
    if src is None:
        pytest.fail("ICT Face Model source not found: put it at ../shared/models/ict-facekit/ or set FACESYNTH_ICT_SOURCE")
    return src
