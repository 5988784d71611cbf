"""A real detector sees our faces: the MTCNN judge finds a face in >= 95 % of stored (JPEG,
degraded, randomly lit, aged, haired) aligned crops with |yaw| <= 45 deg, and its 5 points agree
with ours within a median of 3 px. Larger yaw is measured (and printed) but not required.

Glasses, headwear and masks hide part of the face from a detector, in real photos as here, so
the >= 95 % bar is for the faces themselves (accessories off); with DigiFace's accessory shares
on, the rate is held to >= 90 % (90 % on this sample, 96.7 % in bench/render.py's)."""
from __future__ import annotations

import numpy as np
import pytest

from gen.config import GenConfig
from render.config import RenderConfig


NO_ACCESSORIES = {"accessories": {"glasses_prob": 0, "headwear_prob": 0, "mask_prob": 0}}


def _judge(face_model, gen_cfg, bins):
    from render.judges.detection import judge
    from render.judges.mtcnn import MTCNNJudge
    from render.pipeline import ImageMaker
    maker = ImageMaker(face_model, gen_cfg, RenderConfig(), seed=11)
    try:
        return judge(maker, MTCNNJudge(threads=1), per_bin=20, bins=bins, identities=12, seed=11)
    finally:
        maker.close()


@pytest.fixture(scope="module")
def result(face_model):
    from core.config import parse_model
    return _judge(face_model, parse_model(GenConfig, NO_ACCESSORIES),
                  ((0, 15), (15, 30), (30, 45), (45, 60), (75, 90)))


def test_mtcnn_finds_faces_up_to_45_degrees(result):
    print({k: v for k, v in result.by_bin().items() if v["n"]})
    assert (np.abs(result.yaw) <= 45).sum() == 60
    assert result.rate(0, 45) >= 0.95


def test_accessories_hide_some_faces_but_few(face_model):
    worn = _judge(face_model, GenConfig(), ((0, 15), (15, 30), (30, 45)))
    print({k: v for k, v in worn.by_bin().items() if v["n"]})
    assert worn.rate(0, 45) >= 0.90


def test_mtcnn_points_agree_with_ours(result):
    assert result.median_px(0, 45) <= 3.0
    # per point too: no systematic offset of one landmark (e.g. a misplaced nose tip)
    m = (np.abs(result.yaw) <= 45) & result.detected
    assert (np.nanmedian(result.point_err[m], axis=0) < 4.5).all()


def test_profiles_are_harder_but_not_empty(result):
    # a face still shows at 75-90 deg for the detector sometimes; mostly a sanity check that the
    # large-yaw crops hold a face at all
    assert result.rate(75, 90) > 0.05
