"""Render config: defaults written out, and bad configs fail with one line naming the key,
before anything is rendered (the CLI exits 2 and writes nothing)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import FacesynthError
from core.config import parse_model
from render.config import RenderConfig, load_render_config

REPO = Path(__file__).resolve().parents[1]


def test_default_yaml_is_the_default_config():
    assert load_render_config(REPO / "configs" / "render-default.yaml") == RenderConfig()


@pytest.mark.parametrize("data, key", [
    ({"pose": {"yaw": {"kind": "normal", "mean": 0, "std": -5, "min": -90, "max": 90}}}, "pose.yaw.std"),
    ({"pose": {"pitch": {"kind": "uniform", "min": 20, "max": -20}}}, "pose.pitch"),
    ({"lighting": {"intensity": {"kind": "uniform", "min": 2, "max": 1}}}, "lighting.intensity"),
    ({"camera": {"distanse": 80}}, "camera.distanse"),
    ({"degradations": {"blur": {"prob": 0.2, "sigma": {"min": 0.3, "max": 1}, "radius": 3}}}, "degradations.blur.radius"),
    ({"background": {"folder": "/nonexistent/backgrounds", "kinds": {"images": 1}}}, "background.folder"),
    ({"output": {"mesh": {"back": 0.99}}}, "output.mesh.back"),
    ({"output": {"mesh": {"face": -0.1}}}, "output.mesh.face"),
    ({"output": {"mesh": {"ears": 0.5}}}, "output.mesh.ears"),
])
def test_bad_config_is_one_line_naming_the_key(data, key):
    with pytest.raises(FacesynthError) as e:
        parse_model(RenderConfig, data, "render.yaml")
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("render.yaml:") and key in msg, msg


def test_images_background_needs_a_folder():
    with pytest.raises(FacesynthError, match="background: .*kinds"):
        parse_model(RenderConfig, {"background": {"kinds": {"images": 1.0}}}, "cfg")


def test_cli_rejects_bad_config_before_rendering(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pose:\n  yaw: {kind: normal, mean: 0, std: -1, min: -90, max: 90}\n")
    out = tmp_path / "sheet.png"
    p = subprocess.run([sys.executable, "-m", "cluster.cli", "preview", "renders", "--config", str(bad),
                        "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and "pose.yaw.std" in lines[0] and lines[0].startswith("facesynth: error:"), p.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]
