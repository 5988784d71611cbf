"""Training: resume determinism, the smoke config through the CLI, Ray Train wiring, configs, embed."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from core.errors import FacesynthError
from core.config import load_yaml_model, parse_model
from recognition import checkpoint as ckpt
from recognition import train
from recognition.backbones import build_backbone
from recognition.config import OptimConfig, TrainConfig
from recognition.losses import MarginHead
from testdata import write_parquet

REPO = Path(__file__).resolve().parents[1]


def _cfg(tmp_path, out, data_path, workers=0, **kw):
    d = {"out": str(tmp_path / out), "steps": 4, "batch_size": 8, "threads": 1, "log_every": 1,
         "model": {"backbone": "mobilefacenet", "width": 0.125, "embedding_size": 32, "dropout": 0.2},
         "optim": {"lr": 0.05, "warmup_epochs": 0.5},
         "data": {"sources": [{"kind": "parquet", "path": str(data_path)}], "num_workers": workers,
                  "input_size": 64}}
    d.update(kw)
    return TrainConfig.model_validate(d)


def test_resume_gives_same_weights_as_uninterrupted_run(tmp_path):
    data = write_parquet(tmp_path / "d.parquet", 6, 3)
    straight = train.run(_cfg(tmp_path, "a", data), progress=False)
    half = train.run(_cfg(tmp_path, "b", data), stop_at=2, progress=False)
    assert half.name == "step-00000002.pt"
    # Resume with a DataLoader worker process this time: the data a step sees must not change.
    resumed = train.run(_cfg(tmp_path, "b", data, workers=1), progress=False)
    a, b = ckpt.load(straight), ckpt.load(resumed)
    assert a["step"] == b["step"] == 4
    for part in ("backbone", "head"):
        assert a[part].keys() == b[part].keys()
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    # and training really changed the weights
    fresh = build_backbone("mobilefacenet", 32, 0.125, 0.2, 64).state_dict()
    assert not torch.equal(fresh["linear.weight"], a["backbone"]["linear.weight"])
    # A different config in the same out directory is refused rather than mixed in.
    with pytest.raises(FacesynthError, match="different config"):
        train.run(_cfg(tmp_path, "b", data, seed=1), progress=False)


def test_smoke_config_trains_and_prints_checkpoint_last(tmp_path):
    data = write_parquet(tmp_path / "smoke" / "part-0.parquet", 8, 4)
    cfg = yaml.safe_load((REPO / "configs" / "smoke-train.yaml").read_text())
    cfg["data"]["sources"][0]["path"] = str(tmp_path / "smoke")
    (tmp_path / "smoke.yaml").write_text(yaml.safe_dump(cfg))
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "train", "--config", str(tmp_path / "smoke.yaml"),
                        "--out", str(tmp_path / "run")], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    last = r.stdout.strip().splitlines()[-1]
    assert Path(last) == tmp_path / "run" / "final.pt" and Path(last).is_file()
    state = ckpt.load(last)
    assert state["step"] == cfg["steps"] and state["num_classes"] == 8
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    assert len(log) == cfg["steps"] // cfg["log_every"] and '"images_per_s"' in log[-1]
    # embed with the trained checkpoint
    from PIL import Image

    from testdata import face_like
    for i in range(3):
        Image.fromarray(face_like(i, 0)).save(tmp_path / f"{i}.jpg")
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "embed", "--checkpoint", last, str(tmp_path / "0.jpg"),
                        str(tmp_path / "1.jpg"), str(tmp_path / "2.jpg"), "--out", str(tmp_path / "e.parquet")],
                       capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr[-2000:]
    import pyarrow.parquet as pq
    t = pq.read_table(tmp_path / "e.parquet")
    emb = np.array(t.column("embedding").to_pylist())
    assert emb.shape == (3, cfg["model"]["embedding_size"]) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-5)


def test_train_config_errors_name_the_key(tmp_path):
    base = {"out": "o", "steps": 1, "data": {"sources": [{"kind": "parquet", "path": "x"}]}}
    with pytest.raises(FacesynthError, match=r"model\.widht: unknown key"):
        parse_model(TrainConfig, {**base, "model": {"widht": 1}}, "t.yaml")
    with pytest.raises(FacesynthError, match=r"data\.sources\.0\.kind"):
        parse_model(TrainConfig, {**base, "data": {"sources": [{"kind": "lmdb", "path": "x"}]}}, "t.yaml")
    with pytest.raises(FacesynthError, match=r"model\.backbone"):
        parse_model(TrainConfig, {**base, "model": {"backbone": "resnet9"}}, "t.yaml")
    with pytest.raises(FacesynthError, match="epochs or steps"):
        parse_model(TrainConfig, {"out": "o", "data": base["data"]}, "t.yaml")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({**base, "optim": {"lr": -1}}))
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "train", "--config", str(tmp_path / "bad.yaml")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "optim.lr" in r.stderr
    (tmp_path / "missing.yaml").write_text(yaml.safe_dump(base))
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "train", "--config", str(tmp_path / "missing.yaml")],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "not found" in r.stderr and not (tmp_path / "o").exists()
    load_yaml_model(TrainConfig, REPO / "configs" / "smoke-train.yaml")  # the shipped config is valid


def test_lr_schedules():
    poly = OptimConfig(lr=1.0, warmup_epochs=1, poly_power=2)
    lrs = [train.lr_at(s, 30, 10, poly) for s in range(30)]
    assert lrs[:3] == pytest.approx([0.1, 0.2, 0.3]) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[20] == pytest.approx(0.25) and all(np.diff(lrs[10:]) < 0)
    step = OptimConfig(lr=1.0, schedule="step", milestones=[1, 2], gamma=0.1)
    assert [train.lr_at(s, 30, 10, step) for s in (0, 9, 10, 19, 20)] == pytest.approx([1, 1, 0.1, 0.1, 0.01])


@pytest.mark.parametrize("name", ["iresnet18", "iresnet34", "iresnet50", "iresnet100", "mobilefacenet"])
def test_backbones_give_embeddings(name):
    net = build_backbone(name, 64, width=0.125).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 112, 112)).shape == (2, 64)


def test_iresnet50_matches_published_size():
    n = sum(p.numel() for p in build_backbone("iresnet50").parameters())
    assert 43.0e6 < n < 44.2e6  # arcface_torch's r50 with the 512-D head: ~43.6M parameters


def test_margin_heads():
    torch.manual_seed(0)
    head = MarginHead(4, 3, "arcface", scale=64, margin=0.5)
    emb, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 0, 1])
    cos = torch.nn.functional.linear(torch.nn.functional.normalize(emb), torch.nn.functional.normalize(head.weight))
    logits = head.logits(emb, y)
    theta = torch.arccos(cos.gather(1, y[:, None]))
    want = torch.where(theta + 0.5 < np.pi, torch.cos(theta + 0.5), cos.gather(1, y[:, None]) - np.sin(np.pi - 0.5) * 0.5)
    assert torch.allclose(logits.gather(1, y[:, None]) / 64, want, atol=1e-5)
    other = torch.ones_like(cos, dtype=torch.bool).scatter(1, y[:, None], False)
    assert torch.allclose(logits[other] / 64, cos[other], atol=1e-6)
    cf = MarginHead(4, 3, "cosface")
    cf.weight.data = head.weight.data
    assert cf.margin == 0.35
    assert torch.allclose(cf.logits(emb, y).gather(1, y[:, None]) / 64, cos.gather(1, y[:, None]) - 0.35, atol=1e-5)


def test_ray_trainer_wiring(tmp_path):
    from ray.train.torch import TorchTrainer

    from recognition import ray_train
    cfg = _cfg(tmp_path, "r", tmp_path / "x.parquet",
               ray={"enabled": True, "num_workers": 2, "use_gpu": False, "cpus_per_worker": 1})
    t = ray_train.trainer_for(cfg)
    assert isinstance(t, TorchTrainer)
    assert TrainConfig.model_validate(t.train_loop_config["config"]) == cfg
    with pytest.raises(FacesynthError, match="divisible"):
        ray_train.run(cfg.model_copy(update={"batch_size": 9}))


@pytest.mark.slow
def test_ray_train_one_cpu_worker_matches_single_process(tmp_path):
    from recognition import ray_train
    data = write_parquet(tmp_path / "d.parquet", 4, 2)
    plain = train.run(_cfg(tmp_path, "plain", data, steps=2), progress=False)
    cfg = _cfg(tmp_path, "ray", data, steps=2, ray={"enabled": True, "num_workers": 1, "use_gpu": False,
                                                     "cpus_per_worker": 1})
    path = ray_train.run(cfg)
    assert path == tmp_path / "ray" / "final.pt"
    a, b = ckpt.load(plain), ckpt.load(path)
    assert all(torch.equal(a["backbone"][k], b["backbone"][k]) for k in a["backbone"])
