"""Headless OpenGL through EGL for pyrender: NVIDIA's EGL where present, else Mesa surfaceless.

Must run before anything imports pyrender or OpenGL (PyOpenGL picks its platform at import).
"""
from __future__ import annotations

import ctypes.util
import glob
import os

from core.errors import FacesynthError

INSTALL_HINT = ("install the system GL packages: sudo apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri "
                "(or run `make setup` as root)")


def _has_nvidia_egl() -> bool:
    vendors = glob.glob("/usr/share/glvnd/egl_vendor.d/*nvidia*.json") + glob.glob("/etc/glvnd/egl_vendor.d/*nvidia*.json")
    return bool(vendors) and os.path.exists("/dev/nvidiactl")


def configure() -> str:
    """Set the EGL environment; returns "nvidia" or "mesa-surfaceless"."""
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    if _has_nvidia_egl():
        return "nvidia"
    # Without a GPU, Mesa's surfaceless platform gives a context with no display at all.
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    return "mesa-surfaceless"


def check_libraries() -> None:
    if ctypes.util.find_library("EGL") is None:
        raise FacesynthError(f"libEGL not found; {INSTALL_HINT}")
