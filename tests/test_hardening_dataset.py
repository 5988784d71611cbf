"""Integrity end to end on a real smoke dataset (8 identities x 4 images, 4 shards): a shard
damaged without changing its size is found by verify, inspect, readers and training, and a
rerun redoes exactly that unit, byte for byte; hostile manifests are refused with one line;
two drivers on one --out leave the dataset exactly once."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cluster_util import assert_exactly_once, kill_tree

from cluster.cli import main
from cluster.config import load_job_config, shard_name
from cluster.dataset import open_dataset
from cluster.job import generate
from cluster.storage import LOCK, MANIFEST, TMP_DIR
from core.errors import FacesynthError

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


@pytest.fixture(scope="module")
def ray_local(face_model):
    import ray
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def clean(ray_local, tmp_path_factory):
    cfg = load_job_config(SMOKE)
    out = tmp_path_factory.mktemp("clean") / "ds"
    s = generate(cfg, str(out), workers=2, progress=False)
    assert s["complete"] and s["retries"] == 0
    return cfg, out


def shard_digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("part-*.parquet"))}


def _cli(capsys, *argv) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    return rc, capsys.readouterr().err.strip()


def _one_line(rc: int, err: str) -> None:
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("facesynth: error: "), err
    assert "Traceback" not in err and len(err) < 700, err[:300]


def flip_inside(path: Path, at: float = 0.5, n: int = 4) -> None:
    """Invert n bytes in the middle of the file: same size, other content."""
    data = bytearray(path.read_bytes())
    i = int(len(data) * at)
    for k in range(i, i + n):
        data[k] ^= 0xFF
    path.write_bytes(bytes(data))


def test_manifest_records_checksums_and_verify_passes(clean, capsys):
    cfg, out = clean
    m = json.loads((out / MANIFEST).read_text())
    for u, rec in m["committed"].items():
        assert rec["sha256"] == hashlib.sha256((out / rec["file"]).read_bytes()).hexdigest()
    assert not (out / LOCK).exists()  # released at the end of the run
    rc = main(["verify", str(out)])
    assert rc == 0 and "verified" in capsys.readouterr().out
    assert open_dataset(str(out), verify=True).complete


def test_flipped_bytes_found_everywhere_and_redone_byte_for_byte(clean, tmp_path, capsys):
    cfg, clean_out = clean
    out = tmp_path / "ds"
    shutil.copytree(clean_out, out)
    victim = out / shard_name(cfg, 1)
    size = victim.stat().st_size
    flip_inside(victim)
    assert victim.stat().st_size == size
    # found by verify, inspect, readers and training, each with one line
    rc, err = _cli(capsys, "verify", out)
    _one_line(rc, err)
    assert shard_name(cfg, 1) in err and "checksum mismatch" in err
    rc, err = _cli(capsys, "inspect", out, "--report", tmp_path / "report")
    _one_line(rc, err)
    assert not (tmp_path / "report").exists()
    with pytest.raises(FacesynthError, match="checksum mismatch"):
        open_dataset(str(out), verify=True)
    train_cfg = tmp_path / "train.yaml"
    train_cfg.write_text((REPO / "configs" / "smoke-train.yaml").read_text()
                         .replace("path: out/smoke", f"path: {out}").replace("out: out/smoke-train", f"out: {tmp_path / 'tr'}"))
    rc, err = _cli(capsys, "train", "--config", train_cfg)
    _one_line(rc, err)
    assert not (tmp_path / "tr").exists()
    # the rerun redoes that unit only, and the dataset equals the clean run's byte for byte
    s = generate(cfg, str(out), workers=2, progress=False)
    assert s["complete"] and s["redone"] == 1 and s["units_written"] == 1 and s["units_resumed"] == 3
    assert shard_digests(out) == shard_digests(clean_out)
    assert_exactly_once(out, cfg)


HOSTILE_MANIFESTS = {
    "parent-path": lambda m: m["committed"]["0"].update(file="../part-u00000.parquet"),
    "absolute-path": lambda m: m["committed"]["0"].update(file="/etc/passwd"),
    "other-units-shard": lambda m: m["committed"]["0"].update(file="part-u00001.parquet"),
    "unit-out-of-layout": lambda m: m["committed"].update({"9": dict(m["committed"]["0"])}),
    "rows-lie": lambda m: m["committed"]["0"].update(rows=1),
    "bool-as-number": lambda m: m["committed"]["0"].update(bytes=True),
    "no-checksum": lambda m: m["committed"]["0"].pop("sha256"),
    "huge-layout": lambda m: m["layout"].update(units=10**30),
    "unknown-key": lambda m: m.update(extra=1),
    "complete-lies": lambda m: m["committed"].pop("3"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_MANIFESTS))
def test_hostile_manifest_refused_by_every_command(name, clean, tmp_path, capsys):
    cfg, clean_out = clean
    out = tmp_path / "ds"
    shutil.copytree(clean_out, out)
    m = json.loads((out / MANIFEST).read_text())
    HOSTILE_MANIFESTS[name](m)
    (out / MANIFEST).write_text(json.dumps(m))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for argv in (["verify", out], ["inspect", out], ["generate", "--config", SMOKE, "--out", out]):
        rc, err = _cli(capsys, *argv)
        _one_line(rc, err)
        assert "invalid manifest" in err, err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_nan_and_duplicate_keys_in_manifest_refused(clean, tmp_path, capsys):
    cfg, clean_out = clean
    out = tmp_path / "ds"
    shutil.copytree(clean_out, out)
    text = (out / MANIFEST).read_text()
    for bad in (text.replace('"complete": true', '"complete": NaN'),
                text.replace('"complete": true', '"complete": true, "complete": true')):
        (out / MANIFEST).write_text(bad)
        rc, err = _cli(capsys, "verify", out)
        _one_line(rc, err)
        assert "unreadable manifest" in err


def test_two_drivers_on_one_out(clean, tmp_path, capsys):
    """The second driver refuses while the first runs (one line, nothing touched); the first
    ends with every unit written once and no failure; a third run after it finds it complete."""
    cfg, clean_out = clean
    data = SMOKE.read_text().replace("unit_identities: 2", "unit_identities: 1")
    cfg_path = tmp_path / "job.yaml"
    cfg_path.write_text(data)
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "cluster.cli", "generate", "--config", str(cfg_path), "--out", str(out),
           "--workers", "1", "--no-progress", "--json"]
    first = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    refused = 0
    try:
        deadline = time.monotonic() + 240
        while not (out / LOCK).exists():
            assert first.poll() is None, first.stderr.read()[-2000:]
            assert time.monotonic() < deadline
            time.sleep(0.02)
        while first.poll() is None and refused < 3:
            rc, err = _cli(capsys, "generate", "--config", cfg_path, "--out", out, "--workers", "1", "--no-progress")
            if rc == 0:  # the first finished between our checks: nothing left to do
                break
            _one_line(rc, err)
            assert "another facesynth run is writing this dataset" in err
            refused += 1
            time.sleep(1.0)
        stdout, stderr = first.communicate(timeout=300)
    finally:
        kill_tree(first.pid)
    assert refused >= 1
    assert first.returncode == 0, stderr[-2000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["complete"] and summary["retries"] == 0 and summary["units_written"] == 8
    assert "failed" not in stderr
    assert_exactly_once(out, load_job_config(cfg_path))
    again = generate(load_job_config(cfg_path), str(out), progress=False)
    assert again["complete"] and again["units_written"] == 0


def test_partial_of_dead_run_cleared_user_files_kept(clean, tmp_path):
    cfg, clean_out = clean
    out = tmp_path / "ds"
    shutil.copytree(clean_out, out)
    m = json.loads((out / MANIFEST).read_text())
    (out / "NOTES.md").write_text("my notes about this dataset")
    (out / TMP_DIR / "my-scratch.bin").write_bytes(b"mine")
    dead = m["runs"][-1]["id"]
    (out / TMP_DIR / f"part-u00002.parquet.{dead}.00000000aaaa.partial").write_bytes(b"half")
    s = generate(cfg, str(out), progress=False)
    assert s["temp_cleared"] == 1 and s["units_written"] == 0
    assert (out / "NOTES.md").read_text() == "my notes about this dataset"
    assert (out / TMP_DIR / "my-scratch.bin").read_bytes() == b"mine"
