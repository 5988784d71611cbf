"""Scalp hair: deterministic per-identity styles, validated config, shells that occlude the forehead."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from gen.config import GenConfig
from gen.hairstyle import sample_hairstyle
from render.config import RenderConfig
from render.preview import STUDIO_LIGHTS, clean

NO_ACCESSORIES = {"glasses_prob": 0.0, "headwear_prob": 0.0, "mask_prob": 0.0}
HAIRY = {"hair": {"srgb": [30, 20, 15], "scalp": True, "hairline": 0.0}}


def test_style_is_a_pure_function_of_seed_identity_and_config():
    cfg = GenConfig().hair_style
    a = [sample_hairstyle(cfg, HAIRY, 7, i) for i in range(50)]
    assert a == [sample_hairstyle(cfg, HAIRY, 7, i) for i in range(50)]
    assert a != [sample_hairstyle(cfg, HAIRY, 8, i) for i in range(50)]
    assert len({s.style for s in a}) >= 4
    assert all(s.color == (30, 20, 15) for s in a)  # the identity's own hair colour


def test_bare_scalp_is_bald_and_weights_are_followed():
    cfg = GenConfig().hair_style
    bare = {"hair": {"srgb": [30, 20, 15], "scalp": False, "hairline": 0.0}}
    assert {sample_hairstyle(cfg, bare, 0, i).style for i in range(20)} == {"bald"}
    only = parse_model(GenConfig, {"hair_style": {"styles": {"curly": 1.0}, "fringe_prob": 0.0}}).hair_style
    styles = [sample_hairstyle(only, HAIRY, 0, i) for i in range(20)]
    assert {s.style for s in styles} == {"curly"} and all(s.fringe == 0 for s in styles)


@pytest.mark.parametrize("section, key", [
    ({"styles": {"mohawk": 1.0}}, "styles"),
    ({"styles": {"short": -1.0}}, "styles"),
    ({"styles": {}}, "styles"),
    ({"fringe_prob": 1.5}, "fringe_prob"),
    ({"volume": {"min": 0.0, "max": 1.0}}, "volume"),
    ({"volume": {"min": 2.0, "max": 1.0}}, "volume"),
    ({"length": {"min": 0.5, "max": 5.0}}, "length"),
    ({"bangs": 0.3}, "bangs"),
])
def test_bad_hair_style_config_fails_in_one_line_naming_the_key(section, key):
    with pytest.raises(FacesynthError) as e:
        parse_model(GenConfig, {"hair_style": section}, "cfg.yaml")
    msg = str(e.value)
    assert "\n" not in msg and "hair_style" in msg and key in msg


@pytest.fixture(scope="module")
def one_maker(face_model):
    """One EGL renderer for the module: pyrender's close() terminates the display all share."""
    from render.pipeline import ImageMaker
    m = ImageMaker(face_model, GenConfig(), clean(RenderConfig(), "solid"), seed=3)
    yield m
    m.close()


def _maker(maker, hair_style: dict):
    """`maker` with another gen config (its identity is bound again on the next render)."""
    maker.gen_cfg = parse_model(GenConfig, {"hair_style": hair_style, "accessories": NO_ACCESSORIES})
    maker.renderer.identity_key = None
    return maker


def _frontal(maker, i):
    s = dataclasses.replace(maker.scene(i, 0), yaw=0.0, pitch=0.0, roll=0.0, zoom=1.0, shift=(0.0, 0.0, 0.0),
                            lights=STUDIO_LIGHTS, ambient=0.3, expression=None)
    return maker.render_scene(maker.identity(i), s)


@pytest.fixture(scope="module")
def hairy_identity(face_model):
    from gen.identity import identity_attributes
    cfg = GenConfig()
    return next(i for i in range(50) if identity_attributes(face_model, cfg, 3, i)["hair"]["scalp"])


def test_fringe_covers_the_forehead_and_bald_draws_nothing(one_maker, hairy_identity):
    i = hairy_identity
    m = _maker(one_maker, {"styles": {"bald": 1.0}})
    rb = _frontal(m, i)
    assert m.renderer.attachment_nodes == {} and m.record(m.identity(i), rb).hair_style == "bald"
    m = _maker(one_maker, {"styles": {"medium": 1.0}, "fringe_prob": 1.0})
    rf = _frontal(m, i)
    assert "hair" in m.renderer.attachment_nodes and m.record(m.identity(i), rf).hair_style == "medium"
    lm = rb.lm68
    brow_y = lm[17:27, 1].min()
    x0, x1 = int(lm[19, 0]), int(lm[24, 0])
    forehead = (slice(max(int(brow_y) - 14, 0), int(brow_y) - 4), slice(x0, x1))
    mouth = (slice(int(lm[48:68, 1].min()), int(lm[48:68, 1].max()) + 1),
             slice(int(lm[48, 0]), int(lm[54, 0]) + 1))
    diff = np.abs(rf.clean_crop.astype(int) - rb.clean_crop.astype(int)).mean(-1)
    assert diff[forehead].mean() > 25  # hair over the forehead
    assert diff[mouth].max() == 0  # the lower face is untouched
    # Same landmarks: hair occludes, it does not move the face.
    np.testing.assert_array_equal(rf.lm68, rb.lm68)
    # Bald is the face alone: after the hair was shown, the same bytes again.
    m = _maker(one_maker, {"styles": {"bald": 1.0}})
    np.testing.assert_array_equal(_frontal(m, i).clean_crop, rb.clean_crop)


def test_every_style_builds_closed_geometry(face_model, hairy_identity):
    from gen.identity import make_identity
    from render.hair_mesh import build_hair
    ident = make_identity(face_model, GenConfig(), 3, hairy_identity)
    cfg = GenConfig().hair_style
    for name in ("short", "medium", "long", "curly", "tied_back", "receding"):
        only = cfg.model_copy(update={"styles": {name: 1.0}})
        style = sample_hairstyle(only, ident.attributes, 3, hairy_identity)
        parts = build_hair(face_model, ident.vertices, style)
        assert parts, name
        for p in parts:
            assert np.isfinite(p.positions).all() and len(p.triangles) > 0
            assert p.triangles.max() < len(p.positions)
        # The outer shell covers the crown, above the top of the head.
        assert parts[0].positions[:, 1].max() > ident.vertices[:, 1].max(), name
