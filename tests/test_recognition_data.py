"""Data readers (RecordIO, Parquet, image folder), batch plans and augmentation."""
import struct

import numpy as np
import pytest

from core.errors import FacesynthError
from recognition.augment import augment
from recognition.config import AugmentConfig, DataConfig
from recognition.data import mixed
from recognition.data.imagefolder import ImageFolderSource
from recognition.data.parquet import ParquetSource
from recognition.data.recordio import (MAGIC, IRHeader, RecordIOReader, RecordIOSource, pack, unpack,
                                       write_recordio)
from testdata import encode, face_like, write_imagefolder, write_parquet


def test_recordio_roundtrip_including_split_records(tmp_path):
    magic = struct.pack("<I", MAGIC)
    payloads = [b"", b"abc", b"x" * 8 + magic + b"yz", magic + b"1234" + magic, bytes(range(256)) * 3]
    write_recordio(tmp_path / "t.rec", payloads, keys=[10, 11, 12, 13, 14])
    raw = (tmp_path / "t.rec").read_bytes()
    assert len(raw) % 4 == 0
    r = RecordIOReader(tmp_path / "t.rec")
    assert [r.read(k) for k in (10, 11, 12, 13, 14)] == payloads
    # A payload with an aligned magic is written in parts (cflag 1 then 3), as dmlc does.
    off = r.offsets[12]
    first_lrec = struct.unpack_from("<I", raw, off + 4)[0]
    assert first_lrec >> 29 == 1 and first_lrec & ((1 << 29) - 1) == 8


def test_recordio_layout_is_byte_exact(tmp_path):
    # magic, lrecord(cflag 0, len 5), payload, 3 zero bytes of padding
    write_recordio(tmp_path / "a.rec", [b"hello"])
    assert (tmp_path / "a.rec").read_bytes() == struct.pack("<II", MAGIC, 5) + b"hello\0\0\0"
    assert (tmp_path / "a.idx").read_text() == "0\t0\n"


def test_irheader_pack_unpack():
    h, body = unpack(pack(IRHeader(0, 7.0, 3, 0), b"img"))
    assert (h.flag, h.label, h.id, body) == (0, 7.0, 3, b"img")
    h, body = unpack(pack(IRHeader(0, (5.0, 9.0), 0, 0), b""))
    assert h.flag == 2 and h.label == (5.0, 9.0) and body == b""


def test_insightface_style_rec_reads_as_source(tmp_path):
    # Record 0: header (first identity record, end); images 1..6; identity records 7..9.
    ids = [0, 0, 1, 1, 2, 2]
    recs = [pack(IRHeader(0, (7.0, 10.0), 0, 0), b"")]
    recs += [pack(IRHeader(0, float(i), k + 1, 0), encode(face_like(i, k))) for k, i in enumerate(ids)]
    recs += [pack(IRHeader(0, (1.0 + 2 * i, 3.0 + 2 * i), 0, 0), b"") for i in range(3)]
    write_recordio(tmp_path / "train.rec", recs)
    src = RecordIOSource(tmp_path)
    assert len(src) == 6 and src.num_classes == 3
    img, label = src.get(3)
    assert label == 1 and mixed.decode(img, 112).shape == (112, 112, 3)


def test_recordio_without_header_remaps_labels(tmp_path):
    recs = [pack(IRHeader(0, float(lab), 0, 0), encode(face_like(lab, 0))) for lab in (40, 7, 40)]
    write_recordio(tmp_path / "x.rec", recs)
    src = RecordIOSource(tmp_path / "x.rec")
    assert src.num_classes == 2 and [src.get(i)[1] for i in range(3)] == [1, 0, 1]


def test_recordio_bad_idx_is_one_line_error(tmp_path):
    write_recordio(tmp_path / "x.rec", [b"abcd"])
    (tmp_path / "x.idx").write_text("0\t4\n")  # points into the middle of a record
    with pytest.raises(FacesynthError, match="bad magic"):
        RecordIOReader(tmp_path / "x.rec").read(0)
    (tmp_path / "x.idx").write_text("zero four\n")
    with pytest.raises(FacesynthError, match="x.idx:1"):
        RecordIOReader(tmp_path / "x.rec")


def test_parquet_source_and_non_colliding_labels(tmp_path):
    write_parquet(tmp_path / "a.parquet", 3, 2, identity_start=500)
    write_imagefolder(tmp_path / "folder", 2, 2)
    pq_src = ParquetSource(tmp_path / "a.parquet")
    lazy = ParquetSource(tmp_path / "a.parquet", preload_mb=0)
    assert pq_src.num_classes == 3 and list(pq_src.identities) == [500, 501, 502]
    assert [pq_src.get(i) for i in range(6)] == [lazy.get(i) for i in range(6)]
    folder = ImageFolderSource(tmp_path / "folder")
    assert folder.num_classes == 2 and folder.class_names == ["person000", "person001"]
    ds = mixed.TrainSet([pq_src, folder], AugmentConfig(enabled=False), 112, seed=0)
    assert ds.num_classes == 5
    x, lab = ds[mixed.Key(1, 3, 0, 0)]
    assert lab == 3 + 1 and x.shape == (3, 112, 112) and -1 <= x.min() < x.max() <= 1


