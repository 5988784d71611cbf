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
    (out / TMP_DIR).mkdir()
    (out / TMP_DIR / "my-scratch.bin").write_bytes(b"mine")
    dead = m["runs"][-1]["id"]
    (out / TMP_DIR / f"part-u00002.parquet.{dead}.00000000aaaa.partial").write_bytes(b"half")
    s = generate(cfg, str(out), progress=False)
    assert s["temp_cleared"] == 1 and s["units_written"] == 0
    assert (out / "NOTES.md").read_text() == "my notes about this dataset"
    assert (out / TMP_DIR / "my-scratch.bin").read_bytes() == b"mine"


# ---------------------------------------------------------------- property-based fuzzing
# Each mutation is invalid by construction, so every command must answer exit 2 with one line,
# write nothing outside the folder and delete nothing of the user's. derandomize: the same
# examples in every run (no flaky CI); max_examples keeps the module well under 90 s.

import os  # noqa: E402
import tempfile  # noqa: E402

import yaml  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
TALLY: dict[str, list[int]] = {}  # class -> [command runs tried, refused with one line]


@pytest.fixture(scope="module", autouse=True)
def _print_tally():
    yield
    if TALLY:  # shown with `pytest -s`: the figures quoted in the hardening note
        print("\nfuzz tally (runs tried, refused with one line):", json.dumps(TALLY))


def _tally(kind: str, ok: bool) -> None:
    t = TALLY.setdefault(kind, [0, 0])
    t[0] += 1
    t[1] += int(ok)


def _snapshot(*folders: Path) -> dict:
    return {str(f): sorted(os.listdir(f)) for f in folders}


def _workspace(clean_out: Path, root: Path) -> tuple[Path, Path]:
    """A fresh copy of the clean dataset with a user's file in its root and in _tmp/."""
    ws = Path(tempfile.mkdtemp(dir=root))
    out = ws / "ds"
    shutil.copytree(clean_out, out)
    (out / "USER-NOTES.txt").write_text("mine")
    (out / TMP_DIR).mkdir()
    (out / TMP_DIR / "user-scratch.bin").write_bytes(b"mine too")
    return ws, out


def _run_refused(capsys, argv, ws: Path, out: Path | None, kind: str) -> str:
    before = _snapshot(ws, Path.cwd())
    rc = main([str(a) for a in argv])
    captured = capsys.readouterr()
    err = captured.err.strip()
    ok = rc == 2 and len(err.splitlines()) == 1 and err.startswith("facesynth: error: ") and "Traceback" not in err
    _tally(kind, ok)
    assert ok, (argv[0], rc, err[-500:])
    assert _snapshot(ws, Path.cwd()) == before  # nothing written beside the folder, or in the cwd
    if out is not None:
        assert (out / "USER-NOTES.txt").read_text() == "mine"
        assert (out / TMP_DIR / "user-scratch.bin").read_bytes() == b"mine too"
    return err


HOSTILE_VALUES = st.sampled_from([True, False, None, -1, 2**70, 1.5, "../x", "/etc/passwd", "", "\x00", [], {},
                                  "part-u00000.parquet/../../x", [0], {"file": "x"}])
STRUCTURAL = ["format", "schema_version", "config_hash", "image_format", "complete", "layout.identity_start",
              "layout.identities", "layout.images_per_identity", "layout.unit_identities", "layout.units",
              "committed.{u}.file", "committed.{u}.rows", "committed.{u}.bytes", "committed.{u}.identities",
              "committed.{u}.sha256", "committed", "layout"]


def _set(m: dict, path: str, value, delete: bool) -> None:
    keys = path.split(".")
    d = m
    for k in keys[:-1]:
        d = d[k]
    if delete:
        del d[keys[-1]]
    else:
        d[keys[-1]] = value


def _still_valid(m: dict) -> bool:
    from cluster.manifest import validate
    try:
        validate(m, "probe")
        return True
    except FacesynthError:
        return False


@FUZZ
@given(path=st.sampled_from(STRUCTURAL), unit=st.integers(0, 3), value=HOSTILE_VALUES, delete=st.booleans(),
       cut=st.one_of(st.none(), st.floats(0.0, 0.99)))
