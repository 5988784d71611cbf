"""The benchmark job: run plans for each combination, the gain table, and a tiny end-to-end run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.errors import FacesynthError
from core.config import load_yaml_model, parse_model
from recognition import benchmark
from recognition.config import BenchmarkConfig
from recognition.heldout import write_heldout_bin
from recognition.heldout_age import write_cross_age_bin
from testdata import write_parquet

REPO = Path(__file__).resolve().parents[1]
TINY_TRAIN = {"steps": 3, "batch_size": 8, "threads": 1, "num_workers": 0, "input_size": 64, "log_every": 1,
              "model": {"backbone": "mobilefacenet", "width": 0.125, "embedding_size": 32}}


def _cfg(tmp_path, **kw):
    d = {"out": str(tmp_path / "bench"), "real": [{"kind": "parquet", "path": "real"}],
         "synthetic": {"shards": "syn"}, "train": {"epochs": 4, "batch_size": 64}, "heldout": {"enabled": False},
         "heldout_cross_age": {"enabled": False}, "bins": ["cfp_fp.bin"]}
    d.update(kw)
    return parse_model(BenchmarkConfig, d, "bench.yaml")


def test_mix_plan_keeps_real_passes_equal(tmp_path):
    cfg = _cfg(tmp_path, combine="mix", synthetic_ratio=0.25)
    (label_a, [a]), (label_b, [b]) = benchmark.plan_runs(cfg, Path("syn"), seed=1)
    assert (label_a, label_b) == ("Real", "Real + Synthetic")
    assert a.epochs == b.epochs == 4 and a.seed == b.seed == 1
    assert [s.weight for s in b.data.sources] == pytest.approx([0.75, 0.25])
    assert b.data.sources[0].path == "real"  # the epoch is counted on real data
    steps = _cfg(tmp_path, combine="mix", synthetic_ratio=0.5, train={"steps": 100})
    assert benchmark.plan_runs(steps, Path("syn"), 0)[1][1][0].steps == 200


def test_concat_and_pretrain_plans(tmp_path):
    (_, [c]) = benchmark.plan_runs(_cfg(tmp_path, combine="concat"), Path("syn"), 0)[1]
    assert c.data.combine == "concat" and [s.path for s in c.data.sources] == ["real", "syn"]
    (_, [pre, fine]) = benchmark.plan_runs(_cfg(tmp_path, combine="pretrain", pretrain_epochs=2), Path("syn"), 0)[1]
    assert [s.path for s in pre.data.sources] == ["syn"] and pre.epochs == 2
    assert [s.path for s in fine.data.sources] == ["real"] and fine.init_from == str(Path(pre.out) / "final.pt")
    only_syn = _cfg(tmp_path, real=[])
    assert [row for row, _ in benchmark.plan_runs(only_syn, Path("syn"), 0)] == ["Synthetic"]


def test_gain_table_layout():
    rows = {"CASIA-WebFace": {"cfp_fp": [0.9556], "agedb_30": [0.9515]},
            "CASIA-WebFace + synthetic": {"cfp_fp": [0.9712], "agedb_30": [0.9518]}}
    std = {k: {"cfp_fp": 0.01, "agedb_30": 0.02} for k in rows}
    t = benchmark.format_table(rows, ["cfp_fp", "agedb_30"], 1, std, with_gain=True).splitlines()
    assert t[0] == "| Training data | cfp_fp | agedb_30 |"
    assert t[2] == "| CASIA-WebFace | 95.56 ± 1.00 | 95.15 ± 2.00 |"
    assert t[4] == "| gain | +1.56 | +0.03 |"
    seeds = {"A": {"s": [0.9, 0.8, 0.7]}}
    assert "80.00 ± 8.16" in benchmark.format_table(seeds, ["s"], 3, {"A": {"s": 0.0}}, with_gain=False)


def test_benchmark_config_validation(tmp_path):
    with pytest.raises(FacesynthError, match="nothing to evaluate"):
        _cfg(tmp_path, bins=[])
    with pytest.raises(FacesynthError, match="synthetic_ratio"):
        _cfg(tmp_path, synthetic_ratio=1.5)
    with pytest.raises(FacesynthError, match=r"synthetic: .*exactly one of shards or job"):
        _cfg(tmp_path, synthetic={})
    with pytest.raises(FacesynthError, match=r"heldout\.pairs_per_fold"):
        _cfg(tmp_path, heldout={"pairs_per_fold": 7})
    benchmark.load_config(None)  # the embedded default is valid
    load_yaml_model(BenchmarkConfig, REPO / "configs" / "benchmark.yaml")


def test_heldout_job_renders_frontal_and_profiles(tmp_path):
    cfg = parse_model(BenchmarkConfig, {**benchmark.DEFAULT, "out": str(tmp_path)}, "default")
    data = benchmark.heldout_job_data(cfg, train_end=200)
    assert data["identity_start"] == cfg.heldout.identity_offset and data["identities"] == 200
    poses = data["render"]["pose"]["poses"]
    assert data["images_per_identity"] == len(poses) == 3
    assert poses[0][0] == 0 and all(abs(p[0]) >= 60 for p in poses[1:]) and poses[1][0] < 0 < poses[2][0]
    from cluster.config import parse_job_config
    parse_job_config(data, "heldout job")  # the render stage accepts it
    xa = benchmark.cross_age_job(cfg, train_end=200)
    assert xa["identity_start"] == cfg.heldout_cross_age.identity_offset and xa["gen"]["aging"]["span"] >= 40
    late = benchmark.cross_age_job(cfg, train_end=2_500_000)  # after training and frontal-profile ids
    assert late["identity_start"] == 2_500_000 + cfg.heldout.identities
    parse_job_config(xa, "cross-age job")


def test_benchmark_end_to_end_on_given_shards(tmp_path):
    write_parquet(tmp_path / "real" / "r.parquet", 6, 3)
    write_parquet(tmp_path / "syn" / "part-0.parquet", 6, 3, identity_start=1000)
    import pyarrow.parquet as pq
    ho = write_parquet(tmp_path / "ho.parquet", 20, 2, identity_start=5000, yaws=[0.0, 70.0])
    write_heldout_bin(tmp_path / "heldout.bin", pq.read_table(ho), pairs_per_fold=2)
    import pyarrow as pa
    xa = pq.read_table(write_parquet(tmp_path / "xa.parquet", 20, 3, identity_start=6000))
    xa = xa.append_column("age", pa.array([20.0 + 15 * (k % 3) for k in range(xa.num_rows)], pa.float32()))
    write_cross_age_bin(tmp_path / "heldout_cross_age.bin", xa, pairs_per_fold=2)
    write_cross_age_bin(tmp_path / "heldout_cross_age_matched.bin", xa, pairs_per_fold=2, negatives="matched")
    cfg = {"out": str(tmp_path / "bench"), "real": [{"kind": "parquet", "path": str(tmp_path / "real")}],
           "real_name": "RealSet", "synthetic": {"shards": str(tmp_path / "syn")}, "combine": "pretrain",
           "train": TINY_TRAIN, "heldout": {"bin": str(tmp_path / "heldout.bin")},
           "heldout_cross_age": {"bin": [str(tmp_path / "heldout_cross_age.bin"),
                                         str(tmp_path / "heldout_cross_age_matched.bin")],
                                 "negatives": ["gap", "matched"]}}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "benchmark", "--config", str(tmp_path / "b.yaml")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.strip().splitlines()
    assert "Combination: pretrain" in r.stdout
    assert "| Training data | heldout | heldout_cross_age | heldout_cross_age_matched |" in lines
    assert any(ln.startswith("| gain |") for ln in lines)
    doc = json.loads(Path(lines[-1]).read_text())
    assert [run["label"] for run in doc["runs"]] == ["RealSet", "RealSet + Synthetic"]
    assert all(0 <= run["sets"][s]["accuracy_mean"] <= 1 for run in doc["runs"] for s in ("heldout", "heldout_cross_age", "heldout_cross_age_matched"))
    assert (tmp_path / "bench" / "runs" / "real+synthetic-pretrain-s0" / "pretrain" / "final.pt").is_file()
