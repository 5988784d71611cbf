"""`facesynth export` read back by what each format's users run: a RecordIO reader written here
from the dmlc/insightface format description (not the project's), `datasets.load_dataset`, and
the project's image-folder reader. One small dataset, rendered once for the module from
configs/smoke.yaml with KEY=VALUE overrides: 20 identities, each seen frontal and in profile, so
it also serves as a held-out frontal-vs-profile set."""
from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
N_IDS, PER = 20, 2
OVERRIDES = [f"identities={N_IDS}", f"images_per_identity={PER}", "render.pose.poses=[[0, 0, 0], [70, 0, 0]]"]


def cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "cluster.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, face_model) -> Path:
    out = tmp_path_factory.mktemp("export") / "ds"
    r = cli("generate", "--config", "configs/smoke.yaml", "--out", out, "--no-progress", "--workers", "2", *OVERRIDES)
    assert r.returncode == 0, r.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def rows(dataset) -> list[tuple[int, int, bytes]]:
    """(identity, image_index, image bytes) in the dataset's order."""
    from cluster.dataset import open_dataset
    t = open_dataset(str(dataset)).read(columns=["identity", "image_index", "image"])
    return list(zip(t["identity"].to_pylist(), t["image_index"].to_pylist(), t["image"].to_pylist()))


def export(dataset, to, out, *extra):
    r = cli("export", dataset, "--to", to, "--out", out, "--no-progress", *extra)
    assert r.returncode == 0, r.stderr[-3000:]
    return r


# ----------------------------------------------------------------- insightface

# dmlc-core recordio: each record is uint32 magic 0xced7230a, uint32 lrecord whose upper 3 bits
# are a continuation flag (0 whole, 1 first, 2 middle, 3 last part) and lower 29 bits the
# length, then the bytes padded to 4. A split record's parts are joined with the magic between.
# mxnet.recordio.pack: header struct "IfQQ" (flag, label, id, id2); flag > 0 means `flag`
# float32 labels follow the header instead of the scalar label.
def read_records_sequentially(rec: Path) -> list[bytes]:
    data, pos, out, parts = rec.read_bytes(), 0, [], []
    while pos < len(data):
        magic, lrec = struct.unpack_from("<II", data, pos)
        assert magic == 0xCED7230A, f"bad magic at {pos}"
        cflag, length = lrec >> 29, lrec & ((1 << 29) - 1)
        parts.append(data[pos + 8:pos + 8 + length])
        pos += 8 + length + (-length % 4)
        if cflag in (0, 3):
            out.append(_join(parts))
            parts = []
    assert not parts, "file ends inside a split record"
    return out


def _join(parts: list[bytes]) -> bytes:
    return struct.pack("<I", 0xCED7230A).join(parts)


def read_record_at(rec: Path, offset: int) -> bytes:
    data, parts = rec.read_bytes(), []
    while True:
        magic, lrec = struct.unpack_from("<II", data, offset)
        assert magic == 0xCED7230A
        cflag, length = lrec >> 29, lrec & ((1 << 29) - 1)
        parts.append(data[offset + 8:offset + 8 + length])
        offset += 8 + length + (-length % 4)
        if cflag in (0, 3):
            return _join(parts)


def unpack_ir(record: bytes) -> tuple[int, tuple[float, ...], int, bytes]:
    flag, label, rid, _ = struct.unpack_from("<IfQQ", record)
    body = record[24:]
    if flag > 0:
        return flag, tuple(np.frombuffer(body[:4 * flag], "<f4").tolist()), rid, body[4 * flag:]
    return flag, (label,), rid, body


def test_insightface_export_reads_back_as_arcface_torch_expects(dataset, rows, tmp_path):
    out = tmp_path / "ms1m-like"
    export(dataset, "insightface", out)
    assert (out / "property").read_text().strip() == f"{N_IDS},112,112"
    idx = dict(tuple(map(int, line.split("\t"))) for line in (out / "train.idx").read_text().splitlines())
    n = len(rows)
    assert sorted(idx) == list(range(n + 1 + N_IDS))

    # Record 0 (MXFaceDataset's header0): labels (N + 1, N + 1 + K); images are keys 1..N.
    flag, (lo, hi), _, _ = unpack_ir(read_record_at(out / "train.rec", idx[0]))
    assert flag == 2 and (lo, hi) == (n + 1, n + 1 + N_IDS)
    identities = sorted({i for i, _, _ in rows})
    for key in range(1, int(lo)):
        flag, (label,), rid, img = unpack_ir(read_record_at(out / "train.rec", idx[key]))
        ident, _, expected = rows[key - 1]
        assert flag == 0 and rid == key and label == identities.index(ident)
        assert img == expected
        assert Image.open(io.BytesIO(img)).convert("RGB").size == (112, 112)
    labels = [unpack_ir(read_record_at(out / "train.rec", idx[k]))[1][0] for k in range(1, n + 1)]
    assert sorted(set(labels)) == list(range(N_IDS)) and np.bincount(np.int64(labels)).tolist() == [PER] * N_IDS
    # Identity records: label k's images are the keys [start, end).
    for k in range(N_IDS):
        flag, (start, end), _, _ = unpack_ir(read_record_at(out / "train.rec", idx[n + 1 + k]))
        assert flag == 2 and {labels[i - 1] for i in range(int(start), int(end))} == {k} and end - start == PER
    # A sequential reader (mxnet.recordio.MXRecordIO) sees the same records in key order.
    seq = read_records_sequentially(out / "train.rec")
    assert seq == [read_record_at(out / "train.rec", idx[k]) for k in range(n + 1 + N_IDS)]

    from recognition.data.recordio import RecordIOSource  # the project's own training reader
    src = RecordIOSource(out)
    assert len(src) == n and src.num_classes == N_IDS and src.get(0) == (rows[0][2], 0)


