"""The dlib face-identity judge: metrics on constructed embeddings, dlib's 5 points from the 68,
real embeddings of a real face (scikit-image's astronaut photo), the real-photo folder path and
the CLI's one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from recognition.judge import metrics

REPO = Path(__file__).resolve().parents[1]


def _line_embeddings(xs) -> np.ndarray:
    """Embeddings on one axis of the 128-D space: distances are |x_i - x_j|."""
    e = np.zeros((len(xs), 128), np.float32)
    e[:, 0] = xs
    return e


# ---- metrics on constructed embeddings ---------------------------------------------------------
def test_far_tar_eer_uniqueness_on_constructed_embeddings():
    # A at 0, 0.1; B at 1.0, 1.1; C at 0.5, 0.55 (distances worked out by hand below)
    emb = _line_embeddings([0.0, 0.1, 1.0, 1.1, 0.5, 0.55])
    labels = np.array([0, 0, 1, 1, 2, 2])
    m, dist = metrics.compute(emb, labels)
    assert sorted(np.round(dist["genuine"], 6)) == [0.05, 0.1, 0.1]
    assert m["tar"] == 1.0
    # impostor pairs: A-B 1.0 1.1 0.9 1.0 (none < 0.6); A-C 0.5 0.55 0.4 0.45 (all);
    # B-C 0.5 0.6 0.45 0.55 (three: 0.6 itself is not below the threshold)
    assert len(dist["impostor"]) == 12
    assert m["far"] == pytest.approx(7 / 12)
    # means A 0.05, B 1.05, C 0.525: only A-B lies more than 0.6 apart
    assert m["uniqueness"] == pytest.approx(1 / 3)
    assert m["identities_with_a_twin"] == 1.0  # every mean has another within 0.6
    # genuine <= 0.1 < 0.4 <= impostor: separable, so the EER is 0
    assert m["eer"] == 0.0
    assert 0.1 < m["eer_threshold"] <= 0.4
    assert m["impostor"]["mean"] == pytest.approx(np.mean([1.0, 1.1, 0.9, 1.0, 0.5, 0.55, 0.4, 0.45,
                                                           0.5, 0.6, 0.45, 0.55]), abs=1e-6)
    assert m["impostor_pairs_sampled"] is False
    assert m["closest_identity_pairs"][0] == [0, 2, pytest.approx(0.475)]
    assert [p[:2] for p in m["closest_identity_pairs"]] == [[0, 2], [1, 2], [0, 1]]


def test_uniqueness_does_not_depend_on_the_block_size():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(20), 2)
    spread = np.linspace(0.2, 1.2, 20)[labels, None]  # identities from crowded to far apart
    emb = (rng.normal(0, 1, (40, 128)) / np.sqrt(128) * spread).astype(np.float32)
    whole = metrics.uniqueness(emb, labels, 0.6, chunk=1000)
    _, means = metrics.identity_means(emb, labels)
    d = np.linalg.norm(means[:, None] - means[None], axis=2)[np.triu_indices(20, k=1)]
    assert 0 < whole["uniqueness"] < 1 and whole["uniqueness"] == pytest.approx((d > 0.6).mean())
    assert whole["closest_identity_pairs"][0][2] == pytest.approx(d.min())
    assert metrics.uniqueness(emb, labels, 0.6, chunk=3) == whole


def test_eer_where_the_distributions_overlap():
    rate, t = metrics.eer(np.array([0.1, 0.2, 0.3, 0.7]), np.array([0.5, 0.8, 0.9, 1.0]))
    # any t in (0.5, 0.7]: one impostor accepted (1/4), one genuine rejected (1/4)
    assert rate == pytest.approx(0.25)
    assert 0.5 < t <= 0.7
    assert metrics.eer(np.array([]), np.array([1.0])) == (None, None)


def test_impostor_sampling_is_seeded_and_never_pairs_one_identity():
    labels = np.repeat(np.arange(50), 4)
    i1, j1 = metrics.impostor_pairs(labels, max_pairs=500, seed=3)
    i2, j2 = metrics.impostor_pairs(labels, max_pairs=500, seed=3)
    i3, _ = metrics.impostor_pairs(labels, max_pairs=500, seed=4)
    assert len(i1) == 500 and np.array_equal(i1, i2) and np.array_equal(j1, j2)
    assert not np.array_equal(i1, i3)
    assert np.all(labels[i1] != labels[j1]) and np.all(i1 < j1)
    # few enough pairs: all of them, exactly once
    i, j = metrics.impostor_pairs(np.array([0, 0, 1, 2]), max_pairs=100)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_consistency_pairs_each_image_with_the_most_frontal_one():
    # identity 0: frontal (yaw 2) at 0; yaw 20 at 0.3; yaw -50 at 0.8; identity 1 likewise
    # but its yaw-20 image is expressive and 0.7 away
    emb = _line_embeddings([0.3, 0.0, 0.8, 5.0, 5.7, 5.8])
    labels = np.array([0, 0, 0, 1, 1, 1])
    yaw = np.array([20.0, 2.0, -50.0, -1.0, 25.0, 61.0])
    expr = np.zeros((6, 3))
    expr[4, 1] = 0.8
    age = np.array([30.0, 33.0, 60.0, 20.0, 21.0, 30.0])
    assert metrics.reference_images(labels, yaw).tolist() == [1, 1, 1, 3, 3, 3]
    c = metrics.consistency(emb, labels, yaw, 0.6, expression=expr, age=age)
    assert c["pairs"] == 4
    by_yaw = c["by_abs_yaw"]
    assert by_yaw["15-30"] == {"pairs": 2, "tar": 0.5, "mean_distance": pytest.approx(0.5)}
    assert by_yaw["45-60"]["tar"] == 0.0 and by_yaw["60-90"]["tar"] == 0.0
    assert by_yaw["0-15"]["pairs"] == 0 and by_yaw["0-15"]["tar"] is None
    assert c["by_expression"]["neutral"]["pairs"] == 3
    assert c["by_expression"]["expressive"] == {"pairs": 1, "tar": 0.0, "mean_distance": pytest.approx(0.7)}
    # age gaps to the reference: 3, 27, 1, 10
    assert {k: v["pairs"] for k, v in c["by_age_gap"].items()} == {"<5": 2, "5-20": 1, ">=20": 1}
    assert c["by_age_gap"]["<5"]["tar"] == 0.5  # gap 3 at 0.3 accepted, gap 1 at 0.7 not
    glasses = np.array(["none", "none", "round", "none", "round", "round"])
    by = metrics.consistency(emb, labels, yaw, 0.6, categories={"glasses": glasses})["by_glasses"]
    assert by == {"none": {"pairs": 1, "tar": 1.0, "mean_distance": pytest.approx(0.3)},
                  "round": {"pairs": 3, "tar": 0.0, "mean_distance": pytest.approx((0.8 + 0.7 + 0.8) / 3)}}


def test_cross_age_splits_genuine_pairs_by_gap_and_impostors_by_age():
    # identity 0 at 20, 22, 50 (x 0, 0.1, 0.5); identity 1 at 70, 72 (x 0.2, 1.5); identity 2 at 40 (x 3)
    emb = _line_embeddings([0.0, 0.1, 0.5, 0.2, 1.5, 3.0])
    labels = np.array([0, 0, 0, 1, 1, 2])
    age = np.array([20.0, 22.0, 50.0, 70.0, 72.0, 40.0])
    m, _ = metrics.compute(emb, labels, age=age)
    c = m["cross_age"]
    gen = c["genuine_by_age_gap"]
    # genuine pairs: (20, 22) gap 2 at 0.1, (70, 72) gap 2 at 1.3; (20, 50) gap 30 at 0.5, (22, 50) gap 28 at 0.4
    assert gen["<5"] == {"pairs": 2, "tar": 0.5, "mean_distance": pytest.approx(0.7)}
    assert gen["5-20"]["pairs"] == 0 and gen["5-20"]["tar"] is None
    assert gen[">=20"] == {"pairs": 2, "tar": 1.0, "mean_distance": pytest.approx(0.45)}
    assert c["aging_effect"] == pytest.approx(0.45 - 0.7)
    far = c["far_by_age"]
    assert list(far) == ["<35", "35-50", "50-65", ">=65"] and list(far["50-65"]) == ["50-65", ">=65"]
    # impostors with the 70-year-old at x 0.2: the 20-, 22- and 50-year-olds are within 0.6
    assert far["<35"][">=65"] == {"pairs": 4, "far": 0.5}  # 20/70, 22/70 accepted; 20/72, 22/72 not
    assert far["50-65"][">=65"] == {"pairs": 2, "far": 0.5}
    assert far["35-50"]["50-65"] == {"pairs": 1, "far": 0.0}
    assert far["<35"]["35-50"]["pairs"] == 2 and far[">=65"][">=65"] == {"pairs": 0, "far": None}
    assert sum(v["pairs"] for row in far.values() for v in row.values()) == m["impostor"]["count"]
    # no ages (aging off: NaN) gives no cross-age section, and the report prints one only when there is one
    from recognition.judge import report
    assert "cross_age" not in metrics.compute(emb, labels, age=np.full(6, np.nan))[0]
    assert "FAR by ages (younger image, older image): <35/<35 -" not in report.table(m)
    assert "<35/>=65 50.0%" in report.table(m) and "aging effect -0.250" in report.table(m)


def test_impostor_rate_is_split_by_sex():
    # identities 0, 1 female at x = 0 and 0.5; 2, 3 male at x = 3 and 3.4: only same-sex pairs are close
    emb = np.array([[0.0, 0], [0.5, 0], [3.0, 0], [3.4, 0]]).repeat(2, 0)
    labels = np.arange(4).repeat(2)
    sex = np.array(["female", "female", "male", "male"]).repeat(2)
    m, _ = metrics.compute(emb, labels, categories={"sex": sex})
    assert m["far_same_sex"] == 1.0 and m["far_cross_sex"] == 0.0
    assert m["far"] == pytest.approx(8 / 24)
    assert "far_same_sex" not in metrics.compute(emb, labels)[0]


# ---- dlib's five points and real embeddings on a real face ---------------------------------------
@pytest.fixture(scope="module")
def astronaut():
    skimage_data = pytest.importorskip("skimage.data")
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def astronaut_68(astronaut):
    """dlib's own 68 points on the astronaut (its detector + 68-point predictor)."""
    import dlib
    from render.judges.face_id import models_dir
    box = dlib.get_frontal_face_detector()(astronaut, 1)[0]
    sp68 = dlib.shape_predictor(str(models_dir() / "shape_predictor_68_face_landmarks.dat"))
    sp5 = dlib.shape_predictor(str(models_dir() / "shape_predictor_5_face_landmarks.dat"))
    pts = lambda s: np.array([(p.x, p.y) for p in s.parts()], np.float64)  # noqa: E731
    return pts(sp68(astronaut, box)), pts(sp5(astronaut, box))


