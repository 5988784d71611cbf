"""Face verification benchmarks: insightface .bin files, 10-fold accuracy, TAR@FAR and ROC.

A .bin is a pickle of (list of encoded images, list of issame), two images per pair. Community
copies also hold numpy arrays: each encoded image as a uint8 array, the images as an object
array, issame as a bool array or numpy bools. It is read with an unpickler that resolves only
numpy's array and scalar rebuilders (an allowlist: they allocate arrays from the pickle's own
bytes and call nothing else), so only literals and numpy arrays can come out and no code runs.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import atomic_file
from core.errors import FacesynthError

N_FOLDS = 10


def _numpy_rebuilders() -> dict[tuple[str, str], object]:
    """The globals a pickled ndarray / numpy scalar names, under numpy 1.x and 2.x module paths."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    allowed = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = multiarray._reconstruct
        allowed[(mod, "scalar")] = multiarray.scalar
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    allowed[("_codecs", "encode")] = _latin1_encode
    return allowed


def _latin1_encode(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refusing _codecs.encode other than text to latin1")
    return text.encode("latin1")


class _AllowlistUnpickler(pickle.Unpickler):
    """Resolves only numpy's array/scalar rebuilders; every other global (the way a pickle
    calls code) is refused."""
    _allowed = _numpy_rebuilders()

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing persistent ids")


def _as_bytes(b) -> bytes | None:
    if isinstance(b, (bytes, bytearray)):
        return bytes(b)
    if isinstance(b, np.ndarray) and b.dtype == np.uint8 and b.ndim == 1:
        return b.tobytes()
    return None


def _images(obj) -> list[bytes] | None:
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.ndim == 1:
        obj = list(obj)
    if not isinstance(obj, (list, tuple)):
        return None
    out = [_as_bytes(b) for b in obj]
    return None if any(b is None for b in out) else out


def _issame(obj) -> np.ndarray | None:
    if isinstance(obj, np.ndarray):
        return obj.astype(bool) if obj.ndim == 1 and obj.dtype == bool else None
    if isinstance(obj, (list, tuple)) and all(isinstance(v, (bool, np.bool_)) for v in obj):
        return np.asarray(obj, dtype=bool)
    return None


def read_bin(path: str | Path) -> tuple[list[bytes], np.ndarray]:
    """Images (2 per pair) and the boolean issame array of an insightface verification .bin."""
    path = Path(path)
    if not path.is_file():
        raise FacesynthError(f"{path}: verification .bin not found; pass lfw.bin, cfp_fp.bin, agedb_30.bin, ...")
    try:
        with open(path, "rb") as f:
            # encoding='bytes' is how insightface reads its Python 2 pickles.
            obj = _AllowlistUnpickler(f, encoding="bytes").load()
    except pickle.UnpicklingError as e:
        raise FacesynthError(f"{path}: refused: {e}; a verification .bin may hold only bytes, lists, bools "
                             "and numpy arrays") from None
    except Exception as e:  # noqa: BLE001 - truncated or non-pickle input
        raise FacesynthError(f"{path}: not a verification .bin ({type(e).__name__}: {e})") from None
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2):
        raise FacesynthError(f"{path}: expected a pickle of (images, issame); got {type(obj).__name__}")
    images, issame = _images(obj[0]), _issame(obj[1])
    if images is None:
        raise FacesynthError(f"{path}: the first element must be a list of encoded images (bytes or uint8 arrays)")
    if issame is None:
        raise FacesynthError(f"{path}: the second element must be a list or array of bools (issame)")
    if len(images) != 2 * len(issame) or not len(issame):
        raise FacesynthError(f"{path}: {len(images)} images for {len(issame)} pairs; need exactly 2 per pair")
    return images, issame


def write_bin(path: str | Path, images: list[bytes], issame: list[bool]) -> Path:
    """Write a .bin the way insightface does (plain pickle of two lists), atomically."""
    if len(images) != 2 * len(issame):
        raise ValueError("need exactly two images per pair")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path, "wb") as f:
        # Protocol 4: readable by every Python 3 insightface loader (pickle.load(f, encoding='bytes')).
        pickle.dump(([bytes(b) for b in images], [bool(s) for s in issame]), f, protocol=4)
    return path


def folds(n: int, k: int = N_FOLDS) -> list[np.ndarray]:
    """Contiguous folds as sklearn's KFold(shuffle=False), which insightface uses."""
    return np.array_split(np.arange(n), k)


