"""Hostile and careless input refused before any work, each with one line and exit 2: configs
(YAML limits, strict and finite numbers, index bounds), the output folder (roots, home, content
that is not the dataset's, a second writer), users' background images. No Ray starts here."""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from cluster.cli import main
from cluster.config import JobConfig, load_job_config
from cluster.job import prepare_out
from cluster.lock import DatasetLock
from cluster.storage import LOCK, MANIFEST, TMP_DIR, resolve

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


def _cli(capsys, *argv) -> tuple[int, str]:
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return rc, err


def _one_line(rc: int, err: str) -> None:
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("facesynth: error: "), err
    assert "Traceback" not in err and len(err) < 600, err[:300]


def _tree(p: Path) -> dict:
    return {str(x.relative_to(p)): (x.read_bytes() if x.is_file() else None) for x in sorted(p.rglob("*"))}


BILLION_LAUGHS = """identities: 8
images_per_identity: 4
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
"""

BAD_CONFIGS = {
    # name: (YAML text, what the one line must contain)
    "bool-as-int": ("identities: true\nimages_per_identity: 4\n", "identities: expected an integer, not a boolean"),
    "string-as-int": ("identities: '8'\nimages_per_identity: 4\n", "identities: expected an integer, not a string"),
    "float-as-int": ("identities: 8.0\nimages_per_identity: 4\n", "identities: expected an integer"),
    "nan": ("identities: 8\nimages_per_identity: 4\noutput: {shard_target_mb: .nan}\n", "output.shard_target_mb"),
    "inf-weight": ("identities: 8\nimages_per_identity: 4\nrender: {background: {kinds: {solid: .inf}}}\n",
                   "render.background.kinds.solid"),
    "bool-weight": ("identities: 8\nimages_per_identity: 4\nrender: {background: {kinds: {solid: true}}}\n",
                    "render.background.kinds.solid: expected a number, not a boolean"),
    "seed-overflow": ("identities: 8\nimages_per_identity: 4\nseed: 36893488147419103232\n", "seed"),
    "start-overflow": ("identities: 8\nimages_per_identity: 4\nidentity_start: 9223372036854775806\n", "identity_start"),
    "negative": ("identities: 8\nimages_per_identity: -4\n", "images_per_identity"),
    "ipi-too-many": ("identities: 8\nimages_per_identity: 1000000\n", "images_per_identity"),
    "restarts-huge": ("identities: 8\nimages_per_identity: 4\nray: {max_restarts: 99999999999}\n", "ray.max_restarts"),
    "duplicate-key": ("identities: 8\nimages_per_identity: 4\nidentities: 9\n", "duplicate key 'identities'"),
    "duplicate-nested": ("identities: 8\nimages_per_identity: 4\nray: {max_restarts: 1, max_restarts: 2}\n",
                         "duplicate key 'max_restarts'"),
    "alias-bomb": (BILLION_LAUGHS, "aliases"),
    "deep": ("identities: " + "[" * 5000 + "]" * 5000 + "\n", "malformed YAML"),
    "not-a-mapping": ("- 1\n- 2\n", "top level must be a mapping"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONFIGS))
