"""The appearance levers (gen/lookconfig.py, gen/appearance/look.py): determinism, independence of
their streams, validation of every key, and that each lever changes the maps where it should and
nowhere else."""
from __future__ import annotations

import json

import numpy as np
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from core.rng import stream
from gen import skin
from gen.appearance import make_appearance, sample_attributes
from gen.appearance.brows import brow_strokes
from gen.appearance.iris import sample_iris
from gen.appearance.lips import lip_box
from gen.config import AppearanceConfig
from gen.uvmaps import face_layout

LEVERS = ("brow_shape", "iris", "periocular", "lips", "undertone", "micro", "makeup")
SIZE = 256


def _cfg(on=LEVERS, **extra) -> AppearanceConfig:
    d = {"texture_size": SIZE, **{k: {"enabled": k in on} for k in LEVERS}}
    for k, v in extra.items():
        d[k] = {**d.get(k, {}), **v}
    return parse_model(AppearanceConfig, d)


@pytest.fixture(scope="module")
def lay(face_model):
    return face_layout(face_model, SIZE)


def test_levers_are_recorded_json_and_deterministic(face_model):
    cfg = _cfg()
    a = make_appearance(face_model, cfg, stream(5, 2, 7))
    b = make_appearance(face_model, cfg, stream(5, 2, 7))
    for k in a.maps:
        assert a.maps[k].tobytes() == b.maps[k].tobytes(), k
    assert a.colors == b.colors and a.attributes == b.attributes
    at = json.loads(json.dumps(a.attributes))
    brow_keys = {"arch", "peak", "tail", "length", "lift", "gap", "taper", "head", "sparse", "tone"}
    assert brow_keys <= set(at["brows"]["shape"])
    assert len(at["eyes"]["variant"]["srgb"]) == 3 and "carotene" in at["skin"]
    assert {"crease_height_cm", "lashes"} <= set(at["periocular"]) and {"melanin", "border"} <= set(at["lips"])
    assert {"pores", "pore_scale", "mottle"} <= set(at["micro"]) and "on" in at["makeup"]
    # Another identity differs in every lever.
    c = make_appearance(face_model, cfg, stream(5, 2, 8)).attributes
    for k in ("periocular", "lips", "micro"):
        assert c[k] != at[k]
    assert c["brows"]["shape"] != at["brows"]["shape"]


def test_levers_keep_existing_attributes_and_each_other():
    """Levers draw from their own streams: existing attributes keep their values, and turning one
    lever off leaves the others' values as they were."""
    derived = {"lab", "ita_deg", "srgb"}  # the recorded skin colour includes the undertone
    for i in range(20):
        off = sample_attributes(_cfg(on=()), stream(3, 2, i))
        on = sample_attributes(_cfg(), stream(3, 2, i))
        for k, v in off.items():
            if k == "skin":
                assert {a: b for a, b in v.items() if a not in derived} == \
                    {a: b for a, b in on[k].items() if a not in derived | {"carotene"}}
            elif isinstance(v, dict):
                assert {a: b for a, b in on[k].items() if a in v} == v, k
            else:
                assert on[k] == v, k
        for lever in LEVERS:
            part = sample_attributes(_cfg(on=[x for x in LEVERS if x != lever]), stream(3, 2, i))
            for k in ("periocular", "lips", "micro", "makeup"):
                if k != lever:
                    assert part[k] == on[k], (lever, k)


def _diff(a, b) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).reshape(a.shape[0], a.shape[1], -1).max(-1)


def _region(lay, lever: str) -> np.ndarray:
    """Where a lever may change the face albedo (generous boxes)."""
    S = lay.size
    lm = lay.lm_uv
    m = np.zeros((S, S), bool)
    px_cm = 1 / lay.face.cm_per_texel
    if lever == "brow_shape":
        r0 = int(lm[17:27, 1].min() - 1.2 * px_cm)
        r1 = int(lm[36:48, 1].min())
        m[max(r0, 0):r1, int(lm[17, 0] - 1.0 * px_cm):int(lm[26, 0] + 1.0 * px_cm)] = True
    elif lever == "lips":
        r0, r1, c0, c1 = lip_box(lay)
        m[r0:r1, c0:c1] = True
    elif lever == "periocular":  # the lid crease, and the darker skin under the eyes
        r0 = int(lm[17:27, 1].min())
        r1 = int(lm[36:48, 1].max() + 1.6 * px_cm)
        m[r0:r1, int(lm[36, 0] - 1.0 * px_cm):int(lm[45, 0] + 1.0 * px_cm)] = True
    return m


