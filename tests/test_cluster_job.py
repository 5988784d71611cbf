"""The main job on one embedded Ray (started once for this module), with the real gen + render
pipeline at smoke size: determinism across worker counts, exactly-once output, resume repairs,
a killed actor's unit retried, the schema, the readers, and `inspect`."""
from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from render.record import SCHEMA_VERSION
from cluster_util import assert_exactly_once, processes_matching, rows_of

from cluster.config import load_job_config, n_units, parse_job_config, shard_name
from cluster.job import generate
from cluster.storage import MANIFEST, TMP_DIR

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke.yaml"


@pytest.fixture(scope="module")
def smoke_runs(ray_local, tmp_path_factory):
    """The smoke dataset made with 1 worker and with 2 workers."""
    cfg = load_job_config(SMOKE)
    root = tmp_path_factory.mktemp("smoke")
    outs = {}
    for w in (1, 2):
        out = root / f"w{w}"
        summary = generate(cfg, str(out), workers=w, progress=False)
        assert summary["complete"] and summary["workers"] == w
        assert summary["images_written"] == cfg.total_images
        outs[w] = out
    return cfg, outs


def test_one_and_two_workers_write_identical_images(smoke_runs):
    cfg, outs = smoke_runs
    one = assert_exactly_once(outs[1], cfg)
    two = assert_exactly_once(outs[2], cfg)
    assert len(one) == cfg.total_images
    assert one == two  # multiset of (identity, image_index, sha256(image))


def test_schema_and_shard_layout(smoke_runs):
    cfg, outs = smoke_runs
    m = json.loads((outs[2] / MANIFEST).read_text())
    # a finished dataset holds its shards and manifest, nothing half-done (no empty _tmp/ either)
    assert sorted(p.name for p in outs[2].iterdir()) == sorted([MANIFEST] + [r["file"] for r in m["committed"].values()])
    assert m["schema_version"] == SCHEMA_VERSION and m["complete"] and len(m["committed"]) == n_units(cfg)
    f = outs[2] / shard_name(cfg, 0)
    schema = pq.read_schema(f)
    assert schema.field("image").type == pa.binary()
    assert schema.field("identity").type == pa.int64()
    assert schema.field("image_index").type == pa.int32()
    for name in ("yaw", "pitch", "roll"):
        assert schema.field(name).type == pa.float32()
    assert schema.field("landmarks5").type == pa.list_(pa.float32(), 10)
    assert schema.field("expression").type.list_size == len(json.loads(schema.metadata[b"facesynth.expression_names"]))
    assert schema.metadata[b"facesynth.config_hash"].decode() == m["config_hash"]
    t = pq.read_table(f)
    assert t["model_name"][0].as_py() == "ict-facekit"
    assert t["image"][0].as_py()[:3] == b"\xff\xd8\xff"  # JPEG, as configured
    assert {L["kind"] for ls in t["lights"].to_pylist() for L in ls} <= {"directional", "point", "spot"}
    # image bytes are already compressed; the metadata columns are zstd
    rg = pq.ParquetFile(f).metadata.row_group(0)
    codecs = {rg.column(k).path_in_schema: rg.column(k).compression for k in range(rg.num_columns)}
    assert codecs.pop("image") == "UNCOMPRESSED"
    assert set(codecs.values()) == {"ZSTD"}, codecs  # nested columns too


def test_readers_pandas_pyarrow_ray_data_hf(smoke_runs, ray_local):
    import datasets
    import pandas as pd

    from cluster.dataset import open_dataset
    cfg, outs = smoke_runs
    ds = open_dataset(str(outs[2]), require_complete=True)
    n = cfg.total_images
    assert ds.read(columns=["identity"]).num_rows == n
    df = pd.concat(pd.read_parquet(f) for f in ds.files)
    assert len(df) == n and len(df.landmarks5.iloc[0]) == 10
    assert len(pd.read_parquet(outs[2])) == n  # whole folder: _manifest.json and _tmp/ are skipped
    rd = ray_local.data.read_parquet(ds.files)
    assert rd.count() == n and "image" in rd.schema().names
    hf = datasets.load_dataset("parquet", data_files=ds.files, split="train",
                               cache_dir=str(outs[2].parent / "hf-cache"))
    assert len(hf) == n and len(hf[0]["landmarks5"]) == 10 and isinstance(hf[0]["image"], bytes)


