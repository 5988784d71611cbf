"""MTCNN judge on a real photograph (scikit-image's bundled "astronaut", Eileen Collins, NASA,
public domain), on ArcFace-aligned 112x112 crops of it, on images without faces, and against the
facenet-pytorch reference implementation."""
from __future__ import annotations

import sys
import types

import cv2
import numpy as np
import pytest
import torch

from render.judges.mtcnn import LANDMARK_NAMES, Detection, MTCNNJudge, weights_dir

skimage_data = pytest.importorskip("skimage.data")

# ArcFace 112x112 five-point template (insightface), same landmark order as LANDMARK_NAMES.
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)

# Hand-annotated on the 512x512 astronaut image by eye (pixel coordinates): hairline-to-chin
# face box and the five landmark points in LANDMARK_NAMES order.
ASTRONAUT_FACE_BOX = np.array([185.0, 75.0, 275.0, 180.0])
ASTRONAUT_LANDMARKS = np.array([[203, 101], [247, 103], [223, 125], [205, 144], [242, 144]], float)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    img = skimage_data.astronaut()  # shipped inside the wheel; no download
    assert img.shape == (512, 512, 3) and img.dtype == np.uint8
    return img


@pytest.fixture(scope="module")
def judge() -> MTCNNJudge:
    return MTCNNJudge(min_face_size=20)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def assert_face_geometry(d: Detection) -> None:
    """Image-left eye left of image-right eye, eyes above nose above mouth, all inside the box."""
    (lex, ley), (rex, rey), (nx, ny), (mlx, mly), (mrx, mry) = d.landmarks
    assert lex < nx < rex and mlx < mrx
    assert max(ley, rey) < ny < min(mly, mry)
    x1, y1, x2, y2 = d.box
    assert np.all((d.landmarks[:, 0] > x1) & (d.landmarks[:, 0] < x2))
    assert np.all((d.landmarks[:, 1] > y1) & (d.landmarks[:, 1] < y2))


def aligned_crop(img: np.ndarray, points: np.ndarray, zoom: float = 1.0):
    """ArcFace-style similarity warp of `img` to 112x112; zoom > 1 makes the face fill more."""
    target = (ARCFACE_112 - 56.0) * zoom + 56.0
    m, _ = cv2.estimateAffinePartial2D(points.astype(np.float32), target, method=cv2.LMEDS)
    crop = cv2.warpAffine(img, m, (112, 112), flags=cv2.INTER_LINEAR)
    moved = points @ m[:, :2].T + m[:, 2]
    return crop, moved


def test_weights_come_from_installed_wheel():
    folder = weights_dir()
    assert "site-packages" in str(folder) and folder.name == "data"
    assert LANDMARK_NAMES == ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


def test_astronaut_one_face_with_plausible_box_and_landmarks(judge, astronaut):
    found = judge.detect(astronaut)
    assert len(found) == 1
    d = found[0]
    assert d.score > 0.99
    assert d.box.shape == (4,) and d.landmarks.shape == (5, 2)
    assert iou(d.box, ASTRONAUT_FACE_BOX) > 0.5
    assert_face_geometry(d)
    # Within 8 px (~10% of the face width) of the hand-annotated points.
    assert np.abs(d.landmarks - ASTRONAUT_LANDMARKS).max() < 8.0
    best = judge.best_face(astronaut)
    assert best is not None and np.array_equal(best.box, d.box) and best.score == d.score


def test_landmark_order_follows_the_image_not_the_subject(judge, astronaut):
    """On the mirrored photo, index 0 is still the eye on the image-left."""
    d = judge.best_face(np.ascontiguousarray(astronaut[:, ::-1]))
    assert d is not None
    assert_face_geometry(d)
    mirrored = ASTRONAUT_LANDMARKS.copy()
    mirrored[:, 0] = 512 - mirrored[:, 0]
    mirrored = mirrored[[1, 0, 2, 4, 3]]  # left/right swap under mirroring
    assert np.abs(d.landmarks - mirrored).max() < 8.0


@pytest.mark.parametrize("zoom", [1.0, 1.3])
def test_aligned_112_crop(judge, astronaut, zoom):
    """A 112x112 ArcFace crop, and a tighter one where the face fills the frame (the border
    padding is what keeps this working), yields one face whose landmarks land where the warp
    moved the photo's landmarks."""
    src = judge.best_face(astronaut).landmarks
    crop, expected = aligned_crop(astronaut, src, zoom)
    found = judge.detect(crop)
    assert len(found) == 1
    d = found[0]
    assert d.score > 0.95
    assert_face_geometry(d)
    assert np.abs(d.landmarks - expected).max() < 4.0 * zoom


