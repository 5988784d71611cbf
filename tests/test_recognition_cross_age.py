"""The cross-age (AgeDB-30-like) held-out set: pairs meet the age gap, folds are identity-disjoint,
the bytes are a pure function of (rows, seed, config), and its config is validated."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from gen.aging.ages import image_age
from recognition import benchmark
from recognition.config import BenchmarkConfig, HeldoutCrossAgeConfig
from recognition.heldout_age import build_age_pairs, cross_age_job_data, write_cross_age_bin
from recognition.verification import N_FOLDS, folds, read_bin
from testdata import write_parquet

IDS, START = 40, 2_000_000


def _job(h: HeldoutCrossAgeConfig):
    """The held-out job, as the generator parses it."""
    from cluster.config import parse_job_config
    job = parse_job_config(cross_age_job_data(h, {"seed": 3, "identities": 1, "images_per_identity": 1}, 0), "job")
    return job


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Rows as the renderer writes them for the default cross-age job: image, identity,
    image_index, and the age gen/aging gives image j of identity i."""
    job = _job(HeldoutCrossAgeConfig(identities=IDS))
    path = write_parquet(tmp_path_factory.mktemp("xa") / "part-0.parquet", IDS, job.images_per_identity,
                         identity_start=START, size=64)
    t = pq.read_table(path)
    ages = [image_age(job.gen.aging, job.seed, int(i), int(j))[1]
            for i, j in zip(t["identity"].to_pylist(), t["image_index"].to_pylist())]
    return t.append_column("age", pa.array(ages, pa.float32()))


def _read_back(bin_path, table):
    """(identity, age) of both images of every pair, found by the image bytes."""
    images, issame = read_bin(bin_path)
    rows = {bytes(b): k for k, b in enumerate(table["image"].to_pylist())}
    assert len(rows) == table.num_rows  # every image is unique, so bytes identify rows
    k = np.array([rows[bytes(b)] for b in images]).reshape(-1, 2)
    ident, age = table["identity"].to_numpy()[k], table["age"].to_numpy()[k]
    return ident, age, issame


def test_default_job_spans_the_gap_for_every_identity():
    h = HeldoutCrossAgeConfig()
    job = _job(h)
    assert job.gen.aging.enabled and job.gen.aging.span >= 40 and job.images_per_identity == h.stages
    assert job.identity_start == h.identity_offset and max(abs(job.render.pose.yaw.min), job.render.pose.yaw.max) <= 20
    for i in range(50):
        ages = sorted(image_age(job.gen.aging, job.seed, i, j)[1] for j in range(job.images_per_identity))
        assert len(set(ages)) == h.stages and ages[-1] - ages[0] >= h.min_age_gap
        assert h.min_age <= ages[0] and ages[-1] <= h.max_age


def test_pairs_meet_the_age_gap(tmp_path, dataset):
    path = write_cross_age_bin(tmp_path / "xa.bin", dataset, pairs_per_fold=20, min_age_gap=30)
    ident, age, issame = _read_back(path, dataset)
    gap = np.abs(age[:, 0] - age[:, 1])
    assert len(issame) == 20 * N_FOLDS
    assert (ident[issame, 0] == ident[issame, 1]).all() and (gap[issame] >= 29.98).all()
    assert (ident[~issame, 0] != ident[~issame, 1]).all() and (gap[~issame] >= 29.98).all()
    seen = set()
    for f in folds(len(issame)):  # the folds insightface scores: half positive, identities disjoint
        assert issame[f].sum() == 10
        fold_ids = set(ident[f].ravel().tolist())
        assert not fold_ids & seen
        seen |= fold_ids
    positives = {tuple(sorted(p)) for p in age[issame].tolist()}
    assert len(positives) > 1  # not one pair repeated


def test_matched_and_any_negatives(tmp_path, dataset):
    path = write_cross_age_bin(tmp_path / "m.bin", dataset, pairs_per_fold=20, negatives="matched", matched_max_gap=5)
    ident, age, issame = _read_back(path, dataset)
    gap = np.abs(age[:, 0] - age[:, 1])
    assert (gap[~issame] <= 5.02).all() and (gap[issame] >= 29.98).all()
    ident, age, issame = _read_back(write_cross_age_bin(tmp_path / "a.bin", dataset, 20, negatives="any"), dataset)
    assert (ident[~issame, 0] != ident[~issame, 1]).all()