def test_bad_config_is_one_line_naming_the_key(name, tmp_path, capsys):
    text, want = BAD_CONFIGS[name]
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    out = tmp_path / "out"
    rc, err = _cli(capsys, "generate", "--config", cfg, "--out", out)
    _one_line(rc, err)
    assert want in err, err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_binary_oversized_and_aliased_yaml_refused(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(b"identities: 8\nimages_per_identity: 4\nname: \xff\xfe\x00\x81\n")
    rc, err = _cli(capsys, "generate", "--config", cfg, "--out", tmp_path / "o")
    _one_line(rc, err)
    assert "not UTF-8" in err
    cfg.write_bytes(b"# " + b"x" * (2 << 20) + b"\nidentities: 8\n")
    rc, err = _cli(capsys, "generate", "--config", cfg, "--out", tmp_path / "o")
    _one_line(rc, err)
    assert "larger than" in err
    # a few anchors are fine; the 345-byte bomb above is refused before it is expanded
    assert len(BILLION_LAUGHS.encode()) < 400
    cfg.write_text("identities: 8\nimages_per_identity: 4\nx: &w {solid: 1.0}\n"
                   "render: {background: {kinds: *w}}\n")
    rc, err = _cli(capsys, "generate", "--config", cfg, "--out", tmp_path / "o")
    _one_line(rc, err)
    assert "x: unknown key" in err  # parsed fine; only the unknown key is wrong
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- the output folder

def test_roots_and_home_refused(tmp_path, capsys, monkeypatch):
    rc, err = _cli(capsys, "generate", "--config", SMOKE, "--out", "/")
    _one_line(rc, err)
    assert "filesystem root" in err
    home = tmp_path / "home" / "me"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for out in (home, home.parent, "~"):
        rc, err = _cli(capsys, "generate", "--config", SMOKE, "--out", out)
        _one_line(rc, err)
        assert "home folder" in err
    assert list(home.iterdir()) == []
    rc, err = _cli(capsys, "generate", "--config", SMOKE, "--out", "s3://some-bucket")
    _one_line(rc, err)


@pytest.mark.parametrize("content", ["stray-tmp", "our-temp-names-without-lock", "tmp-file-beside-lock", "hidden",
                                     "hostile-lock"])
def test_folder_with_foreign_content_refused_and_untouched(content, tmp_path, capsys):
    out = tmp_path / "ds"
    (out / TMP_DIR).mkdir(parents=True)
    if content == "stray-tmp":
        (out / TMP_DIR / "precious.txt").write_text("mine")
    elif content == "our-temp-names-without-lock":
        (out / TMP_DIR / "part-u00000.parquet.0123456789abcdef.0123456789ab.partial").write_text("whose?")
    elif content == "tmp-file-beside-lock":
        (out / LOCK).write_text(json.dumps({"format": "facesynth-lock", "run_id": "0123456789abcdef"}))
        (out / TMP_DIR / "part-u00000.parquet.fedcba9876543210.0123456789ab.partial").write_text("other run")
    elif content == "hostile-lock":  # a lock-looking file whose run id is not one we could have written
        (out / TMP_DIR).rmdir()
        (out / LOCK).write_text(json.dumps({"format": "facesynth-lock", "run_id": "../../etc"}))
    else:
        (out / TMP_DIR).rmdir()
        (out / ".keep").write_text("")
    before = _tree(out)
    rc, err = _cli(capsys, "generate", "--config", SMOKE, "--out", out)
    _one_line(rc, err)
    assert "not empty and not a facesynth dataset" in err
    assert _tree(out) == before


def test_dead_run_before_its_first_manifest_is_taken_over(tmp_path):
    """A run killed right after taking the lock leaves _lock.json (and maybe its temp files):
    that folder is ours, and the next run cleans exactly those files."""
    out = tmp_path / "ds"
    (out / TMP_DIR).mkdir(parents=True)
    dead = "0123456789abcdef"
    (out / LOCK).write_text(json.dumps({"format": "facesynth-lock", "run_id": dead, "pid": 999999999}))
    (out / TMP_DIR / f"_manifest.json.{dead}.0123456789ab.partial").write_text("{")
    m, notes = prepare_out(resolve(str(out)), load_job_config(SMOKE))
    assert notes["temp_cleared"] == 1 and m["committed"] == {}
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, TMP_DIR]  # the lock is released
    assert list((out / TMP_DIR).iterdir()) == []


def test_second_writer_refused_while_the_first_holds_the_lock(tmp_path, capsys):
    out = tmp_path / "ds"
    cfg = load_job_config(SMOKE)
    prepare_out(resolve(str(out)), cfg)
    before = _tree(out)
    holder = DatasetLock(resolve(str(out)), "00000000feedbeef")
    holder.acquire()
    try:
        rc, err = _cli(capsys, "generate", "--config", SMOKE, "--out", out)
        _one_line(rc, err)
        assert "another facesynth run is writing this dataset" in err and "00000000feedbeef" in err
        assert f"pid {os.getpid()}" in err
        with pytest.raises(Exception, match="another facesynth run"):
            DatasetLock(resolve(str(out)), "1111111111111111").acquire()  # same process, other run: refused too
    finally:
        holder.release()
    assert not (out / LOCK).exists()
    assert {k: v for k, v in _tree(out).items() if k != LOCK} == before
    # released: the next run takes it (a lock file left by a killed process is no obstacle either)
    (out / LOCK).write_text(json.dumps({"format": "facesynth-lock", "run_id": "2222222222222222", "pid": 1}))
    prepare_out(resolve(str(out)), cfg)


# ---------------------------------------------------------------- users' background images

