"""Aging (gen/aging/): ages are pure per (seed, identity, image); one person's wrinkles deepen and
are added with age but never move; hair greys; soft tissue moves smoothly and only skin moves;
records carry the age they show; the preview draws one person at several ages."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from gen.aging import draw_traits, identity_ages, image_age, look
from gen.aging.skinage import _raster
from gen.aging.traits import OWN_WAY
from gen.aging.wrinkles import shading
from gen.config import AgingConfig, GenConfig
from gen.identity import identity_at_age, make_identity
from gen.uvmaps import face_layout

REPO = Path(__file__).resolve().parents[1]
SMALL = {"appearance": {"texture_size": 128}}


def test_ages_are_pure_and_inside_the_configured_range():
    cfg = AgingConfig(base_age={"min": 20, "max": 80}, span=45, stages=4, stage_run=4)
    spans, firsts = [], []
    for i in range(300):
        a = identity_ages(cfg, 3, i)
        assert a == identity_ages(cfg, 3, i)
        assert 20 - 1e-9 <= a.stages[0] and a.stages[-1] <= 80 + 1e-9
        assert np.allclose(np.diff(a.stages), 15)
        spans.append(a.span)
        firsts.append(a.stages[0])
    assert min(spans) >= 40  # configs/age-span.yaml's promise
    assert np.std(firsts) > 3  # identities start at different ages
    # A run of stage_run images shares a stage; 16 images show all 4 ages, 4 times each.
    stages = [image_age(cfg, 3, 7, j)[0] for j in range(16)]
    assert [stages[k] for k in range(0, 16, 4)] == [stages[4 * (k // 4)] for k in range(0, 16, 4)]
    assert sorted(stages) == sorted([0, 1, 2, 3] * 4)
    assert all(stages[j] == stages[j - j % 4] for j in range(16))
    assert image_age(AgingConfig(enabled=False), 3, 7, 0)[0] == 0 and np.isnan(image_age(AgingConfig(enabled=False), 3, 7, 0)[1])


def test_default_ages_cover_adults():
    cfg = AgingConfig()
    ages = np.array([identity_ages(cfg, 0, i).stages for i in range(2000)])
    assert ages.min() >= 18 and ages.max() <= 85
    assert ages.min() < 20 and ages.max() > 83
    assert np.allclose(ages[:, -1] - ages[:, 0], 20)


@pytest.mark.parametrize("bad, key", [
    ({"base_age": {"min": -5, "max": 80}}, "base_age"),
    ({"stages": 0}, "stages"),
    ({"span": -1}, "span"),
    ({"wrinkle": 1.0}, "wrinkle"),
    ({"gray_max": {"min": 0.5, "max": 1.2}}, "gray_max"),
    ({"gray_max": {"min": 0.9, "max": 0.5}}, "gray_max"),
    ({"gray_level": {"min": 100, "max": 300}}, "gray_level"),
    ({"gray_yellowing": {"min": -5, "max": 10}}, "gray_yellowing"),
    ({"wrinkle_region_sd": -0.1}, "wrinkle_region_sd"),
    ({"wrinkle_region_sd": 2.5}, "wrinkle_region_sd"),
])
def test_bad_aging_config(bad, key):
    with pytest.raises(FacesynthError, match=key):
        parse_model(GenConfig, {"aging": bad}, "gen.yaml")


def test_wrinkles_deepen_and_never_move(face_model):
    lay = face_layout(face_model, 256)
    cfg = AgingConfig()
    t = draw_traits(cfg, 0, 4, 0.2, lay.lm3)
    again = draw_traits(cfg, 0, 4, 0.2, lay.lm3)
    assert all(np.array_equal(a.pts, b.pts) for a, b in zip(t.lines, again.lines))
    other = draw_traits(cfg, 0, 5, 0.2, lay.lm3)
    assert not all(np.array_equal(a.pts, b.pts) for a, b in zip(t.lines, other.lines))
    r = _raster(lay, t)
    maps = {a: shading(r, look(cfg, t, a).wrinkles, t.wrinkle_gain, lay.size) for a in (20, 35, 50, 65, 80)}
    depth = [0.0 if m is None else float(np.abs(m).sum()) for m in maps.values()]
    assert depth == sorted(depth) and depth[-1] > 3 * depth[1] > 0
    young, old = maps[35], maps[80]
    grooves_young = young < -0.02
    assert grooves_young.sum() > 20
    # The same places, deeper (a highlight of a line added later may lighten a few texels).
    assert (old[grooves_young] < 0).mean() > 0.95 and old[grooves_young].mean() < 2 * young[grooves_young].mean()
    # Forehead lines, the top-most grooves, lie above the brows.
    rows = np.flatnonzero((old < -0.05).any(1))
    assert rows.min() < lay.lm_uv[17:27, 1].min() - 5


def test_age_span_config_lets_people_age_their_own_way():
    """configs/age-span.yaml turns on the per-person variety (gen/aging/traits.py OWN_WAY) that the
    defaults leave off, and the judge weighting's measurement is pinned to it."""
    import yaml
    from render.judges.mode_sensitivity import measured_config
    aging = yaml.safe_load((REPO / "configs" / "age-span.yaml").read_text())["gen"]["aging"]
    assert {k: aging[k] for k in OWN_WAY} == OWN_WAY
    assert AgingConfig().wrinkle_region_sd == 0 and AgingConfig().gray_max.min == AgingConfig().gray_max.max == 1
    assert measured_config("ict-facekit").aging == AgingConfig(**OWN_WAY)


