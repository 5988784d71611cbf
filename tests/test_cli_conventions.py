"""CLI conventions: `facesynth --version`, and KEY=VALUE overrides after the options of every
command that takes --config, validated exactly like the file and part of the config hash."""
from __future__ import annotations

import subprocess
import sys
try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli there
    import tomli as tomllib
from pathlib import Path

import pytest
import yaml

from cluster.config import JobConfig, config_hash, load_job_config
from core.errors import FacesynthError
from core.overrides import apply_overrides, load_with_overrides, parse_override

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "cluster.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_version_is_the_projects():
    want = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    r = cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"facesynth {want}"


@pytest.mark.parametrize("item,path,value", [
    ("identities=100", ["identities"], 100),
    ("render.pose.yaw.std=20.5", ["render", "pose", "yaw", "std"], 20.5),
    ("ray.enabled=true", ["ray", "enabled"], True),
    ("name='007'", ["name"], "007"),
    ("name=007", ["name"], 7),
    ("render.pose.poses=[[0, 0, 0], [70, 0, 0]]", ["render", "pose", "poses"], [[0, 0, 0], [70, 0, 0]]),
    ("note=a=b", ["note"], "a=b"),
    ("x=", ["x"], None),
])
def test_values_are_parsed_as_yaml(item, path, value):
    assert parse_override(item) == (path, value)


def test_overrides_nest_create_sections_and_later_ones_win():
    base = {"render": {"pose": {"yaw": {"std": 30, "max": 90}}}, "seed": 1}
    got = apply_overrides(base, ["render.pose.yaw.std=20", "gen.model=ict-facekit", "seed=2", "seed=3"])
    assert got == {"render": {"pose": {"yaw": {"std": 20, "max": 90}}}, "seed": 3, "gen": {"model": "ict-facekit"}}
    assert base["render"]["pose"]["yaw"]["std"] == 30  # the file's data is not modified


def test_an_override_equals_the_same_value_written_in_the_file(tmp_path):
    data = yaml.safe_load(SMOKE.read_text())
    data["identities"] = 100
    data.setdefault("render", {}).setdefault("pose", {})["yaw"] = {"std": 20}
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump(data))
    cfg = load_with_overrides(JobConfig, SMOKE, ["identities=100", "render.pose.yaw.std=20"])
    assert cfg == load_job_config(edited)
    assert config_hash(cfg) == config_hash(load_job_config(edited))
    assert config_hash(cfg) != config_hash(load_job_config(SMOKE))  # the hash sees the override


def test_override_errors_name_the_key_like_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMOKE.read_text() + "render: {pose: {yaw: {std: -3}}}\n")
    with pytest.raises(FacesynthError) as from_file:
        load_job_config(bad)
    with pytest.raises(FacesynthError) as from_override:
        load_with_overrides(JobConfig, SMOKE, ["render.pose.yaw.std=-3"])
    assert str(from_override.value).startswith(f"{SMOKE} with overrides render.pose.yaw.std=-3: ")
    assert str(from_override.value).split(": ", 1)[1] == str(from_file.value).split(": ", 1)[1]


@pytest.mark.parametrize("args,expect", [
    (["generate", "--config", SMOKE, "--out", "{out}", "render.pose.yaw.sdt=20"], "render.pose.yaw.sdt: unknown key"),
    (["generate", "--config", SMOKE, "--out", "{out}", "identities=lots"], "identities:"),
    (["generate", "--config", SMOKE, "--out", "{out}", "identities"], "expected KEY=VALUE"),
    (["generate", "--config", SMOKE, "--out", "{out}", "seed.x=1"], "seed is a value, not a section"),
    (["generate", "--config", SMOKE, "--out", "{out}", "ray.num_cpus_per_actor=[1"], "not valid YAML"),
    (["train", "--config", REPO / "configs" / "smoke-train.yaml", "--out", "{out}", "epochs=-1"], "epochs:"),
    (["benchmark", "--out", "{out}", "seeds=none"], "seeds:"),
    (["preview", "poses", "--out", "{out}/p.png", "pose.yaw.std=-5"], "pose.yaw.std:"),
    (["models", "export-identity", "--index", "0", "--out", "{out}", "appearance.nope=1"], "appearance.nope: unknown key"),
])
def test_invalid_override_is_refused_with_one_line_and_exit_2(tmp_path, args, expect):
    out = tmp_path / "out"
    r = cli(*[str(a).replace("{out}", str(out)) for a in args])
    assert r.returncode == 2, (r.stdout[-1000:], r.stderr[-1000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("facesynth: error: ") and expect in lines[0], r.stderr
    assert not out.exists()  # refused before any work
