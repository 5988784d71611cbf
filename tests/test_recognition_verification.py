"""Verification: .bin reading (safely), 10-fold accuracy, TAR@FAR, held-out pairs, `facesynth eval`."""
import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from core.errors import FacesynthError
from recognition import verification as ver
from recognition.heldout import build_pairs, write_heldout_bin
from testdata import encode, face_like


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny MobileFaceNet trained for 30 steps on constructed faces (enough for its BN statistics to settle)."""
    from recognition import train
    from recognition.config import TrainConfig
    from testdata import write_parquet
    d = tmp_path_factory.mktemp("tiny")
    data = write_parquet(d / "d.parquet", 4, 2)
    cfg = TrainConfig.model_validate({
        "out": str(d / "run"), "steps": 30, "batch_size": 8, "threads": 1,
        "model": {"backbone": "mobilefacenet", "width": 0.125, "embedding_size": 32},
        "data": {"sources": [{"kind": "parquet", "path": str(data)}], "num_workers": 0, "input_size": 64}})
    return train.run(cfg, progress=False)


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def test_bin_roundtrip_matches_insightface_loader(tmp_path):
    imgs = [encode(face_like(i, 0)) for i in range(4)]
    ver.write_bin(tmp_path / "s.bin", imgs, [True, False])
    got, issame = ver.read_bin(tmp_path / "s.bin")
    assert got == imgs and issame.tolist() == [True, False]
    # insightface reads with plain pickle and encoding='bytes'; that must give the same lists.
    with open(tmp_path / "s.bin", "rb") as f:
        assert pickle.load(f, encoding="bytes") == (imgs, [True, False])


def test_code_executing_pickle_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "ran.txt"
    evil = tmp_path / "evil.bin"
    evil.write_bytes(pickle.dumps(([b"a", b"b"], [_Exploit(marker)])))
    with pytest.raises(FacesynthError, match="refused"):
        ver.read_bin(evil)
    assert not marker.exists()
    # The same file through the CLI: one line on stderr, exit 2, and still nothing ran.
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "eval", "--checkpoint", "nope.pt", "--bin", str(evil),
                        "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "refused" in r.stderr
    assert not marker.exists() and not (tmp_path / "o").exists()


@pytest.mark.parametrize("obj,msg", [(([b"a"], [True]), "2 per pair"), ((["a", "b"], [True]), "bytes"),
                                     (([b"a", b"b"], [1]), "bools"), ({"x": 1}, "images, issame")])
def test_malformed_bins_are_refused(tmp_path, obj, msg):
    (tmp_path / "m.bin").write_bytes(pickle.dumps(obj))
    with pytest.raises(FacesynthError, match=msg):
        ver.read_bin(tmp_path / "m.bin")
    (tmp_path / "t.bin").write_bytes(b"\x80\x04garbage")
    with pytest.raises(FacesynthError):
        ver.read_bin(tmp_path / "t.bin")


def _pair_embeddings(angles_deg):
    """Two unit vectors per pair at the given angles."""
    rows = []
    for k, a in enumerate(np.radians(angles_deg)):
        base = np.zeros(8)
        base[k % 8] = 1.0
        other = np.zeros(8)
        other[(k + 1) % 8] = 1.0
        rows += [base, np.cos(a) * base + np.sin(a) * other]
    return np.array(rows)


def test_ten_fold_accuracy_on_constructed_pairs():
    # 200 pairs: positives at 20°, negatives at 80°, except 10 positives at 80° (misses) placed in fold 0.
    issame = np.tile([True, False], 100)
    angles = np.where(issame, 20.0, 80.0)
    angles[[0, 2, 4, 6, 8, 10, 12, 14, 16, 18]] = 80.0
    res = ver.evaluate(_pair_embeddings(angles), issame)
    assert res.fold_accuracies[0] == pytest.approx(0.5)
    assert res.fold_accuracies[1:] == pytest.approx([1.0] * 9)
    assert res.accuracy_mean == pytest.approx(0.95)
    assert res.accuracy_std == pytest.approx(np.std([0.5] + [1.0] * 9))
    assert res.tar_at_far["0.001"] == pytest.approx(0.9)  # 90 of 100 positives beat every negative
    assert res.auc == pytest.approx(0.9 + 0.1 * 0.5)  # the 10 misses tie with the negatives


def test_tar_at_far_and_roc():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    issame = np.array([True, False, True, True, False, False])
    fpr, tpr, _ = ver.roc(scores, issame)
    assert fpr.tolist() == pytest.approx([0, 0, 1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    assert tpr.tolist() == pytest.approx([0, 1 / 3, 1 / 3, 2 / 3, 1, 1, 1])
    assert ver.tar_at_far(scores, issame, 1e-3) == pytest.approx(1 / 3)
    assert ver.tar_at_far(scores, issame, 0.34) == pytest.approx(1.0)


def test_heldout_pairs_are_frontal_vs_profile_and_fold_disjoint():
    ids, yaws, images = [], [], []
    for i in range(30):
        for j, y in enumerate([0.0, -70.0, 65.0, 30.0]):
            ids.append(i)
            yaws.append(y)
            images.append(f"{i}:{y}".encode())
    imgs, issame = build_pairs(images, np.array(ids), np.array(yaws), pairs_per_fold=6, seed=1)
    assert len(issame) == 60 and len(imgs) == 120
    assert imgs == build_pairs(images, np.array(ids), np.array(yaws), 6, seed=1)[0]
    fold_ids = []
    for f in range(10):
        pairs = [(imgs[2 * k].decode().split(":"), imgs[2 * k + 1].decode().split(":")) for k in range(6 * f, 6 * f + 6)]
        same = issame[6 * f:6 * f + 6]
        assert sum(same) == 3
        for (ia, ya), (ib, yb) in pairs:
            assert float(ya) == 0.0 and abs(float(yb)) >= 60  # never the 30° image
        assert all((ia == ib) == s for ((ia, _), (ib, _)), s in zip(pairs, same))
        fold_ids.append({p[0][0] for p in pairs} | {p[1][0] for p in pairs})
    assert all(not (fold_ids[a] & fold_ids[b]) for a in range(10) for b in range(a + 1, 10))
    with pytest.raises(FacesynthError, match="identities"):
        build_pairs(images[:40], np.array(ids[:40]), np.array(yaws[:40]), 6)


def test_eval_cli_on_constructed_bin_gives_expected_accuracy(tmp_path, tiny_checkpoint):
    # 40 pairs: positives are the same image (angle 0); negatives are images of two different
    # identities, except 4 "negatives" that are the same image twice: always wrong.
    imgs, issame = [], []
    for k in range(40):
        pos = k % 2 == 0
        a = encode(face_like(k, 0))
        b = a if pos or k in (1, 11, 21, 31) else encode(face_like(1000 + k, 0))
        imgs += [a, b]
        issame.append(pos)
    ver.write_bin(tmp_path / "constructed.bin", imgs, issame)
    out = tmp_path / "eval"
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "eval", "--checkpoint", str(tiny_checkpoint),
                        "--bin", str(tmp_path / "constructed.bin"), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "results.json").read_text())
    res = doc["sets"]["constructed"]
    # Folds of 4 pairs; the mislabelled pairs sit in folds 0, 2, 5 and 7 (pairs 1, 11, 21, 31): 3/4 there.
    assert res["fold_accuracies"] == pytest.approx([0.75, 1, 0.75, 1, 1, 0.75, 1, 0.75, 1, 1])
    assert res["accuracy_mean"] == pytest.approx(0.9)
    assert "| constructed | 40 | 90.00 ± 12.25 |" in (out / "results.md").read_text()
    assert (out / "angles_constructed.png").stat().st_size > 1000
    assert res["mean_angle_positive"] < 1.0 < res["mean_angle_negative"]


def test_pair_list_eval(tmp_path, tiny_checkpoint):
    from PIL import Image

    from recognition import eval as ev
    for i in range(4):
        Image.fromarray(face_like(i, 0)).save(tmp_path / f"{i}.png")
    lines = [f"{a}.png {b}.png {int(a == b)}" for a in range(4) for b in range(4)] * 2
    (tmp_path / "pairs.txt").write_text("\n".join(lines) + "\n")
    doc = ev.run(str(tiny_checkpoint), [], [str(tmp_path / "pairs.txt")], tmp_path / "o")
    assert doc["sets"]["pairs"]["n_pairs"] == 32
    (tmp_path / "bad.txt").write_text("0.png 1.png maybe\n")
    with pytest.raises(FacesynthError, match="bad.txt:1"):
        ev.run(str(tiny_checkpoint), [], [str(tmp_path / "bad.txt")], tmp_path / "o2")


def test_heldout_bin_from_table(tmp_path):
    import pandas as pd
    rows = [{"image": encode(face_like(i, j)), "identity": i, "yaw": y}
            for i in range(20) for j, y in enumerate([0.0, 75.0])]
    p = write_heldout_bin(tmp_path / "h.bin", pd.DataFrame(rows), pairs_per_fold=2)
    imgs, issame = ver.read_bin(p)
    assert len(issame) == 20 and issame.sum() == 10


def test_best_threshold_is_exact_on_a_narrow_band():
    # A weak model: every distance within 0.02 of each other, positives slightly closer.
    dist = np.array([0.010, 0.012, 0.013, 0.021, 0.022, 0.0125])
    issame = np.array([True, True, False, False, False, True])
    t = ver.best_threshold(dist, issame)
    assert 0.0125 < t < 0.0126  # just above the last accepted distance, like insightface
    assert np.mean((dist < t) == issame) == 1.0
    assert ver.best_threshold(np.array([0.5, 0.5]), np.array([True, False])) in (0.5, np.nextafter(0.5, 1))