def test_five_points_from_68_match_dlibs_5_point_predictor(astronaut_68):
    from render.judges.face_id import dlib5_from_68
    p68, p5 = astronaut_68
    derived = dlib5_from_68(p68)
    assert derived.shape == (5, 2)
    assert np.abs(derived - p5).max() <= 2.0  # same corners, same order
    assert np.array_equal(dlib5_from_68(p68.ravel()), derived)  # the flat record layout too
    with pytest.raises(ValueError):
        dlib5_from_68(np.zeros((5, 2)))


def _crop(image, landmarks, x0, y0, side, size=112):
    """A square crop (like a 112 px record) and the landmarks in its pixels."""
    s = size / side
    m = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]])
    crop = cv2.warpAffine(image, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return crop, landmarks * s + m[:, 2]


@pytest.fixture(scope="module")
def judge():
    from render.judges.face_id import FaceIdJudge
    return FaceIdJudge()


def test_real_face_embeds_stably_under_shift_and_scale(astronaut, astronaut_68, judge):
    p68, _ = astronaut_68
    a, la = _crop(astronaut, p68, 160, 60, 120)
    b, lb = _crop(astronaut, p68, 150, 66, 138)  # shifted and 15% wider
    emb = judge.embed_crops([a, a, b], [la, la, lb])
    assert emb.shape == (3, 128) and emb.dtype == np.float32
    assert 0.5 < np.linalg.norm(emb[0]) < 2.0  # a real descriptor, not zeros
    d = np.linalg.norm(emb[0] - emb[1:], axis=1)
    assert d[0] < 1e-4  # same image, same embedding
    assert d[1] < 0.45  # same person, other framing: well inside dlib's 0.6
    # an embedding does not depend on what else is in the batch (the identity filter relies on it)
    assert np.array_equal(judge.embed_crops([b, a], [lb, la])[1], emb[0])
    # the mirror image is still the same person
    mirrored = np.c_[111 - la[:, 0], la[:, 1]][_MIRROR68]
    flipped = judge.embed_crops([np.ascontiguousarray(a[:, ::-1])], [mirrored])
    assert np.linalg.norm(flipped[0] - emb[0]) < 0.6


# iBUG-68 left/right mirror permutation: point k of the mirrored face is point _MIRROR68[k].
_MIRROR68 = np.array(list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30]
                     + [35, 34, 33, 32, 31] + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
                     + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


def test_photo_path_finds_the_face_with_mtcnn(astronaut, astronaut_68, judge):
    p68, p5 = astronaut_68
    pts = judge.photo_points(astronaut)
    assert pts is not None and np.abs(pts - p5).max() <= 3.0
    assert judge.photo_points(np.full((200, 200, 3), 128, np.uint8)) is None
    emb, found = judge.embed_photos([astronaut])
    ref = judge.embed_crops(*[[x] for x in _crop(astronaut, p68, 160, 60, 120)])
    assert found.tolist() == [True] and np.linalg.norm(emb[0] - ref[0]) < 0.4


# ---- the folder-of-photos path and the CLI -------------------------------------------------------
def test_judge_a_folder_of_real_photos(tmp_path, astronaut, astronaut_68):
    from recognition.judge import judge as run_judge
    p68, _ = astronaut_68
    photos = tmp_path / "photos"
    for person, boxes in (("anna", [(160, 60, 120), (150, 66, 138)]), ("bert", [(170, 54, 110)])):
        (photos / person).mkdir(parents=True)
        for k, (x, y, s) in enumerate(boxes):
            crop, _ = _crop(astronaut, p68, x, y, s, size=160)
            cv2.imwrite(str(photos / person / f"{k}.png"), crop[:, :, ::-1])
    cv2.imwrite(str(photos / "bert" / "blank.jpg"), np.full((160, 160, 3), 90, np.uint8))
    out = tmp_path / "report"
    doc = run_judge(str(photos), out=str(out), real=True)
    m = doc["metrics"]
    assert m["images"] == 3 and m["identities"] == 2 and m["images_without_face"] == 1
    assert m["tar"] == 1.0 and m["far"] == 1.0  # one real person filed under two names
    assert m["uniqueness"] == 0.0 and "consistency" not in m
    saved = json.loads((out / "judge.json").read_text())
    assert saved["metrics"]["far"] == 1.0 and (out / "distances.png").stat().st_size > 1000
    # the closest pair drawn from each person's first photo with a face (bert's blank one has none)
    from PIL import Image, ImageOps
    sheet = np.asarray(Image.open(out / "closest.png").convert("RGB"))
    assert sheet.shape == (112 + 16, 2 * 224 + 6, 3)
    for k, person in enumerate(("anna", "bert")):
        face = np.asarray(ImageOps.fit(Image.open(photos / person / "0.png").convert("RGB"), (112, 112)))
        assert np.array_equal(sheet[16:, k * 112:(k + 1) * 112], face)
    cache = out / "embeddings.parquet"
    stamp = cache.stat().st_mtime_ns
    again = run_judge(str(photos), out=str(out), real=True)  # every embedding comes from the cache
    assert cache.stat().st_mtime_ns == stamp and again["metrics"] == m


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "cluster.cli", "judge", *args], cwd=REPO,
                          capture_output=True, text=True)