def _png_header_only(w: int, h: int) -> bytes:
    """A PNG that declares w x h pixels with a tiny, bogus body: a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("case", ["bomb", "over-limit", "truncated", "not-an-image"])
def test_bad_background_image_refused_before_ray(case, tmp_path, capsys):
    import numpy as np
    from PIL import Image
    folder = tmp_path / "bg"
    folder.mkdir()
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(folder / "ok.jpg")
    if case == "bomb":
        (folder / "bomb.png").write_bytes(_png_header_only(100_000, 100_000))
    elif case == "over-limit":
        (folder / "big.png").write_bytes(_png_header_only(8000, 6000))
    elif case == "truncated":
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8)).save(folder / "t.png")
        data = (folder / "t.png").read_bytes()
        (folder / "t.png").write_bytes(data[: len(data) // 2])
    else:
        (folder / "notes.png").write_bytes(b"these are my notes, not a picture")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMOKE.read_text() + f"render:\n  background:\n    kinds: {{images: 1.0}}\n    folder: {folder}\n")
    rc, err = _cli(capsys, "generate", "--config", cfg, "--out", tmp_path / "out")
    _one_line(rc, err)
    assert "background.folder" in err
    assert not (tmp_path / "out").exists()
    import ray
    assert not ray.is_initialized()


def test_object_store_lease_refuses_then_expires(monkeypatch):
    """On a filesystem without locks (pyarrow's in-memory one stands in for s3/gs) the lock is
    a lease: a live one refuses a second run, an expired one is taken over, and a holder that
    lost its lease stops at the next renewal."""
    import pyarrow._fs as pafs_private

    from cluster import lock as lockmod
    from cluster.storage import Out
    fs = pafs_private._MockFileSystem()
    fs.create_dir("bucket/ds")
    out = Out(fs, "bucket/ds", "mock://bucket/ds")
    monkeypatch.setattr(lockmod.time, "sleep", lambda s: None)  # the read-back wait; nothing races here
    a = DatasetLock(out, "aaaaaaaaaaaaaaaa")
    a.acquire()
    with pytest.raises(Exception, match="another facesynth run.*aaaaaaaaaaaaaaaa"):
        DatasetLock(out, "bbbbbbbbbbbbbbbb").acquire()
    # the holder dies without releasing; once its lease has expired, the next run takes over
    with fs.open_output_stream(out.path(LOCK)) as f:
        rec = a.record(expires=0.0)
        f.write(json.dumps(rec).encode())
    b = DatasetLock(out, "bbbbbbbbbbbbbbbb")
    b.acquire()
    a._renewed = -1e9  # a's next renewal is due: it finds the lease is b's and stops
    with pytest.raises(Exception, match="lost the dataset lock"):
        a.renew()
    b.release()
    assert fs.get_file_info(out.path(LOCK)).type.name == "NotFound"


def _numeric_leaves(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _numeric_leaves(v, f"{prefix}{k}.")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            yield f"{prefix}{k}", v


def _with(data: dict, key: str, value) -> dict:
    import copy
    data = copy.deepcopy(data)
    d = data
    parts = key.split(".")
    for k in parts[:-1]:
        d = d.setdefault(k, {})
    d[parts[-1]] = value
    return data


def test_every_numeric_key_is_strict_and_finite():
    """Every number of the job and training configs (defaults included), one at a time: a
    boolean, a numeric string or a non-finite value is refused with one line naming that key.
    (Dicts straight to the validators: the YAML path is tested above.)"""
    import yaml

    from core.config import parse_model
    from core.errors import FacesynthError
    from recognition.config import TrainConfig
    job = yaml.safe_load(SMOKE.read_text())
    job_keys = [k for k, _ in _numeric_leaves(load_job_config(SMOKE).model_dump(mode="json"))]
    train = yaml.safe_load((REPO / "configs" / "smoke-train.yaml").read_text())
    train_keys = [k for k, _ in _numeric_leaves(TrainConfig.model_validate(train).model_dump(mode="json"))]
    cases = [(JobConfig, job, k) for k in job_keys] + [(TrainConfig, train, k) for k in train_keys]
    assert len(cases) > 60
    for cls, base, key in cases:
        for value in (True, "1", float("nan")):
            with pytest.raises(FacesynthError) as e:
                parse_model(cls, _with(base, key, value))
            msg = str(e.value)
            assert "\n" not in msg and key.split(".")[-1] in msg, (key, value, msg)
