"""Job config, unit layout, config hash, and bad input refused before any work starts
(no Ray is started by these tests)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster.cli import main
from cluster.config import (config_hash, load_job_config, n_units, parse_job_config, shard_name,
                            unit_identities, unit_range)
from cluster.job import prepare_out
from cluster.storage import MANIFEST, resolve

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


def _cli(capsys, *argv) -> tuple[int, str]:
    rc = main(list(argv))
    err = capsys.readouterr().err.strip()
    return rc, err


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def test_example_configs_load_and_smoke_is_small():
    smoke = load_job_config(SMOKE)
    assert smoke.identities <= 8 and smoke.images_per_identity <= 4
    for p in sorted((REPO / "configs").glob("*.yaml")):
        if p.name in ("smoke.yaml", "demo.yaml", "default.yaml"):
            load_job_config(p)


def test_units_tile_the_identity_range_once():
    cfg = parse_job_config({"identities": 23, "identity_start": 100, "images_per_identity": 3,
                            "ray": {"unit_identities": 5}})
    assert unit_identities(cfg) == 5 and n_units(cfg) == 5
    covered = [i for u in range(n_units(cfg)) for i in range(*unit_range(cfg, u))]
    assert covered == list(range(100, 123))
    assert shard_name(cfg, 3) == "part-u00003.parquet"


def test_auto_unit_size_aims_at_the_shard_target():
    cfg = parse_job_config({"identities": 10_000, "images_per_identity": 50,
                            "output": {"shard_target_mb": 256}})
    k = unit_identities(cfg)
    # ~6 KB per JPEG row -> 256 MB is a few hundred identities of 50 images
    assert 300 <= k <= 1500
    png = parse_job_config({"identities": 10_000, "images_per_identity": 50,
                            "render": {"output": {"format": "png"}}})
    assert unit_identities(png) < k
    small = parse_job_config({"identities": 64, "images_per_identity": 16})
    assert n_units(small) == 16  # a small job is still split so several actors share it


def test_config_hash_covers_data_not_placement():
    base = {"identities": 8, "images_per_identity": 4}
    h = config_hash(parse_job_config(base))
    assert h == config_hash(parse_job_config(dict(base)))
    assert h != config_hash(parse_job_config(base | {"seed": 1}))
    assert h != config_hash(parse_job_config(base | {"render": {"output": {"format": "png"}}}))
    assert h != config_hash(parse_job_config(base | {"ray": {"unit_identities": 3}}))
    # resources only move actors around: a run may resume on another cluster
    assert h == config_hash(parse_job_config(base | {"ray": {"num_gpus_per_actor": 0.5, "max_restarts": 9}}))


def test_malformed_yaml_refused_before_anything(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("identities: [8\nimages_per_identity: 4\n")
    out = tmp_path / "out"
    rc, err = _cli(capsys, "generate", "--config", str(bad), "--out", str(out))
    assert rc == 2 and len(err.splitlines()) == 1
    assert "malformed YAML" in err and "bad.yaml" in err
    assert not out.exists()


def test_unknown_key_and_bad_value_refused(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("identities: 8\nimages_per_identity: 4\nray:\n  num_gpu_per_actor: 1\n")
    rc, err = _cli(capsys, "generate", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert rc == 2 and "ray.num_gpu_per_actor" in err and "unknown key" in err
    cfg.write_text("identities: 0\nimages_per_identity: 4\n")
    rc, err = _cli(capsys, "generate", "--config", str(cfg), "--out", str(tmp_path / "o"))
    assert rc == 2 and "identities" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_foreign_nonempty_out_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"not ours")
    rc, err = _cli(capsys, "generate", "--config", str(SMOKE), "--out", str(out))
    assert rc == 2 and len(err.splitlines()) == 1
    assert "not empty and not a facesynth dataset" in err and "holiday.jpg" in err
    assert sorted(p.name for p in out.iterdir()) == ["holiday.jpg"]


def test_unwritable_out_refused(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    rc, err = _cli(capsys, "generate", "--config", str(SMOKE), "--out", str(blocker / "out"))
    assert rc == 2 and "not writable" in err and len(err.splitlines()) == 1
    rc, err = _cli(capsys, "generate", "--config", str(SMOKE), "--out", str(blocker))
    assert rc == 2 and "is a file" in err


def test_unreachable_address_fails_fast(tmp_path, capsys):
    port = _closed_port()
    for addr in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
        t0 = time.monotonic()
        rc, err = _cli(capsys, "generate", "--config", str(SMOKE), "--out", str(tmp_path / "o"), "--address", addr)
        assert rc == 2 and "cannot reach" in err and len(err.splitlines()) == 1, err
        assert time.monotonic() - t0 < 30  # a guard against hanging, not a speed test
    rc, err = _cli(capsys, "generate", "--config", str(SMOKE), "--out", str(tmp_path / "o"),
                   "--address", "http://127.0.0.1:8265")
    assert rc == 2 and "facesynth submit" in err
    assert not (tmp_path / "o").exists()


def test_other_config_against_existing_dataset_refused(tmp_path, capsys):
    out = tmp_path / "ds"
    a = load_job_config(SMOKE)
    prepare_out(resolve(str(out)), a)  # what a first run leaves before rendering
    m = json.loads((out / MANIFEST).read_text())
    assert m["config_hash"] == config_hash(a) and m["committed"] == {}
    other = tmp_path / "other.yaml"
    other.write_text(SMOKE.read_text().replace("seed: 7", "seed: 8"))
    rc, err = _cli(capsys, "generate", "--config", str(other), "--out", str(out))
    assert rc == 2 and "another config" in err and len(err.splitlines()) == 1
    assert json.loads((out / MANIFEST).read_text()) == m


def test_damaged_manifest_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "ds"
    out.mkdir()
    (out / MANIFEST).write_text("{ truncated")
    rc, err = _cli(capsys, "generate", "--config", str(SMOKE), "--out", str(out))
    assert rc == 2 and "unreadable manifest" in err
    assert (out / MANIFEST).read_text() == "{ truncated"


def test_cli_subprocess_exit_code_and_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "generate", "--config", str(tmp_path / "missing.yaml"),
                        "--out", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [r.stderr.strip()] and "config file not found" in r.stderr


def test_submit_refuses_bad_job_file_and_address(tmp_path, capsys):
    job = tmp_path / "job.yaml"
    job.write_text("entrypoint: echo hi\nruntime_env: {working_dir: ./nope}\n")
    rc, err = _cli(capsys, "submit", str(job), "--address", "http://127.0.0.1:1")
    assert rc == 2 and "working_dir" in err
    job.write_text("entrypoint: echo hi\nresources: 3\n")
    rc, err = _cli(capsys, "submit", str(job), "--address", "http://127.0.0.1:1")
    assert rc == 2 and "resources: unknown key" in err
    job.write_text("entrypoint: echo hi\n")
    rc, err = _cli(capsys, "submit", str(job), "--address", f"http://127.0.0.1:{_closed_port()}")
    assert rc == 2 and "cannot reach the Ray Jobs API" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("root_file", ["ray_job.yaml"])
def test_ray_job_file_is_valid(root_file):
    from cluster.submit import load_job_spec
    spec = load_job_spec(REPO / root_file)
    assert "generate" in spec.entrypoint and "--address auto" in spec.entrypoint
    assert Path(spec.runtime_env["working_dir"]) == REPO


def test_default_yaml_states_the_real_defaults():
    """configs/default.yaml documents the defaults: it must not drift from the code."""
    from cluster.config import ActorConfig, ShardOutputConfig
    from gen.config import GenConfig
    from render.config import RenderConfig
    d = load_job_config(REPO / "configs" / "default.yaml")
    assert d.gen == GenConfig() and d.render == RenderConfig() and d.output == ShardOutputConfig()
    assert d.ray == ActorConfig(num_gpus_per_actor=0.25)  # the one cluster-specific choice
    assert (d.identities, d.images_per_identity) == (10_000, 50)
