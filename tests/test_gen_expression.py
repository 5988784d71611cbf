"""Expression weights: neutral share, few active groups, plausible units, applied on the identity."""
from __future__ import annotations

import numpy as np
import pytest

from gen.config import EXPRESSION_GROUPS, ExpressionConfig, GenConfig
from core.errors import FacesynthError
from gen.expression import ICT_EXPRESSIONS, active_groups, sample_expression, sample_expression_groups
from gen.identity import STREAM_EXPRESSION, make_identity
from core.rng import stream
from core.config import parse_model


def test_names_match_model(face_model):
    assert face_model.expr_names == ICT_EXPRESSIONS
    for units in EXPRESSION_GROUPS.values():
        assert all(u in ICT_EXPRESSIONS for u, _ in units)


def test_distribution():
    cfg = ExpressionConfig(neutral_prob=0.3, max_active=2)
    draws = [sample_expression_groups(cfg, stream(5, STREAM_EXPRESSION, 0, j)) for j in range(3000)]
    W = np.stack([w for w, _ in draws])
    np.testing.assert_array_equal(W[7], sample_expression(cfg, stream(5, STREAM_EXPRESSION, 0, 7)))
    assert W.dtype == np.float32 and W.shape == (3000, 53) and W.min() >= 0 and W.max() <= 1
    neutral = (W == 0).all(1)
    assert abs(neutral.mean() - 0.3) < 0.04  # ~5 sigma of a binomial with n=3000
    groups = [g for w, g in draws if w.any()]
    assert all(not g for w, g in draws if not w.any())
    assert max(len(g) for g in groups) <= 2 and min(len(g) for g in groups) >= 1
    assert max((w > 0).sum() for w in W) <= 16  # only a few units at once
    smiles = np.mean(["smile" in g for g in groups])
    assert 0.2 < smiles < 0.55  # smile weight 0.35 of single picks, more with two groups
    # Paired units move together: a smile drives both corners.
    i, j = ICT_EXPRESSIONS.index("mouthSmile_L"), ICT_EXPRESSIONS.index("mouthSmile_R")
    both = W[(W[:, i] > 0)]
    assert (both[:, j] > 0).all() and np.abs(both[:, i] - both[:, j]).max() < 0.25


def test_deterministic_and_config():
    cfg = ExpressionConfig(neutral_prob=0.0, max_active=1, group_weights={"blink": 1.0})
    a = sample_expression(cfg, stream(1, STREAM_EXPRESSION, 2, 3))
    b = sample_expression(cfg, stream(1, STREAM_EXPRESSION, 2, 3))
    np.testing.assert_array_equal(a, b)
    assert active_groups(a) == ["blink"]
    with pytest.raises(FacesynthError, match="group_weights"):
        parse_model(ExpressionConfig, {"group_weights": {"wink": 1.0}}, "gen.yaml")
    with pytest.raises(FacesynthError, match="neutral_prob"):
        parse_model(ExpressionConfig, {"neutral_prob": 1.5}, "gen.yaml")


def test_applied_on_identity(face_model):
    ident = make_identity(face_model, GenConfig.model_validate({"appearance": {"texture_size": 64}}), 0, 2)
    w = np.zeros(53, np.float32)
    w[ICT_EXPRESSIONS.index("jawOpen")] = 1.0
    opened = face_model.with_expression(ident.vertices, w)
    chin = face_model.landmarks68[8]
    assert opened[chin, 1] < ident.vertices[chin, 1] - 0.5  # chin drops by > 5 mm
    same = face_model.with_expression(ident.vertices, np.zeros(53, np.float32))
    np.testing.assert_allclose(same, ident.vertices, atol=1e-5)


def test_default_config_file_matches_defaults():
    from pathlib import Path

    from gen.config import load_gen_config
    cfg = load_gen_config(Path(__file__).resolve().parents[1] / "configs" / "gen-default.yaml")
    assert cfg == GenConfig()