@dataclass
class VerificationResult:
    accuracy_mean: float  # thresholds searched exactly (see best_threshold)
    accuracy_std: float
    fold_accuracies: list[float]
    accuracy_grid_mean: float  # insightface's 0.01 threshold grid, the figure papers quote
    accuracy_grid_std: float
    thresholds: list[float]
    tar_at_far: dict[str, float | None]
    roc_fpr: list[float]
    roc_tpr: list[float]
    auc: float
    n_pairs: int
    far_resolution: float | None  # 1 / negative pairs: the smallest FAR this set can measure

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def pair_scores(embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarity of rows 2i and 2i+1 (embeddings are normalised here)."""
    e = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True).clip(1e-12)
    return np.sum(e[0::2] * e[1::2], axis=1)


def best_threshold(dist: np.ndarray, issame: np.ndarray) -> float:
    """The distance threshold (pairs with dist < t are "same") that is most accurate on these pairs.

    insightface scans a fixed grid (0 to 4 in steps of 0.01) and keeps the first, i.e. smallest,
    best threshold. We search every split between distinct distances and likewise keep the
    smallest (just above the last accepted distance): the same rule, but exact when a weak model
    packs all distances into a band narrower than the grid step.
    """
    order = np.argsort(dist, kind="stable")
    d, y = dist[order], issame[order]
    n = len(d)
    pos_below = np.r_[0, np.cumsum(y)]  # positives among the k smallest distances, k = 0..n
    correct = pos_below + ((~y).sum() - (np.arange(n + 1) - pos_below))
    valid = np.r_[True, d[1:] > d[:-1], True]  # a threshold cannot split tied distances
    k = int(np.argmax(np.where(valid, correct, -1)))
    if k == 0:
        return float(d[0])
    if k == n:
        return float(np.nextafter(d[-1], np.inf))
    return float(min(np.nextafter(d[k - 1], np.inf) + 5e-7, (d[k - 1] + d[k]) / 2))


def ten_fold_accuracy(dist: np.ndarray, issame: np.ndarray) -> tuple[list[float], list[float]]:
    """Per fold: pick the threshold that is best on the other 9 folds, score it on this one."""
    accs, ths = [], []
    for test in folds(len(dist)):
        train = np.setdiff1d(np.arange(len(dist)), test)
        t = best_threshold(dist[train], issame[train])
        ths.append(t)
        accs.append(float(np.mean((dist[test] < t) == issame[test])))
    return accs, ths


# insightface's verification.py scans thresholds 0, 0.01, ..., 3.99 on the squared L2 distance.
INSIGHTFACE_GRID = np.arange(0, 4, 0.01)


def grid_ten_fold_accuracy(dist: np.ndarray, issame: np.ndarray, grid: np.ndarray = INSIGHTFACE_GRID) -> list[float]:
    """insightface's figure: per fold, the first grid threshold most accurate on the other 9
    folds, scored on this one. Papers report this; it can trail the exact search when all
    distances fall between two grid steps."""
    pred = dist[None, :] < grid[:, None]  # (thresholds, pairs)
    correct = pred == issame[None, :]
    accs = []
    for test in folds(len(dist)):
        train = np.setdiff1d(np.arange(len(dist)), test)
        best = int(np.argmax(correct[:, train].mean(axis=1)))
        accs.append(float(correct[best, test].mean()))
    return accs


def roc(scores: np.ndarray, issame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) accepting pairs with score >= threshold, from strict to lenient."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], issame[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp, fp = np.cumsum(y)[distinct], np.cumsum(~y)[distinct]
    tpr = np.r_[0.0, tp / max(1, y.sum())]
    fpr = np.r_[0.0, fp / max(1, (~y).sum())]
    return fpr, tpr, np.r_[np.inf, s[distinct]]


def tar_at_far(scores: np.ndarray, issame: np.ndarray, far: float) -> float | None:
    """Highest TAR whose FAR <= far (None without negative pairs). With fewer than 1/far
    negatives this is the TAR at zero false accepts; `far_resolution` in the result says so."""
    if not (~issame).any():
        return None
    fpr, tpr, _ = roc(scores, issame)
    return float(tpr[fpr <= far + 1e-12].max())


def evaluate(embeddings: np.ndarray, issame: np.ndarray, fars=(1e-3,)) -> VerificationResult:
    """insightface-style evaluation of flip-summed embeddings (rows 2i, 2i+1 form pair i)."""
    scores = pair_scores(embeddings.astype(np.float64))
    # Squared L2 distance of unit vectors, rounded to 1e-6 so float32 noise cannot split pairs
    # that are really tied (e.g. two copies of one image) when thresholds are searched exactly.
    dist = np.round(2.0 - 2.0 * scores, 6)
    accs, ths = ten_fold_accuracy(dist, issame)
    grid = grid_ten_fold_accuracy(dist, issame)
    fpr, tpr, _ = roc(scores, issame)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    return VerificationResult(
        accuracy_mean=float(np.mean(accs)), accuracy_std=float(np.std(accs)),
        fold_accuracies=accs, thresholds=ths,
        accuracy_grid_mean=float(np.mean(grid)), accuracy_grid_std=float(np.std(grid)),
        tar_at_far={f"{f:g}": tar_at_far(scores, issame, f) for f in fars},
        roc_fpr=fpr[keep].tolist(), roc_tpr=tpr[keep].tolist(),
        auc=float(np.trapezoid(tpr, fpr)), n_pairs=int(len(issame)),
        far_resolution=1.0 / n_neg if (n_neg := int((~issame).sum())) else None)


def pair_angles(embeddings: np.ndarray) -> np.ndarray:
    """Angle in degrees between the two embeddings of each pair."""
    return np.degrees(np.arccos(np.clip(pair_scores(embeddings), -1.0, 1.0)))


def decode_images(images: list[bytes], size: int) -> np.ndarray:
    """Encoded images -> (N, size, size, 3) uint8 RGB."""
    from recognition.data.mixed import decode
    out = np.empty((len(images), size, size, 3), np.uint8)
    for i, b in enumerate(images):
        try:
            out[i] = decode(b, size)
        except ValueError:
            raise FacesynthError(f"image {i} of the verification set is not decodable") from None
    return out

