"""Verification .bin files as the community ships them (numpy arrays inside the pickle) are
read through an allowlist that still runs no code; accuracy is reported on insightface's 0.01
threshold grid next to the exact search."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from core.errors import FacesynthError
from recognition.verification import evaluate, grid_ten_fold_accuracy, read_bin

IMAGES = [bytes([255, 216, 255, i]) + b"jpeg" * i for i in range(6)]
ISSAME = [True, False, True]


def _dump(path, obj, protocol):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("variant", ["uint8 arrays + bool array", "object array + numpy bools", "plain lists"])
def test_community_variants_read_the_same(tmp_path, protocol, variant):
    if variant == "uint8 arrays + bool array":
        obj = ([np.frombuffer(b, np.uint8) for b in IMAGES], np.array(ISSAME))
    elif variant == "object array + numpy bools":
        arr = np.empty(len(IMAGES), object)
        arr[:] = IMAGES
        obj = (arr, [np.bool_(s) for s in ISSAME])
    else:
        obj = (IMAGES, ISSAME)
    images, issame = read_bin(_dump(tmp_path / "x.bin", obj, protocol))
    assert images == IMAGES and issame.dtype == bool and issame.tolist() == ISSAME


class _Exploit:
    def __reduce__(self):
        import os
        return (os.system, ("touch PWNED",))


class _ArrayExploit:
    """A numpy-looking payload that smuggles a call in through the array's elements."""
    def __reduce__(self):
        return (eval, ("open('PWNED', 'w')",))


def test_code_in_a_bin_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    arr = np.empty(1, object)
    arr[0] = _ArrayExploit()
    for i, obj in enumerate([(IMAGES, _Exploit()), ([arr], np.array(ISSAME))]):
        path = _dump(tmp_path / f"evil{i}.bin", obj, 4)
        with pytest.raises(FacesynthError, match="refused: refusing to load global") as e:
            read_bin(path)
        assert "\n" not in str(e.value)
    assert not (tmp_path / "PWNED").exists()


def test_wrong_shapes_are_refused_with_one_line(tmp_path):
    cases = {"images 2-D": (np.zeros((6, 4), np.uint8), ISSAME),
             "issame floats": (IMAGES, np.array([1.0, 0.0, 1.0])),
             "odd count": (IMAGES[:5], ISSAME)}
    for name, obj in cases.items():
        with pytest.raises(FacesynthError) as e:
            read_bin(_dump(tmp_path / "x.bin", obj, 4))
        assert "\n" not in str(e.value), name


def _insightface_grid_accuracy(dist, issame):
    """insightface's calculate_roc, accuracy part, transcribed from its description: 10
    contiguous folds, thresholds 0..4 step 0.01, `dist < t` predicts same, the first threshold
    with the best training accuracy is scored on the test fold."""
    thresholds = np.arange(0, 4, 0.01)
    idx = np.arange(len(dist))
    accs = []
    for test in np.array_split(idx, 10):
        train = np.setdiff1d(idx, test)
        train_acc = [np.mean((dist[train] < t) == issame[train]) for t in thresholds]
        t = thresholds[int(np.argmax(train_acc))]
        accs.append(np.mean((dist[test] < t) == issame[test]))
    return accs


def test_grid_accuracy_matches_insightface_and_can_trail_the_exact_search():
    rng = np.random.default_rng(0)
    issame = rng.random(400) < 0.5
    dist = np.where(issame, rng.normal(0.9, 0.3, 400), rng.normal(1.5, 0.3, 400)).clip(0, 3.9)
    assert grid_ten_fold_accuracy(dist, issame) == pytest.approx(_insightface_grid_accuracy(dist, issame))

    # Every distance between two grid steps: the grid cannot split them, the exact search can.
    tight = np.where(issame, 0.5012, 0.5087)
    emb = np.zeros((800, 2))
    cos = 1 - tight / 2  # squared L2 of unit vectors = 2 - 2 cos
    emb[0::2, 0] = 1.0
    emb[1::2, 0], emb[1::2, 1] = cos, np.sqrt(1 - cos ** 2)
    r = evaluate(emb, issame)
    assert r.accuracy_mean == 1.0
    assert r.accuracy_grid_mean == pytest.approx(np.mean(_insightface_grid_accuracy(np.round(tight, 6), issame)))
    assert r.accuracy_grid_mean < 0.6