@pytest.mark.parametrize("lever", LEVERS)
def test_each_lever_changes_maps_where_expected(face_model, lay, lever):
    extra = {"makeup": {"prob": 1.0, "beard_excludes": False, "lipstick_prob": 1.0, "eyeliner_prob": 1.0,
                        "eyeshadow_prob": 1.0, "blush_prob": 1.0}}
    changed_any = False
    for i in range(3):
        off = make_appearance(face_model, _cfg(on=(), **extra), stream(8, 2, i))
        on = make_appearance(face_model, _cfg(on=(lever,), **extra), stream(8, 2, i))
        for k in ("roughness", "specular", "roughness_head", "specular_head"):
            ds = _diff(on.maps[k], off.maps[k])
            if lever == "brow_shape" and k in ("roughness", "specular"):
                assert ds[~_region(lay, lever)].max() == 0  # brow hairs are matte: only there
            else:
                assert ds.max() == 0, (lever, k)  # other levers leave the surface alone
        d = _diff(on.maps["albedo"], off.maps["albedo"])
        dh = _diff(on.maps["albedo_head"], off.maps["albedo_head"])
        if lever == "iris":
            assert d.max() == 0 and dh.max() == 0
            changed_any |= on.colors["iris"] != off.colors["iris"]
            assert {k: v for k, v in on.colors.items() if k != "iris"} == \
                {k: v for k, v in off.colors.items() if k != "iris"}
            continue
        assert dh.max() == 0 or lever == "undertone", lever  # only the base colour reaches the head tile
        changed_any |= bool((d > 3).sum() > 30)
        if lever in ("brow_shape", "lips", "periocular"):
            assert d[~_region(lay, lever)].max() <= 1, lever
        elif lever == "makeup":
            m = lay.masks
            near = (m["lips"] > 0.01) | (m["cheek"] > 0.003) | _region(lay, "periocular") | _region(lay, "lips")
            assert d[~near].max() <= 1
            assert on.attributes["makeup"]["on"]
        elif lever == "micro":
            inside = (lay.masks["lips"] > 0.99) & (lay.masks["mouth_inner"] < 0.01)
            assert d[inside].mean() < d[~inside & lay.face.covered].mean() / 3  # not on the lips
        elif lever == "undertone":
            a, b = skin.lab(skin.srgb_decode(on.colors["skin"] / np.float64(255))), \
                skin.lab(skin.srgb_decode(np.asarray(off.colors["skin"]) / 255))
            assert a[2] >= b[2]  # carotenoids only add yellow
    assert changed_any, lever


def test_makeup_share_and_beards():
    cfg = parse_model(AppearanceConfig, {"texture_size": 64})
    attrs = [sample_attributes(cfg, stream(21, 2, i)) for i in range(1500)]
    made = np.array([a["makeup"]["on"] for a in attrs])
    beard = np.array([a["facial_hair"] != "none" for a in attrs])
    assert 0.11 < made.mean() < 0.19  # DigiFace-1M's 0.15
    assert not (made & beard).any()
    kinds = {k for a in attrs if a["makeup"]["on"] for k in ("lipstick", "eyeshadow", "blush") if a["makeup"][k]}
    assert kinds == {"lipstick", "eyeshadow", "blush"}


def test_undertone_widens_the_yellow_spread():
    lab_on = np.array([sample_attributes(_cfg(), stream(4, 2, i))["skin"]["lab"] for i in range(150)])
    lab_off = np.array([sample_attributes(_cfg(on=()), stream(4, 2, i))["skin"]["lab"] for i in range(150)])
    # b* left over after a line in L*: the undertone spread at one lightness.
    res = lambda lab: lab[:, 2] - np.polyval(np.polyfit(lab[:, 0], lab[:, 2], 2), lab[:, 0])  # noqa: E731
    assert res(lab_on).std() > 1.5 * res(lab_off).std()
    assert np.abs(lab_on[:, 0] - lab_off[:, 0]).max() < 2.0  # lightness nearly unchanged
    assert skin.lab(skin.linear_rgb(0.03, 0.01, 0.75, 0.05))[2] > skin.lab(skin.linear_rgb(0.03, 0.01, 0.75))[2] + 4


def test_brown_irises_stay_brown():
    # A hue turn in linear RGB once made some dark brown irises magenta (green below blue) or
    # clipped their blue to 0; in encoded sRGB the same draws stay brown.
    cfg = _cfg()
    for name in ("dark_brown", "brown"):
        named = cfg.eyes.iris_colors[name]
        rgb = np.array([sample_iris(cfg.iris, named, np.random.default_rng(i))["srgb"] for i in range(1500)])
        assert (rgb[:, 1] < rgb[:, 2]).mean() < 0.025, name
        assert ((rgb == 0) | (rgb == 255)).any(axis=1).mean() < 0.005, name  # clipped channels
        assert (rgb[:, 0] >= rgb[:, 1]).all(), name  # red leads, as in every brown


def _brow_rows_cols(lay, shape: dict):
    attrs = {"brows": {"style": "soft_arch", "thickness": 1.0, "density": 0.8, "darken": 0.8, "shape": shape}}
    canvas, (r0, r1, c0, c1) = brow_strokes(np.random.default_rng(0), lay, attrs, np.random.default_rng(1))
    w = canvas.astype(float)
    rows, cols = np.nonzero(w > 60)
    return (rows + r0).mean(), cols + c0, w.sum()