def test_people_age_differently_but_each_keeps_its_way(face_model):
    """How grey an identity ends up, its grey, and which wrinkle regions deepen most are its own:
    fixed across its ages, different between identities, inside their configured ranges, and drawn
    from their own stream, so the other traits do not change with them."""
    lay = face_layout(face_model, 128)
    cfg = AgingConfig(graying=3.0, **OWN_WAY)
    traits = [draw_traits(cfg, 0, i, 0.2, lay.lm3) for i in range(200)]
    caps = np.array([t.gray_max for t in traits])
    assert 0.45 <= caps.min() and caps.max() <= 1.0 and caps.std() > 0.1
    levels = np.array([t.grey_srgb for t in traits])
    assert 140 <= levels[:, 1].min() and levels[:, 1].max() <= 237 and levels[:, 1].std() > 15
    assert (levels[:, 0] >= levels[:, 2]).all()  # greys lean yellow, never blue
    # Fully grey at 85 with graying 3 means each identity reaches its own cap, and stays there.
    old = np.array([look(cfg, t, 85.0).gray_scalp for t in traits])
    np.testing.assert_allclose(old, caps)
    assert look(cfg, traits[3], 30.0).gray_scalp <= look(cfg, traits[3], 60.0).gray_scalp <= caps[3]
    gains = np.array([[t.region_gain[r] for r in sorted(t.region_gain)] for t in traits])
    assert gains.shape == (200, 7) and np.log(gains).std(0).min() > 0.5
    sev = [look(cfg, traits[5], a).wrinkles for a in (40, 60, 80)]
    assert all(sev[k][r] <= sev[k + 1][r] <= 1.0 for k in range(2) for r in sev[0])  # deepen, never shallow
    # The defaults take the variety away (one grey, one balance of wrinkles, everyone greys fully);
    # the stream-21 traits are the same either way.
    t0, t1 = traits[7], draw_traits(AgingConfig(graying=3.0), 0, 7, 0.2, lay.lm3)
    assert t1.gray_max == 1.0 and t1.grey_srgb == (205, 205, 205) and set(t1.region_gain.values()) == {1.0}
    assert (t0.gray_onset, t0.gray_speed, t0.recedes) == (t1.gray_onset, t1.gray_speed, t1.recedes)
    assert all(np.array_equal(a.pts, b.pts) for a, b in zip(t0.lines, t1.lines))
    np.testing.assert_array_equal(t0.spot_u, t1.spot_u)
    # Two identities at 80 differ in their hair's grey as well as in how grey it is.
    gcfg = GenConfig.model_validate({**SMALL, "aging": {"graying": 3.0, **OWN_WAY}})
    hairs = [identity_at_age(face_model, gcfg, 0, i, 80.0).colors["hair"] for i in range(6)]
    assert np.ptp(np.array(hairs, float).mean(1)) > 25