def test_same_bytes_whatever_the_row_order(tmp_path, dataset):
    a = write_cross_age_bin(tmp_path / "a.bin", dataset, pairs_per_fold=20).read_bytes()
    b = write_cross_age_bin(tmp_path / "b.bin", dataset, pairs_per_fold=20).read_bytes()
    shuffled = dataset.take(np.random.default_rng(0).permutation(dataset.num_rows))
    c = write_cross_age_bin(tmp_path / "c.bin", shuffled, pairs_per_fold=20).read_bytes()
    assert a == b == c
    assert write_cross_age_bin(tmp_path / "d.bin", dataset, pairs_per_fold=20, seed=1).read_bytes() != a


def test_unbuildable_sets_are_one_line_errors(tmp_path, dataset):
    ident, age = dataset["identity"].to_numpy(), dataset["age"].to_numpy()
    with pytest.raises(FacesynthError, match="identities have two images >= 50"):
        build_age_pairs(ident, age, 20, min_age_gap=50)
    with pytest.raises(FacesynthError, match="positive pairs"):
        build_age_pairs(ident, age, 200)
    with pytest.raises(FacesynthError, match="no age"):
        build_age_pairs(ident, np.full(len(age), np.nan), 20)
    with pytest.raises(FacesynthError, match="lack column 'age'"):
        write_cross_age_bin(tmp_path / "x.bin", dataset.drop(["age"]), 20)
    assert not (tmp_path / "x.bin").exists()


def test_config_validation():
    for bad, msg in (({"pairs_per_fold": 7}, "even"), ({"span": 20}, "min_age_gap"),
                     ({"min_age": 40, "max_age": 60}, "max_age - min_age"), ({"negatives": "young"}, "negatives"),
                     ({"identities": 5}, "identities"), ({"stages": 1}, "stages"), ({"agegap": 30}, "unknown key"),
                     ({"negatives": ["gap", "gap"]}, "each kind once"), ({"negatives": []}, "each kind once"),
                     ({"negatives": ["gap", "matched"], "bin": "xa.bin"}, "one .bin per kind"),
                     ({"negatives": "gap", "bin": ["a.bin", "b.bin"]}, "one .bin per kind")):
        with pytest.raises(FacesynthError, match=msg):
            parse_model(HeldoutCrossAgeConfig, bad, "heldout_cross_age")
    base = {"synthetic": {"shards": "syn"}, "train": {"epochs": 1}, "heldout": {"bin": "h.bin"}}
    with pytest.raises(FacesynthError, match="heldout_cross_age needs"):
        parse_model(BenchmarkConfig, base, "b.yaml")
    parse_model(BenchmarkConfig, {**base, "heldout_cross_age": {"bin": "xa.bin"}}, "b.yaml")
    two = parse_model(HeldoutCrossAgeConfig, {"negatives": ["gap", "matched"], "bin": ["a.bin", "b.bin"]}, "x")
    assert two.kinds == ["gap", "matched"] and two.bins == ["a.bin", "b.bin"]
    default = benchmark.load_config(None).heldout_cross_age
    assert default.enabled and default.span >= 40 and default.min_age_gap == 30


def test_each_kind_of_negatives_has_its_own_bin(tmp_path):
    """A .bin's name says its kind of negatives whatever the order in the config, so a cached
    set is never reused for another kind (gap keeps the plain name)."""
    out = tmp_path / "bench"
    out.mkdir()
    for name in ("heldout_cross_age.bin", "heldout_cross_age_matched.bin"):
        (out / name).write_bytes(b"cached")
    cfg = parse_model(BenchmarkConfig, {
        "out": str(out), "synthetic": {"shards": "syn"}, "train": {"epochs": 1}, "heldout": {"bin": "h.bin"},
        "heldout_cross_age": {"job": {"identities": 10}, "negatives": ["matched", "gap"]}}, "b.yaml")
    paths = benchmark.cross_age_bins(cfg, train_end=10)
    assert [p.name for p in paths] == ["heldout_cross_age_matched.bin", "heldout_cross_age.bin"]
    assert all(p.read_bytes() == b"cached" for p in paths)
