"""Headless OpenGL through EGL for pyrender: NVIDIA's EGL where present, else Mesa surfaceless.

Must run before anything imports pyrender or OpenGL (PyOpenGL picks its platform at import).
"""
from __future__ import annotations

import ctypes.util
import glob
import importlib.metadata
import importlib.util
import os
import re
import sys

from core.errors import FacesynthError

INSTALL_HINT = ("install the system GL packages: sudo apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri "
                "(or run `make setup` as root)")


def _has_nvidia_egl() -> bool:
    vendors = glob.glob("/usr/share/glvnd/egl_vendor.d/*nvidia*.json") + glob.glob("/etc/glvnd/egl_vendor.d/*nvidia*.json")
    # Containers that mount the driver elsewhere name its vendor file through glvnd's own variable.
    vendors += [f for f in os.environ.get("__EGL_VENDOR_LIBRARY_FILENAMES", "").split(":")
                if "nvidia" in f and os.path.exists(f)]
    return bool(vendors) and os.path.exists("/dev/nvidiactl")


def configure() -> str:
    """Set the EGL environment; returns "nvidia" or "mesa-surfaceless"."""
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    # pyrender imports pyglet's window module for its viewer; headless, pyglet loads EGL there
    # instead of X11 libraries that GPU nodes and slim images often lack.
    os.environ.setdefault("PYGLET_HEADLESS", "true")
    if _has_nvidia_egl():
        return "nvidia"
    # Without a GPU, Mesa's surfaceless platform gives a context with no display at all.
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    _load_triton_before_llvmpipe()
    return "mesa-surfaceless"


def _load_triton_before_llvmpipe() -> None:
    """llvmpipe loads Mesa's LLVM; triton (which CUDA builds of torch bring) links its own, and
    loaded after llvmpipe in one process it segfaults: torch imports it when an optimizer is made,
    so rendering and then training in one process crashed (torch 2.13.0+cu130, Python 3.12, no
    GPU). Loaded first, both work. 0.1 s, and only where triton is installed."""
    if "triton" in sys.modules or importlib.util.find_spec("triton") is None:
        return
    try:
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken triton is torch's problem, not the renderer's
        pass


def check_libraries() -> None:
    if ctypes.util.find_library("EGL") is None:
        raise FacesynthError(f"libEGL not found; {INSTALL_HINT}")
    check_pyopengl(sys.version_info[:2], _installed("PyOpenGL"))


def check_pyopengl(python: tuple[int, int], pyopengl: str | None) -> None:
    """PyOpenGL before 3.1.8 (pyrender pins 3.1.0) registers ctypes' by-reference argument type
    under its pre-3.12 name, so on Python 3.12+ it fails at the first texture upload, deep inside a
    render (pyopengl pull request 100)."""
    if pyopengl is None or python < (3, 12):
        return
    parts = [int(p) for p in re.findall(r"\d+", pyopengl)[:3]]
    if parts < [3, 1, 8]:
        raise FacesynthError(f"PyOpenGL {pyopengl} does not work on Python {python[0]}.{python[1]}; "
                             "pip install --no-deps PyOpenGL==3.1.9 (over pyrender's pin; `make setup` does)")


def _installed(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