def test_brow_parameters_move_the_brow(lay):
    base = {"arch": 0.45, "peak": 0.62, "tail": 0.3, "length": 1.0, "lift": 0.0, "gap": 0.0, "taper": 0.6,
            "head": 0.4, "sparse": 0.0, "tone": 0.0, "phase": [0.0, 0.0, 0.0]}
    y0, cols0, ink0 = _brow_rows_cols(lay, base)
    y1, _, _ = _brow_rows_cols(lay, dict(base, lift=0.3))
    assert y1 < y0 - 2  # higher brows (row 0 is the top)
    mid = 0.5 * (lay.lm_uv[21, 0] + lay.lm_uv[22, 0])
    _, cols, _ = _brow_rows_cols(lay, dict(base, gap=0.4))
    assert np.abs(cols - mid).min() > np.abs(cols0 - mid).min() + 3  # inner ends further apart
    _, cols, _ = _brow_rows_cols(lay, dict(base, length=1.15))
    assert np.abs(cols - mid).max() > np.abs(cols0 - mid).max() + 3  # longer tails
    _, _, ink = _brow_rows_cols(lay, dict(base, sparse=0.7))
    assert ink < 0.9 * ink0  # patchy brows carry less hair


@pytest.mark.parametrize("bad, key", [
    ({"brow_shape": {"lift": {"mean": 0.0, "sd": 0.1, "min": 0.2, "max": 0.1}}}, "lift"),
    ({"brow_shape": {"gap": {"mean": 0.9, "sd": 0.1, "min": -0.3, "max": 0.3}}}, "gap"),
    ({"brow_shape": {"arch": -0.1}}, "arch"),
    ({"brow_shape": {"peak": 0.5}}, "peak"),
    ({"brow_shape": {"sparse": {"mean": 0.2, "sd": -1, "min": 0, "max": 1}}}, "sparse"),
    ({"brow_shape": {"curl": 1}}, "curl"),
    ({"iris": {"hue": -5}}, "hue"),
    ({"iris": {"lightness": 2}}, "lightness"),
    ({"periocular": {"crease_height": {"mean": 5.0}}}, "crease_height"),
    ({"periocular": {"lashes": 1.0}}, "lashes"),
    ({"periocular": {"under_eye": {"mean": 0.3, "sd": 0.1, "min": 0.6, "max": 0.05}}}, "under_eye"),
    ({"periocular": {"under_eye_depth": {"mean": 0.5, "sd": -0.1, "min": 0.3, "max": 0.9}}}, "under_eye_depth"),
    ({"lips": {"cool": {"mean": 0, "sd": 0.1, "min": 1, "max": -1}}}, "cool"),
    ({"lips": {"hue": 3}}, "hue"),
    ({"undertone": {"carotene": {"mean": 0.1, "sd": 0.1, "min": 0, "max": 0.05}}}, "carotene"),
    ({"micro": {"enabled": "sometimes"}}, "enabled"),
    ({"makeup": {"prob": 1.5}}, "prob"),
    ({"makeup": {"blush_prob": -0.1}}, "blush_prob"),
    ({"makeup": {"lipsticks": {}}}, "lipsticks"),
    ({"makeup": {"eyeshadows": {"neon": [0, 300, 0]}}}, "neon"),
    ({"makeup": {"strength": {"mean": 0.5, "sd": 0.1, "min": 0.6, "max": 0.9}}}, "strength"),
])
def test_bad_lever_config(bad, key):
    with pytest.raises(FacesynthError, match=key):
        parse_model(AppearanceConfig, bad, "gen.yaml")


def test_under_eye_darkening_lies_below_the_lower_lids(lay):
    """periocular.under_eye darkens the skin just below each lower lid, fading downwards, and
    nothing above the eyes; 0 paints nothing there."""
    from gen.appearance.periocular import paint_crease
    base = {"crease_height_cm": 0.75, "crease": 0.0, "lid_shadow": 0.0, "lashes": 1.0, "under_eye_cm": 0.6}
    lm, px_cm = lay.lm_uv, 1 / lay.face.cm_per_texel
    maps = {}
    for k in (0.0, 0.4):
        lin = np.ones((lay.size, lay.size, 3), np.float32)
        paint_crease(lin, lay, {**base, "under_eye": k})
        maps[k] = lin[..., 0]
    assert maps[0.0].min() == 1.0
    dark = 1 - maps[0.4]
    for lower in ((41, 40), (47, 46)):  # the middle of each lower lid
        c, r = lm[list(lower)].mean(0)
        col = dark[:, int(round(c))]
        just_below = col[int(r + 0.15 * px_cm):int(r + 0.35 * px_cm)].mean()
        further = col[int(r + 0.9 * px_cm):int(r + 1.1 * px_cm)].mean()
        assert just_below > 0.1 and further < just_below / 2, (just_below, further)
    above = int(lm[17:27, 1].min())  # above the brows: untouched
    assert dark[:above].max() == 0
