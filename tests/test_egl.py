"""render/egl.py: the platform choice and the PyOpenGL version guard, before any context exists."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import FacesynthError
from render import egl

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("python, pyopengl", [((3, 11), "3.1.0"), ((3, 10), "3.1.0"), ((3, 12), "3.1.9"),
                                              ((3, 13), "3.1.10"), ((3, 12), "3.2.0a1"), ((3, 12), None)])
def test_working_pyopengl_passes(python, pyopengl):
    egl.check_pyopengl(python, pyopengl)


@pytest.mark.parametrize("python, pyopengl", [((3, 12), "3.1.0"), ((3, 13), "3.1.7"), ((3, 12), "3.0.2")])
def test_pyopengl_before_the_312_fix_is_named_with_its_fix(python, pyopengl):
    with pytest.raises(FacesynthError) as e:
        egl.check_pyopengl(python, pyopengl)
    msg = str(e.value)
    assert f"PyOpenGL {pyopengl}" in msg and f"Python {python[0]}.{python[1]}" in msg
    assert "pip install --no-deps PyOpenGL==3.1.9" in msg and "\n" not in msg


def test_this_environment_passes_the_guard():
    """`make setup` installs a PyOpenGL that renders on this Python (the guard would name it)."""
    egl.check_libraries()


def _configure_in_child(env: dict[str, str]) -> str:
    code = "import os; from render import egl; p = egl.configure(); print(p, os.environ.get('PYGLET_HEADLESS'))"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYGLET_HEADLESS", "__EGL_VENDOR_LIBRARY_FILENAMES")}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_configure_makes_pyglet_headless_unless_the_user_chose():
    """pyrender imports pyglet's window module; without headless it loads X11 libraries, which GPU
    nodes often lack (seen on an H200 node: pyglet's xrender failed to load)."""
    platform, headless = _configure_in_child({}).split()
    assert headless == "true"
    assert _configure_in_child({"PYGLET_HEADLESS": "false"}).split()[1] == "false"
    # No NVIDIA device node here: a named NVIDIA vendor file alone must not pick NVIDIA's EGL.
    if not os.path.exists("/dev/nvidiactl"):
        assert platform == "mesa-surfaceless"
        assert _configure_in_child({"__EGL_VENDOR_LIBRARY_FILENAMES": __file__ + "_nvidia.json"}).split()[0] \
            == "mesa-surfaceless"


def test_one_process_renders_and_then_trains(face_model):
    """Render, then make a torch optimizer, in one process, and exit cleanly. With a CUDA build of
    torch on Mesa this segfaulted (triton loaded after llvmpipe) until render/egl.py loaded triton
    first; renderers left open at exit printed PyOpenGL import errors until they were closed at exit."""
    code = ("from gen.config import GenConfig; from gen.facemodel import load_model; "
            "from render.config import RenderConfig; from render.pipeline import ImageMaker; "
            "m = ImageMaker(load_model(), GenConfig(), RenderConfig(), seed=0); "
            "assert len(m.render(m.identity(0), 0).image) > 0; import torch; "
            "torch.optim.SGD([torch.nn.Parameter(torch.zeros(3))], lr=0.1); print('trained')")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "trained"
    assert "Unable to import" not in out.stderr and "Traceback" not in out.stderr