def test_fuzz_manifest(clean, tmp_path, capsys, path, unit, value, delete, cut):
    cfg, clean_out = clean
    ws, out = _workspace(clean_out, tmp_path)
    m = json.loads((out / MANIFEST).read_text())
    _set(m, path.format(u=unit), value, delete)
    text = json.dumps(m)
    if cut is not None:
        text = text[: int(len(text) * cut)]  # a torn write: never valid JSON
    elif _still_valid(m):
        return  # e.g. the same value written back: not a mutation
    (out / MANIFEST).write_text(text)
    for argv in (["verify", out], ["inspect", out], ["generate", "--config", SMOKE, "--out", out, "--workers", "1"]):
        _run_refused(capsys, argv, ws, out, "manifest")
    shutil.rmtree(ws)


@FUZZ
@given(unit=st.integers(0, 3), how=st.sampled_from(["flip", "truncate", "append", "replace", "delete"]),
       where=st.floats(0.0, 1.0), n=st.integers(1, 64), byte=st.integers(1, 255))
def test_fuzz_shards(clean, tmp_path, capsys, unit, how, where, n, byte):
    cfg, clean_out = clean
    ws, out = _workspace(clean_out, tmp_path)
    f = out / shard_name(cfg, unit)
    data = bytearray(f.read_bytes())
    i = min(int(where * len(data)), len(data) - 1)
    if how == "flip":  # same size, other bytes
        for k in range(i, min(i + n, len(data))):
            data[k] ^= byte
        f.write_bytes(bytes(data))
    elif how == "truncate":
        f.write_bytes(bytes(data[:i]))
    elif how == "append":
        f.write_bytes(bytes(data) + bytes([byte]) * n)
    elif how == "replace":
        f.write_bytes(bytes([byte]) * len(data))
    else:
        f.unlink()
    for argv in (["verify", out], ["inspect", out]):
        _run_refused(capsys, argv, ws, out, "shard")
    with pytest.raises(FacesynthError):
        open_dataset(str(out), verify=True)
    shutil.rmtree(ws)


def _numeric_leaves(d, prefix=""):
    for k, v in d.items():
        p = f"{prefix}{k}"
        if isinstance(v, dict):
            yield from _numeric_leaves(v, p + ".")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield p, v


NUMERIC_KEYS = sorted(p for p, _ in _numeric_leaves(load_job_config(SMOKE).model_dump(mode="json"))
                      if not p.startswith("render.background.kinds"))  # a free dict: covered below


@FUZZ
@given(key=st.sampled_from(NUMERIC_KEYS),
       value=st.sampled_from([True, False, "7", float("nan"), float("inf"), float("-inf"), [1], {"a": 1}, "1e3"]),
       extra=st.sampled_from(["", "dup", "bomb", "binary"]))
def test_fuzz_config(clean, tmp_path, capsys, key, value, extra):
    ws = Path(tempfile.mkdtemp(dir=tmp_path))
    data = yaml.safe_load(SMOKE.read_text())
    d = data
    parts = key.split(".")
    for k in parts[:-1]:
        d = d.setdefault(k, {})
    d[parts[-1]] = value
    text = yaml.safe_dump(data).encode()
    if extra == "dup":
        text += b"seed: 1\nseed: 2\n"
    elif extra == "bomb":  # 20 levels of 10 aliases each: 10**20 values once expanded
        text += b"z0: &a0 [1,1,1,1,1,1,1,1,1,1]\n" + b"".join(
            b"z%d: &a%d [%s]\n" % (i, i, b",".join([b"*a%d" % (i - 1)] * 10)) for i in range(1, 21))
    elif extra == "binary":
        text = b"\xfe\xff" + text
    cfg = ws / "c.yaml"
    cfg.write_bytes(text)
    # --workers 0 is refused right after the config is accepted: a mutation that slipped through
    # would show as that message, never as a run
    err = _run_refused(capsys, ["generate", "--config", cfg, "--out", ws / "out", "--workers", "0"], ws, None, "config")
    assert "--workers 0" not in err and str(cfg) in err
    shutil.rmtree(ws)