def test_resume_repairs_every_crash_state(smoke_runs, tmp_path):
    """The states a kill can leave: a shard committed but not yet in the manifest, a temp
    file, a shard deleted behind the manifest's back, a truncated shard. A rerun repairs all."""
    cfg, outs = smoke_runs
    out = tmp_path / "ds"
    shutil.copytree(outs[2], out)
    m = json.loads((out / MANIFEST).read_text())
    del m["committed"]["0"]  # killed between the move and the manifest write
    (out / shard_name(cfg, 1)).unlink()  # lost behind the manifest's back
    del m["committed"]["2"]
    data = (out / shard_name(cfg, 2)).read_bytes()
    (out / shard_name(cfg, 2)).write_bytes(data[: len(data) // 2])  # a foreign half-written copy
    m["complete"] = False
    (out / MANIFEST).write_text(json.dumps(m))
    dead_run = m["runs"][-1]["id"]  # temp files carry their run's id; this run is in the manifest
    (out / TMP_DIR).mkdir()  # a finished dataset has none; a killed run leaves it
    (out / TMP_DIR / f"part-u00003.parquet.{dead_run}.0123456789ab.partial").write_bytes(b"PAR1 half")
    (out / TMP_DIR / "part-u00003.parquet.feedfacefeedface.0123456789ab.partial").write_bytes(b"not this dataset's run")
    s = generate(cfg, str(out), workers=2, progress=False)
    assert s["adopted"] == 1 and s["temp_cleared"] == 1
    # a temp name of a run this dataset never recorded is not ours to delete
    assert (out / TMP_DIR / "part-u00003.parquet.feedfacefeedface.0123456789ab.partial").exists()
    (out / TMP_DIR / "part-u00003.parquet.feedfacefeedface.0123456789ab.partial").unlink()
    assert s["units_written"] == 2 and s["units_resumed"] == 2
    assert assert_exactly_once(out, cfg) == rows_of(sorted(outs[2].glob("*.parquet")))
    # and a rerun of a complete dataset does no work (no Ray needed)
    again = generate(cfg, str(out), progress=False)
    assert again["complete"] and again["units_written"] == 0 and again["workers"] == 0


def test_killed_actor_is_restarted_and_its_unit_retried(ray_local, tmp_path):
    cfg = parse_job_config({"seed": 11, "identities": 6, "images_per_identity": 3,
                            "gen": {"appearance": {"texture_size": 256}},
                            "ray": {"unit_identities": 1}})
    out = tmp_path / "ds"
    result, errors = {}, []

    def run():
        try:
            result.update(generate(cfg, str(out), workers=2, progress=False))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    th = threading.Thread(target=run)
    th.start()
    killed = None
    deadline = time.monotonic() + 120
    while th.is_alive() and killed is None and time.monotonic() < deadline:
        busy = processes_matching("ray::RenderActor.run_unit", under=os.getpid())  # our Ray's actors only
        if busy:  # an actor in the middle of a unit: pre-empt it
            os.kill(busy[0], signal.SIGKILL)
            killed = busy[0]
        time.sleep(0.02)
    th.join(timeout=300)
    assert not errors, errors
    assert killed is not None, "never saw an actor at work"
    assert result["retries"] >= 1 and result["complete"]
    assert_exactly_once(out, cfg)


def test_inspect_reports(smoke_runs, tmp_path, capsys):
    from cluster.cli import main
    cfg, outs = smoke_runs
    report = tmp_path / "report"
    assert main(["inspect", str(outs[1]), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    stats = json.loads((report / "stats.json").read_text())
    assert stats["rows"] == cfg.total_images and stats["identities"] == cfg.identities
    assert stats["duplicates"] == 0 and stats["complete"]
    assert -90 <= stats["yaw"]["min"] <= stats["yaw"]["max"] <= 90
    from PIL import Image
    sheet = Image.open(report / "contact_sheet.png")
    size = cfg.render.output.image_size
    assert sheet.size == (cfg.images_per_identity * size, cfg.identities * size)
    for name in ("contact_sheet.png", "pose_hist.png", "expression_hist.png", "age_hist.png"):
        assert str(report / name) in printed and (report / name).stat().st_size > 1000
    # ages (aging is on by default): within the configured range, and the counts of worn things add up
    lo, hi = cfg.gen.aging.base_age.min, cfg.gen.aging.base_age.max
    assert lo <= stats["age"]["min"] <= stats["age"]["max"] <= hi
    assert 0 <= stats["age_span_per_identity"]["max"] <= cfg.gen.aging.span + 1e-3
    for key in ("sex", "hair_style", "glasses", "headwear", "face_mask"):
        assert sum(stats[key].values()) == cfg.total_images
    assert set(stats["sex"]) <= {"female", "male"}


class _FlakyInit:
    """Stands in for the `ray` module in _join: ray.init fails `fails` times, then succeeds."""

    def __init__(self, fails: int):
        self.fails, self.inits, self.shutdowns = fails, 0, 0

    def init(self, address, **kw):
        self.inits += 1
        if self.inits <= self.fails:
            raise ConnectionError("Starting Ray client server failed")

    def shutdown(self):
        self.shutdowns += 1


def test_ray_client_join_is_retried_once(monkeypatch):
    """A ray:// join whose client server did not come up is tried once more; a second failure,
    or a failure joining a plain GCS address, is the caller's error at once."""
    from cluster import job
    monkeypatch.setattr(job.time, "sleep", lambda s: None)
    once = _FlakyInit(1)
    job._join(once, "ray://127.0.0.1:10001", {})
    assert (once.inits, once.shutdowns) == (2, 1)
    twice = _FlakyInit(2)
    with pytest.raises(ConnectionError):
        job._join(twice, "ray://127.0.0.1:10001", {})
    assert twice.inits == 2
    gcs = _FlakyInit(1)
    with pytest.raises(ConnectionError):
        job._join(gcs, "127.0.0.1:6379", {})
    assert gcs.inits == 1


def test_a_units_bytes_do_not_depend_on_the_units_before_it(tmp_path, face_model):
    """An actor that rendered other units first writes the same bytes for a unit as a fresh one.
    (Without a fresh GL context per unit, llvmpipe's state from identity 1's images moved two
    hair-edge pixels of identity 0's image 9 at these defaults.)"""
    from cluster.worker import RenderActor
    cfg = parse_job_config({"seed": 0, "identities": 2, "images_per_identity": 12,
                            "ray": {"unit_identities": 1}})
    d = cfg.model_dump(mode="json")
    for name in ("used", "fresh"):
        (tmp_path / name / TMP_DIR).mkdir(parents=True)
    used = RenderActor(d, str(tmp_path / "used"), "r1")
    list(used.run_unit(1, 1, 2, shard_name(cfg, 1)))
    list(used.run_unit(0, 0, 1, shard_name(cfg, 0)))
    fresh = RenderActor(d, str(tmp_path / "fresh"), "r2")
    list(fresh.run_unit(0, 0, 1, shard_name(cfg, 0)))
    a = pq.read_table(tmp_path / "used" / shard_name(cfg, 0), columns=["image"]).column("image").to_pylist()
    b = pq.read_table(tmp_path / "fresh" / shard_name(cfg, 0), columns=["image"]).column("image").to_pylist()
    assert len(a) == 12 and a == b
    used.maker.close()
    fresh.maker.close()