def test_cli_errors_are_one_line(tmp_path):
    r = _cli(str(tmp_path), "--no-progress")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1
    assert "not a facesynth dataset" in lines[0] and "--real" in lines[0]
    r = _cli(str(tmp_path), "--real")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "no photos found" in lines[0]
    r = _cli(str(tmp_path), "--real", "--max-yaw", "15")
    assert r.returncode == 2 and "--max-yaw" in r.stderr and len(r.stderr.strip().splitlines()) == 1


# ---- a real facesynth dataset, end to end --------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory, face_model):
    """3 identities x 3 near-frontal images rendered by `facesynth generate` (face_model: the
    model is imported into the tests' cache first)."""
    root = tmp_path_factory.mktemp("judge-data")
    cfg = root / "tiny.yaml"
    cfg.write_text("seed: 11\nidentities: 3\nimages_per_identity: 3\n"
                   "gen: {appearance: {texture_size: 128}}\n"
                   "render: {pose: {yaw: {kind: uniform, min: -20, max: 20}}}\n")
    out = root / "data"
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "generate", "--config", str(cfg), "--out", str(out),
                        "--workers", "1", "--no-progress"], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    return out


def test_judge_a_facesynth_dataset_end_to_end(tiny_dataset):
    r = _cli(str(tiny_dataset), "--no-progress")
    assert r.returncode == 0, r.stderr
    report = Path(r.stdout.strip().splitlines()[-1])
    assert report == tiny_dataset / "_judge" / "judge.json" and "FAR" in r.stdout
    doc = json.loads(report.read_text())
    m = doc["metrics"]
    assert (m["images"], m["identities"]) == (9, 3)
    assert len(doc["source"]["config_hash"]) == 64
    assert m["genuine"]["count"] == 9 and m["impostor"]["count"] == 27
    # chips cut at the records' own landmarks: one identity's images are closer than two identities'
    assert m["genuine"]["mean"] < m["impostor"]["mean"]
    cons = m["consistency"]
    assert cons["pairs"] == 6 and sum(b["pairs"] for b in cons["by_abs_yaw"].values()) == 6
    assert cons["by_abs_yaw"]["0-15"]["pairs"] + cons["by_abs_yaw"]["15-30"]["pairs"] == 6
    assert sum(b["pairs"] for b in cons["by_expression"].values()) == 6
    # the contact sheet of the closest identity pairs shows each identity's most frontal image
    from PIL import Image
    from cluster.dataset import open_dataset
    from recognition.judge.data import decode
    a, b, _ = m["closest_identity_pairs"][0]
    rows = open_dataset(str(tiny_dataset)).arrow().to_table(columns=["identity", "yaw", "image"]).to_pylist()
    front = {i: min((r for r in rows if r["identity"] == i), key=lambda r: abs(r["yaw"]))["image"] for i in (a, b)}
    sheet = np.asarray(Image.open(tiny_dataset / "_judge" / "closest.png").convert("RGB"))
    assert sheet.shape == (2 * (112 + 16) + 6, 2 * 224 + 6, 3)  # 3 identities: 3 pairs, 2 a row
    assert np.array_equal(sheet[16:128, :112], decode(front[a])) and np.array_equal(sheet[16:128, 112:224],
                                                                                     decode(front[b]))
    ages = m["cross_age"]  # the defaults age every identity across its images
    assert sum(b["pairs"] for b in ages["genuine_by_age_gap"].values()) == 9
    assert sum(v["pairs"] for row in ages["far_by_age"].values() for v in row.values()) == 27

    # a subset reuses the cache (the file is not rewritten) and judges only what was asked
    from recognition.judge import judge_dataset
    cache = tiny_dataset / "_judge" / "embeddings.parquet"
    stamp = cache.stat().st_mtime_ns
    sub = judge_dataset(str(tiny_dataset), max_identities=2, images_per_identity=2)
    assert (sub["images"], sub["identities"]) == (4, 2) and cache.stat().st_mtime_ns == stamp
    from core.errors import FacesynthError
    with pytest.raises(FacesynthError, match="no images left"):
        judge_dataset(str(tiny_dataset), max_yaw=1e-6)


def test_mode_sensitivity_reproduces_the_shipped_measurement():
    """render/judges/mode_sensitivity.py on base 0's first 3 modes gives the numbers stored in
    gen/data/ (which identity.judge_weighting reads): the data is what the tool measures."""
    from gen.mode_weights import sensitivity_path
    from render.judges.mode_sensitivity import measure
    shipped = json.loads(sensitivity_path("ict-facekit").read_text())
    got = measure("ict-facekit", bases=1, modes=3)
    assert got["delta_std"] == shipped["delta_std"] and got["seed"] == shipped["seed"]
    np.testing.assert_allclose(got["per_base"][0], shipped["per_base"][0][:3], atol=2e-3)
    assert min(got["per_base"][0]) > 0.03  # the first modes move the judge (real renders, real dlib)


def test_mode_sensitivity_cli_rejects_bad_arguments(tmp_path):
    r = subprocess.run([sys.executable, "-m", "render.judges.mode_sensitivity", "--bases", "0", "--no-progress",
                        "--out", str(tmp_path / "s.json")], capture_output=True, text=True)
    assert r.returncode == 2 and "bases=0" in r.stderr and not (tmp_path / "s.json").exists()