def test_parquet_missing_column_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"image": [b"x"]}), tmp_path / "bad.parquet")
    with pytest.raises(FacesynthError, match="identity"):
        ParquetSource(tmp_path / "bad.parquet")


def test_mix_plan_counts_determinism_and_rank_split():
    plan = mixed.BatchPlan([10, 40], batch_size=8, combine="mix", seed=3, weights=[0.75, 0.25])
    assert plan.counts == [6, 2] and plan.steps_per_epoch == 2
    b = plan.batch(5)
    assert [k.source for k in b] == [0] * 6 + [1] * 2
    assert b == mixed.BatchPlan([10, 40], 8, "mix", 3, [0.75, 0.25]).batch(5)
    assert b != mixed.BatchPlan([10, 40], 8, "mix", 4, [0.75, 0.25]).batch(5)
    ranks = [mixed.PlanSampler(plan, 5, 6, r, 2) for r in range(2)]
    merged = sorted(sum((next(iter(s)) for s in ranks), []), key=lambda k: k.slot)
    assert merged == b
    # Source 0 (length 10, 6 per batch): batches 0..4 cover 30 draws = 3 full permutations.
    seen = [k.index for bb in range(5) for k in plan.batch(bb) if k.source == 0]
    assert all(sorted(seen[e * 10:(e + 1) * 10]) == list(range(10)) for e in range(3))


def test_concat_plan_covers_every_item_once_per_epoch():
    plan = mixed.BatchPlan([5, 7], batch_size=4, combine="concat", seed=0)
    keys = [k for b in range(3) for k in plan.batch(b)]
    assert sorted((k.source, k.index) for k in keys) == [(0, i) for i in range(5)] + [(1, i) for i in range(7)]


def test_split_counts():
    assert mixed.split_counts([1, 1, 1], 10) == [4, 3, 3]
    assert sum(mixed.split_counts([0.9, 0.1], 7)) == 7 and min(mixed.split_counts([0.99, 0.01], 7)) == 1


def test_data_config_rejects_weights_in_concat():
    with pytest.raises(Exception, match="weight"):
        DataConfig.model_validate({"combine": "concat", "sources": [{"kind": "parquet", "path": "x", "weight": 2}]})


def test_augment_deterministic_and_effective():
    img = face_like(1, 0)
    cfg = AugmentConfig()
    a = augment(img, cfg, np.random.default_rng(5))
    assert np.array_equal(a, augment(img, cfg, np.random.default_rng(5)))
    assert a.shape == img.shape and a.dtype == np.uint8 and not np.array_equal(a, img)  # warp always fires
    assert np.array_equal(augment(img, AugmentConfig(enabled=False), np.random.default_rng(5)), img)
    every = AugmentConfig(**{k: 1.0 for k in ("blur", "noise", "motion_blur", "brightness", "contrast", "hue",
                                              "saturation", "grayscale", "downup", "jpeg", "flip")})
    g = augment(img, every, np.random.default_rng(0))
    assert g.shape == img.shape and g.dtype == np.uint8 and not np.array_equal(g, img)
    only_flip = AugmentConfig(warp=0.0, flip=1.0, **{k: 0.0 for k in ("blur", "noise", "motion_blur", "brightness",
                                                                        "contrast", "hue", "saturation", "grayscale",
                                                                        "downup", "jpeg")})
    assert np.array_equal(augment(img, only_flip, np.random.default_rng(0)), img[:, ::-1])


def test_build_combines_all_three_kinds(tmp_path):
    write_parquet(tmp_path / "shards" / "part-0.parquet", 3, 2)
    write_imagefolder(tmp_path / "folder", 2, 2)
    recs = [pack(IRHeader(0, float(i % 4), 0, 0), encode(face_like(i, 0))) for i in range(8)]
    (tmp_path / "rec").mkdir()
    write_recordio(tmp_path / "rec" / "train.rec", recs)
    cfg = DataConfig.model_validate({"sources": [
        {"kind": "parquet", "path": str(tmp_path / "shards"), "weight": 2},
        {"kind": "recordio", "path": str(tmp_path / "rec")},
        {"kind": "imagefolder", "path": str(tmp_path / "folder"), "name": "mine"}], "input_size": 64})
    ds, plan = mixed.build(cfg, batch_size=8, seed=0)
    assert ds.num_classes == 3 + 4 + 2 and plan.counts == [4, 2, 2]
    labels = {src: set() for src in range(3)}
    for b in range(4):
        for k in plan.batch(b):
            x, y = ds[k]
            assert x.shape == (3, 64, 64)
            labels[k.source].add(y)
    assert labels[0] <= {0, 1, 2} and labels[1] <= {3, 4, 5, 6} and labels[2] <= {7, 8}
    assert ds.sources[2].name == "mine"
    with pytest.raises(FacesynthError, match="not found"):
        mixed.build(DataConfig.model_validate({"sources": [{"kind": "recordio", "path": str(tmp_path / "no")}]}), 8, 0)