def test_one_person_across_ages(face_model):
    cfg = GenConfig.model_validate({**SMALL, "aging": {"graying": 3.0, "sagging": 1.0}})
    young = identity_at_age(face_model, cfg, 0, 2, 20.0)
    old = identity_at_age(face_model, cfg, 0, 2, 80.0)
    np.testing.assert_array_equal(young.coeffs, old.coeffs)
    d = np.linalg.norm(old.vertices - young.vertices, axis=1)
    assert 0.15 < d.max() < 1.0  # cm: visible, but the same face
    for part in ("iris_left", "teeth", "eyelashes", "sclera_right"):
        a, b = face_model.vertex_regions[part]
        assert d[a:b].max() == 0.0
    # Jowls and the lower face descend.
    jaw = face_model.landmarks68[[5, 11]]
    assert (old.vertices[jaw, 1] < young.vertices[jaw, 1]).all()
    # Hair goes grey (graying 3: fully grey well before 80), brows less.
    assert np.mean(old.colors["hair"]) > np.mean(young.colors["hair"]) + 40
    assert old.attributes["hair"]["hairline"] >= young.attributes["hair"]["hairline"]
    assert old.attributes["age"]["natural_hair_srgb"] == young.attributes["hair"]["srgb"]
    # Lips pale, skin darkens a little in its grooves and spots; the features stay put.
    diff = np.abs(old.maps["albedo"].astype(int) - young.maps["albedo"].astype(int)).mean()
    assert 1.0 < diff < 40.0
    assert young.maps["albedo"].shape == old.maps["albedo"].shape


def test_grey_brows_show_skin_between_their_hairs(face_model):
    from gen.appearance.brows import brow_strokes
    from gen.uvmaps import face_layout
    lay = face_layout(face_model, 256)
    attrs = identity_at_age(face_model, GenConfig.model_validate(SMALL), 0, 2, 30.0).attributes
    dark, grey = (brow_strokes(np.random.default_rng(1), lay, attrs, np.random.default_rng(2), f)[0]
                  for f in (1.0, 0.2))
    assert dark.shape == grey.shape and min(grey.max(), dark.max()) > 240  # the hairs themselves stay
    between = (dark > 0) & (dark < 120)  # texels between hairs, where the fill shows
    assert grey[between].mean() < 0.8 * dark[between].mean()


def test_stages_share_everything_but_age(face_model):
    cfg = GenConfig.model_validate(SMALL)
    a, b = make_identity(face_model, cfg, 1, 3, 0), make_identity(face_model, cfg, 1, 3, 2)
    assert a.age < b.age and a.attributes["age"]["stages"] == b.attributes["age"]["stages"]
    assert (a.attributes["eyes"], a.attributes["skin"]) == (b.attributes["eyes"], b.attributes["skin"])
    with pytest.raises(FacesynthError, match="stage=3"):
        make_identity(face_model, cfg, 1, 3, 3)
    off = make_identity(face_model, GenConfig.model_validate({**SMALL, "aging": {"enabled": False}}), 1, 3)
    assert off.age is None and "age" not in off.attributes


def test_records_carry_the_age_they_show(face_model):
    from render.config import RenderConfig
    from render.pipeline import ImageMaker
    cfg = GenConfig.model_validate({**SMALL, "aging": {"stages": 2, "stage_run": 1, "span": 30}})
    m = ImageMaker(face_model, cfg, RenderConfig(), 0)
    try:
        ident = m.identity(6)
        recs = [m.render(ident, j) for j in range(2)]
        ages = [image_age(cfg.aging, 0, 6, j)[1] for j in range(2)]
        assert [r.age for r in recs] == pytest.approx(ages) and abs(ages[1] - ages[0]) == pytest.approx(30)
        again = m.render(m.identity(6), 1)  # served from the stage cache: same bytes
        assert again.image == recs[1].image
    finally:
        m.close()


def test_preview_ages_cli(tmp_path):
    out = tmp_path / "strip.png"
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "preview", "ages", "--identity", "1", "--ages", "25,75",
                        "--tile", "64", "--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    import cv2
    img = cv2.imread(str(out))
    assert img.shape[1] == 128 and img.shape[0] > 64
    r = subprocess.run([sys.executable, "-m", "cluster.cli", "preview", "ages", "--identity", "1", "--ages", "old",
                        "--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "--ages" in r.stderr