def test_insightface_export_carries_heldout_sets(dataset, tmp_path):
    from recognition.verification import read_bin, write_bin
    given = tmp_path / "given.bin"
    write_bin(given, [b"a", b"b"], [True])
    out = tmp_path / "rec"
    r = export(dataset, "insightface", out, "--heldout", dataset, given, "--pairs-per-fold", 2)
    assert "ds_frontal_profile.bin" in r.stdout
    images, issame = read_bin(out / "ds_frontal_profile.bin")
    assert len(issame) == 20 and issame.sum() == 10 and len(images) == 40
    with open(out / "ds_frontal_profile.bin", "rb") as f:  # what insightface's loader does
        bins, same = pickle.load(f, encoding="bytes")
    assert Image.open(io.BytesIO(bins[0])).size == (112, 112) and same == issame.tolist()
    assert read_bin(out / "given.bin")[0] == [b"a", b"b"]


# ----------------------------------------------------------------- folder

def test_folder_export_round_trips_through_the_image_folder_reader(dataset, rows, tmp_path):
    from recognition.data.imagefolder import ImageFolderSource
    out = tmp_path / "digiface-like"
    export(dataset, "folder", out)
    src = ImageFolderSource(out)
    assert len(src) == len(rows) and src.num_classes == N_IDS
    assert [int(c) for c in src.class_names] == sorted({i for i, _, _ in rows})
    got = {(int(p.parent.name), int(p.stem)): (p.read_bytes(), int(label)) for p, label in zip(src.paths, src.labels)}
    identities = sorted({i for i, _, _ in rows})
    assert got == {(i, j): (img, identities.index(i)) for i, j, img in rows}
    assert {p.suffix for p in src.paths} == {".jpg"}


# ----------------------------------------------------------------- Hugging Face

def test_hf_export_loads_with_datasets_as_pil_images(dataset, rows, tmp_path):
    import datasets  # a test extra
    out = tmp_path / "hf"
    export(dataset, "hf", out)
    ds = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(ds.features["image"], datasets.Image)
    assert ds.num_rows == len(rows)
    first = ds[0]
    assert isinstance(first["image"], Image.Image) and first["image"].size == (112, 112)
    assert [(r["identity"], r["image_index"]) for r in ds.select_columns(["identity", "image_index"])] == \
        [(i, j) for i, j, _ in rows]
    assert sorted(set(ds["label"])) == list(range(N_IDS))
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n") and f"- images: {len(rows)}" in card
    assert f"- identities (classes): {N_IDS}" in card and "MIT licence" in card and "identities: 20" in card
    schema = pq.read_schema(next((out / "data").glob("*.parquet")))
    assert b"huggingface" in schema.metadata


# ----------------------------------------------------------------- all-or-nothing

def test_export_refuses_a_folder_it_did_not_write(dataset, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    r = cli("export", dataset, "--to", "folder", "--out", out, "--no-progress")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "not an earlier export" in r.stderr
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_failed_export_leaves_nothing_and_keeps_the_earlier_one(dataset, tmp_path):
    """An image that is neither JPEG nor PNG in the last shard: the export fails after it has
    written most files, and the earlier export is still there, whole."""
    import shutil

    import pyarrow as pa
    out = tmp_path / "faces"
    export(dataset, "folder", out)
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    broken = tmp_path / "broken"
    shutil.copytree(dataset, broken)
    last = sorted(broken.glob("*.parquet"))[-1]
    t = pq.read_table(last)
    images = t["image"].to_pylist()
    t = t.set_column(t.schema.get_field_index("image"), t.schema.field("image"),
                     pa.array(images[:-1] + [b"not an image"], pa.binary()))
    pq.write_table(t, last)
    r = cli("export", broken, "--to", "folder", "--out", out, "--no-progress")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr[-2000:]
    assert f"identity {N_IDS - 1} image {PER - 1} is neither JPEG nor PNG" in r.stderr
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "faces"]  # no temp folder left