@pytest.mark.parametrize("kind,size", [("blank", 112), ("blank", 512), ("noise", 112), ("noise", 512)])
def test_no_face_in_blank_or_noise(judge, kind, size):
    rng = np.random.default_rng(np.random.SeedSequence([0, size]))
    if kind == "blank":
        img = np.full((size, size, 3), 128, np.uint8)
    else:
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    assert judge.detect(img) == []
    assert judge.best_face(img) is None


def test_detect_restores_torch_thread_setting(judge, astronaut):
    before = torch.get_num_threads()
    judge.detect(astronaut[:128, :128])
    assert torch.get_num_threads() == before


def test_bad_inputs_raise(judge):
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        judge.detect(np.zeros((64, 64), np.uint8))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        judge.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="min_face_size"):
        MTCNNJudge(min_face_size=5)
    with pytest.raises(ValueError, match="thresholds"):
        MTCNNJudge(thresholds=(0.6, 0.7))
    with pytest.raises(ValueError, match="threads"):
        MTCNNJudge(threads=0)


# ---- comparison with facenet-pytorch's own MTCNN ------------------------------------------------
def _plain_batched_nms(boxes, scores, idxs, threshold):
    """Stand-in for torchvision.ops.boxes.batched_nms: greedy IoU NMS per index, in Python."""
    b, s, g = boxes.tolist(), scores.tolist(), idxs.tolist()
    order = sorted(range(len(b)), key=lambda i: -s[i])
    keep, dead = [], set()
    for n, i in enumerate(order):
        if i in dead:
            continue
        keep.append(i)
        for j in order[n + 1:]:
            if j in dead or g[j] != g[i]:
                continue
            iw = max(0.0, min(b[i][2], b[j][2]) - max(b[i][0], b[j][0]))
            ih = max(0.0, min(b[i][3], b[j][3]) - max(b[i][1], b[j][1]))
            inter = iw * ih
            union = ((b[i][2] - b[i][0]) * (b[i][3] - b[i][1])
                     + (b[j][2] - b[j][0]) * (b[j][3] - b[j][1]) - inter)
            if inter / union > threshold:
                dead.add(j)
    return torch.tensor(keep, dtype=torch.long)


@pytest.fixture()
def reference_mtcnn(monkeypatch):
    """facenet-pytorch's MTCNN, imported with a stub torchvision (it only needs batched_nms
    for detection); every module imported here is dropped again afterwards."""
    stubs = {name: types.ModuleType(name) for name in (
        "torchvision", "torchvision.ops", "torchvision.ops.boxes",
        "torchvision.transforms", "torchvision.transforms.functional")}
    stubs["torchvision.ops.boxes"].batched_nms = _plain_batched_nms
    stubs["torchvision"].ops = stubs["torchvision.ops"]
    stubs["torchvision.ops"].boxes = stubs["torchvision.ops.boxes"]
    stubs["torchvision"].transforms = stubs["torchvision.transforms"]
    stubs["torchvision.transforms"].functional = stubs["torchvision.transforms.functional"]
    before = set(sys.modules)
    for name, mod in stubs.items():
        monkeypatch.setitem(sys.modules, name, mod)
    try:
        from facenet_pytorch import MTCNN
    except ImportError as e:  # e.g. `requests` missing for its other model
        pytest.skip(f"facenet_pytorch not importable with a stub torchvision: {e}")
    try:
        yield MTCNN(min_face_size=20, keep_all=True, select_largest=False, device="cpu")
    finally:
        for name in set(sys.modules) - before:
            if name.startswith("facenet_pytorch"):
                del sys.modules[name]


def test_matches_facenet_pytorch_reference(reference_mtcnn, astronaut):
    mine = MTCNNJudge(min_face_size=20, border=0.0)  # the reference does not pad
    for img in (astronaut, np.ascontiguousarray(astronaut[:, ::-1])):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # the tiny nets thrash with 2 threads on a busy box
        try:
            boxes, probs, points = reference_mtcnn.detect(img, landmarks=True)
        finally:
            torch.set_num_threads(threads)
        found = mine.detect(img)
        assert len(found) == len(boxes) == 1
        ref_box = np.asarray(boxes[0], float)
        ref_box[:2] -= 1.0  # reference x1/y1 are 1-based inclusive; ours are continuous
        np.testing.assert_allclose(found[0].box, ref_box, atol=1e-3)
        np.testing.assert_allclose(found[0].landmarks, np.asarray(points[0], float), atol=1e-3)
        assert abs(found[0].score - float(probs[0])) < 1e-5
