"""Damaged inputs of the recognition commands: RecordIO bounds, short reads and pair commits,
checkpoints, too few pairs — each one line `facesynth: error: ...` and exit 2, the traceback
only with FACESYNTH_DEBUG=1."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testdata import encode, face_like

from cluster.cli import main
from core.atomic import atomic_file, atomic_write_bytes
from core.errors import FacesynthError
from recognition.data.recordio import (MAGIC, PENDING_SUFFIX, IRHeader, RecordIOReader, RecordIOSource, pack,
                                       write_recordio)

REPO = Path(__file__).resolve().parents[1]


def _one_line(rc: int, err: str) -> None:
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("facesynth: error: "), err
    assert "Traceback" not in err


def _insightface_set(folder: Path, ids=(0, 0, 1, 1, 2, 2)) -> Path:
    """train.rec/.idx as insightface writes them: header record 0, images, identity records."""
    n = len(ids)
    recs = [pack(IRHeader(2, (n + 1.0, n + 1.0 + 3), 0, 0), b"")]
    recs += [pack(IRHeader(0, float(i), k + 1, 0), encode(face_like(i, k, 32))) for k, i in enumerate(ids)]
    recs += [pack(IRHeader(2, (1.0 + 2 * i, 3.0 + 2 * i), 0, 0), b"") for i in range(3)]
    folder.mkdir(parents=True, exist_ok=True)
    write_recordio(folder / "train.rec", recs)
    return folder / "train.rec"


def _read_all(rec: Path) -> list:
    src = RecordIOSource(rec)
    return [src.get(i) for i in range(len(src))]


# ---------------------------------------------------------------- RecordIO: a pair, committed as one

def test_recordio_pair_commit_survives_a_crash_at_every_step(tmp_path):
    rec = tmp_path / "t.rec"
    write_recordio(rec, [b"old-0", b"old-1"])
    old = (rec.read_bytes(), rec.with_suffix(".idx").read_bytes())
    new_payloads = [b"new-record-zero", b"n1", b"n2"]
    # the state a crash leaves after both temp files are written but before the marker: the old pair
    probe = tmp_path / "probe"
    probe.mkdir()
    write_recordio(probe / "t.rec", new_payloads)
    new = ((probe / "t.rec").read_bytes(), (probe / "t.idx").read_bytes())
    (tmp_path / ".t.rec.tmp-1-aaaa").write_bytes(new[0])
    (tmp_path / ".t.idx.tmp-1-aaaa").write_bytes(new[1])
    r = RecordIOReader(rec)
    assert [r.read(k) for k in (0, 1)] == [b"old-0", b"old-1"]
    # after the marker and the first rename (.rec is new, .idx still old): readers finish the commit
    os.replace(tmp_path / ".t.rec.tmp-1-aaaa", rec)
    (tmp_path / ("t.rec" + PENDING_SUFFIX)).write_text(json.dumps({"rec": ".t.rec.tmp-1-aaaa", "idx": ".t.idx.tmp-1-aaaa"}))
    assert (rec.read_bytes(), rec.with_suffix(".idx").read_bytes()) == (new[0], old[1])  # mismatched on disk
    r = RecordIOReader(rec)
    assert [r.read(k) for k in (0, 1, 2)] == new_payloads
    assert not (tmp_path / ("t.rec" + PENDING_SUFFIX)).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe", "t.idx", "t.rec"]


def _damage(rec: Path, how: str) -> None:
    idx = rec.with_suffix(".idx")
    data = bytearray(rec.read_bytes())
    if how == "offset-past-end":
        idx.write_text(idx.read_text() + f"99\t{len(data) + 400}\n")
    elif how == "offset-unaligned":
        idx.write_text("0\t2\n")
    elif how == "negative-key":
        idx.write_text("-1\t0\n")
    elif how == "huge-length":
        struct.pack_into("<I", data, 4, (1 << 29) - 1)  # record 0 claims 512 MB
        rec.write_bytes(bytes(data))
    elif how == "short-read":
        lines = idx.read_text().splitlines()[:7]  # header + 6 images; the file ends inside image 6
        idx.write_text("\n".join(lines) + "\n")
        rec.write_bytes(bytes(data[: int(lines[-1].split("\t")[1]) + 40]))
    elif how == "bad-part-flag":
        struct.pack_into("<I", data, 4, (2 << 29) | (struct.unpack_from("<I", data, 4)[0] & ((1 << 29) - 1)))
        rec.write_bytes(bytes(data))
    elif how == "labels-past-record":
        struct.pack_into("<I", data, 8, 10_000)  # IRHeader.flag: 10,000 labels in a 24-byte record
        rec.write_bytes(bytes(data))
    elif how == "header-range":
        struct.pack_into("<ff", data, 8 + 24, 1e9, 2e9)  # record 0's (first identity record, end)
        rec.write_bytes(bytes(data))
    elif how == "nan-label":
        off = int(idx.read_text().splitlines()[1].split("\t")[1])
        struct.pack_into("<f", data, off + 8 + 4, float("nan"))
        rec.write_bytes(bytes(data))
    elif how == "binary-idx":
        idx.write_bytes(b"\x00\xff\xfe garbage")


@pytest.mark.parametrize("how", ["offset-past-end", "offset-unaligned", "negative-key", "huge-length", "short-read",
                                 "bad-part-flag", "labels-past-record", "header-range", "nan-label", "binary-idx"])
def test_recordio_damage_is_one_line(how, tmp_path):
    rec = _insightface_set(tmp_path / "set")
    _damage(rec, how)
    with pytest.raises(FacesynthError) as e:
        _read_all(rec)
    assert "\n" not in str(e.value) and len(str(e.value)) < 400


FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(target=st.sampled_from(["rec", "idx"]), where=st.floats(0, 1), n=st.integers(1, 16),
       byte=st.integers(1, 255), cut=st.booleans())
def test_fuzz_recordio(tmp_path_factory, target, where, n, byte, cut):
    """Any damage to either file: the reader returns records or raises FacesynthError, nothing else."""
    rec = _insightface_set(tmp_path_factory.mktemp("fz") / "set")
    f = rec if target == "rec" else rec.with_suffix(".idx")
    data = bytearray(f.read_bytes())
    i = min(int(where * len(data)), len(data) - 1)
    if cut:
        data = data[:i]
    else:
        for k in range(i, min(i + n, len(data))):
            data[k] ^= byte
    f.write_bytes(bytes(data))
    try:
        _read_all(rec)
    except FacesynthError as e:
        assert "\n" not in str(e)


def test_train_on_damaged_recordio_is_one_line(tmp_path, capsys):
    rec = _insightface_set(tmp_path / "set", ids=tuple(i // 4 for i in range(16)))
    _damage(rec, "short-read")
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"out: {tmp_path / 'run'}\nsteps: 2\nbatch_size: 4\nmodel: {{backbone: mobilefacenet, width: 0.125, "
                   f"embedding_size: 16}}\ndata: {{sources: [{{kind: recordio, path: {tmp_path / 'set'}}}], "
                   f"num_workers: 0, input_size: 32}}\n")
    rc = main(["train", "--config", str(cfg)])
    _one_line(rc, capsys.readouterr().err.strip())


# ---------------------------------------------------------------- checkpoints and pairs

def _pairs(tmp_path: Path, n: int, same_every: int = 2) -> Path:
    from PIL import Image
    for i in range(4):
        Image.fromarray(face_like(i, 0)).save(tmp_path / f"{i}.png")
    lines = [f"{k % 4}.png {(k + (k % same_every != 0)) % 4}.png {int(k % same_every == 0)}" for k in range(n)]
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    return tmp_path / "pairs.txt"


@pytest.mark.parametrize("n,same_every", [(4, 2), (9, 2), (12, 1)], ids=["4-pairs", "9-pairs", "no-negatives"])
def test_eval_with_too_few_pairs_is_one_line_not_nan(n, same_every, tmp_path, capsys):
    pairs = _pairs(tmp_path, n, same_every)
    rc = main(["eval", "--checkpoint", str(tmp_path / "any.pt"), "--pairs", str(pairs), "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    _one_line(rc, captured.err.strip())
    assert "needs at least 10 pairs" in captured.err and "nan" not in captured.out
    assert not (tmp_path / "o").exists()


def _checkpoint(path: Path, how: str) -> Path:
    import torch

    from recognition import checkpoint as ckpt
    from recognition.backbones import build_backbone
    if how == "random-bytes":
        atomic_write_bytes(path, os.urandom(4096))
        return path
    net = build_backbone("mobilefacenet", 16, 0.125, 0.0, 32)
    state = {"model": {"backbone": "mobilefacenet", "embedding_size": 16, "width": 0.125}, "input_size": 32,
             "backbone": net.state_dict()}
    if how == "missing-key":
        del state["backbone"]
    elif how == "wrong-shapes":
        state["model"]["embedding_size"] = 64
    elif how == "wrong-types":
        state["model"]["width"] = "wide"
    elif how == "truncated":
        ckpt.save(path, state)
        data = path.read_bytes()
        with atomic_file(path) as f:
            f.write(data[: len(data) // 2])
        return path
    ckpt.save(path, state)
    torch.load(path, weights_only=True)  # a loadable file: only its content is wrong
    return path


@pytest.mark.parametrize("how", ["random-bytes", "missing-key", "wrong-shapes", "wrong-types", "truncated"])
def test_damaged_checkpoint_is_one_line_in_eval_and_embed(how, tmp_path, capsys):
    ck = _checkpoint(tmp_path / "c.pt", how)
    pairs = _pairs(tmp_path, 12)
    rc = main(["eval", "--checkpoint", str(ck), "--pairs", str(pairs), "--out", str(tmp_path / "o")])
    _one_line(rc, capsys.readouterr().err.strip())
    rc = main(["embed", "--checkpoint", str(ck), str(tmp_path / "0.png"), "--out", str(tmp_path / "e.parquet")])
    _one_line(rc, capsys.readouterr().err.strip())
    assert not (tmp_path / "o").exists() and not (tmp_path / "e.parquet").exists()


def test_debug_env_keeps_the_traceback(tmp_path):
    pairs = _pairs(tmp_path, 4)
    cmd = [sys.executable, "-m", "cluster.cli", "eval", "--checkpoint", "x.pt", "--pairs", str(pairs)]
    quiet = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    loud = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "FACESYNTH_DEBUG": "1"})
    assert quiet.returncode == loud.returncode == 2
    assert quiet.stderr.strip().splitlines() == [quiet.stderr.strip()] and "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr and loud.stderr.strip().splitlines()[-1] == quiet.stderr.strip()


def test_atomic_file_leaves_old_content_on_error(tmp_path):
    f = tmp_path / "x.json"
    atomic_write_bytes(f, b"old")
    with pytest.raises(RuntimeError):
        with atomic_file(f) as h:
            h.write(b"half of the new")
            raise RuntimeError("killed mid-write")
    assert f.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_magic_inside_payload_roundtrips(tmp_path):
    magic = struct.pack("<I", MAGIC)
    payloads = [magic * 3, b"a" + magic, np.arange(100, dtype=np.uint32).tobytes() + magic]
    write_recordio(tmp_path / "m.rec", payloads)
    r = RecordIOReader(tmp_path / "m.rec")
    assert [r.read(k) for k in range(3)] == payloads


def test_first_line_is_the_telling_line_of_ray_errors():
    import ray.exceptions as rx

    from core.errors import first_line
    try:
        raise ZeroDivisionError("division by zero")
    except ZeroDivisionError as cause:
        import traceback
        task = rx.RayTaskError("RenderActor.run_unit", traceback.format_exc(), cause)
    assert first_line(task) == "ZeroDivisionError: division by zero"
    died = rx.ActorDiedError(rx.RayTaskError("RenderActor.__init__", "Traceback (most recent call last):\n"
                                             "  File \"w.py\", line 1\nTypeError: bad argument 'variants'\n",
                                             TypeError("bad argument 'variants'")))
    assert first_line(died) == "TypeError: bad argument 'variants'"
    assert first_line(FacesynthError("one\ntwo")) == "one" and len(first_line(ValueError("x" * 5000))) == 400
