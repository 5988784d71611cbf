"""Appearance: skin colour from the spectral model, regional variation, marks, hair, diversity."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from gen import skin
from gen.appearance import MATERIAL_COLORS, MATERIAL_TEXTURES, make_appearance, sample_attributes
from gen.config import AppearanceConfig, GenConfig
from core.errors import FacesynthError
from gen.identity import make_identity
from core.rng import stream
from gen.uvmaps import face_layout
from core.config import parse_model


def test_spectral_skin_model_trends():
    light, dark = skin.linear_rgb(0.02, 0.01), skin.linear_rgb(0.35, 0.01)
    assert skin.lab(light)[0] > 60 > 40 > skin.lab(dark)[0]  # melanin darkens
    pale, flushed = skin.lab(skin.linear_rgb(0.03, 0.005)), skin.lab(skin.linear_rgb(0.03, 0.03))
    assert flushed[1] > pale[1] + 3  # blood reddens (a* up)
    assert all(skin.lab(skin.linear_rgb(m, 0.01))[2] > 5 for m in (0.013, 0.1, 0.43))  # skin is yellowish


def test_skin_tone_population_spans_measured_range():
    cfg = AppearanceConfig()
    attrs = [sample_attributes(cfg, stream(9, 2, i)) for i in range(300)]
    L = np.array([a["skin"]["lab"][0] for a in attrs])
    ita = np.array([a["skin"]["ita_deg"] for a in attrs])
    # Measured facial skin spans roughly L* 25-75 (Del Bino & Bernerd 2013); ITA covers every class.
    assert L.min() < 38 and L.max() > 66 and 20 < L.min() and L.max() < 80
    assert (ita > 55).any() and ((ita > 10) & (ita < 28)).any() and (ita < -30).any()
    # Darker skin comes with darker hair and irises more often.
    dark = L < 45
    black = np.array([a["hair"]["color"] in ("black", "dark_brown") for a in attrs])
    assert black[dark].mean() > black[~dark].mean()


def test_attribute_diversity():
    cfg = AppearanceConfig()
    attrs = [sample_attributes(cfg, stream(3, 2, i)) for i in range(400)]
    hair = Counter(a["hair"]["color"] for a in attrs)
    brows = Counter(a["brows"]["style"] for a in attrs)
    facial = Counter(a["facial_hair"] for a in attrs)
    iris = Counter(a["eyes"]["iris"] for a in attrs)
    assert len(hair) >= 6 and len(brows) == 4 and len(iris) >= 5
    assert set(facial) == {"none", "stubble", "mustache", "goatee", "full_beard"}
    assert 0.2 < 1 - facial["none"] / 400 < 0.4  # facial_hair_prob 0.3
    assert any(a["marks"]["freckles"] for a in attrs) and any(a["marks"]["moles"] for a in attrs)


@pytest.fixture(scope="module")
def lay(face_model):
    return face_layout(face_model, 256)


def _lab_img(albedo: np.ndarray) -> np.ndarray:
    lin = skin.srgb_decode(albedo.reshape(-1, 3) / 255.0)
    return np.stack([skin.lab(c) for c in lin]).reshape(albedo.shape)


def _mean_lab(albedo, mask):
    sel = albedo[mask]
    return skin.lab(skin.srgb_decode(sel / 255.0).mean(0))


def test_regional_variation(face_model, lay):
    cfg = parse_model(AppearanceConfig, {"texture_size": 256, "marks": {"mole_mean": 0, "blemish_mean": 0,
                                                                          "freckle_prob": 0},
                                         "hair": {"facial_hair_prob": 0, "scalp_prob": 0}})
    m = lay.masks
    reds, lips, eyes = [], [], []
    for i in range(6):
        app = make_appearance(face_model, cfg, stream(11, 2, i))
        alb = app.maps["albedo"]
        plain = (m["cheek"] < 0.05) & (m["nose"] < 0.05) & (m["lips"] < 0.05) & (m["eyes"] < 0.05) \
            & (m["forehead"] > 0.5) & (m["scalp_field"] < -1.5)
        cheek = m["cheek"] > 0.7
        ref = _mean_lab(alb, plain)
        reds.append(_mean_lab(alb, cheek)[1] - ref[1])
        lips.append(_mean_lab(alb, m["lips"] > 0.9)[1] - ref[1])
        eyes.append(_mean_lab(alb, (m["eyes"] > 0.7) & (m["eye_open"] < 0.1))[0] - ref[0])
        rough, spec = app.maps["roughness"].astype(float), app.maps["specular"].astype(float)
        tz = (m["tzone"] > 0.7) & (m["scalp_field"] < -1.5)
        assert rough[tz].mean() < rough[cheek].mean() and spec[tz].mean() > spec[cheek].mean()  # oily T-zone
    assert min(reds) > 1.0  # redder cheeks (a*)
    assert min(lips) > 4.0  # redder lips
    assert max(eyes) < -1.0  # darker eye region (L*) than plain forehead skin


def test_marks_and_hair_change_the_map(face_model, lay):
    base = {"texture_size": 256, "marks": {"mole_mean": 0, "blemish_mean": 0, "freckle_prob": 0},
            "hair": {"facial_hair_prob": 0, "scalp_prob": 0}}
    plain = make_appearance(face_model, parse_model(AppearanceConfig, base), stream(1, 2, 0))
    attrs = dict(plain.attributes)
    attrs["marks"] = {"freckles": 120, "moles": 3, "blemishes": 0}
    marked = make_appearance(face_model, parse_model(AppearanceConfig, base), stream(1, 2, 0), attrs=attrs)
    d = plain.maps["albedo"].astype(int).sum(-1) - marked.maps["albedo"].astype(int).sum(-1)
    assert (d > 15).sum() > 100  # many darker texels: freckles and moles
    cheeks = lay.masks["cheek"] + lay.masks["nose"]
    assert cheeks[d > 15].mean() > cheeks.mean()  # freckles sit on cheeks and nose
    attrs2 = dict(plain.attributes, facial_hair="full_beard",
                  hair=dict(plain.attributes["hair"], scalp=True, hairline=0.0, color="black", srgb=[22, 18, 16]))
    hairy = make_appearance(face_model, parse_model(AppearanceConfig, base), stream(1, 2, 0), attrs=attrs2)
    lum = lambda a: a.astype(float).mean(-1)  # noqa: E731
    beard = lay.masks["beard"] > 0.8
    assert lum(hairy.maps["albedo"])[beard].mean() < lum(plain.maps["albedo"])[beard].mean() - 20
    scalp = lay.masks["scalp_field"] > 1.0
    assert lum(hairy.maps["albedo"])[scalp].mean() < lum(plain.maps["albedo"])[scalp].mean() - 20
    assert hairy.maps["roughness"][beard].mean() > plain.maps["roughness"][beard].mean()  # hair is matte


def test_identities_look_distinct(face_model):
    cfg = GenConfig.model_validate({"appearance": {"texture_size": 128}})
    albs = [make_identity(face_model, cfg, 0, i).maps["albedo"].astype(float) for i in range(8)]
    diffs = [np.abs(albs[i] - albs[j]).mean() for i in range(8) for j in range(i + 1, 8)]
    assert min(diffs) > 3.0


def test_material_tables_cover_the_model(face_model):
    for name in face_model.region_names:
        assert name in MATERIAL_TEXTURES or name in MATERIAL_COLORS, name
    app = make_appearance(face_model, parse_model(AppearanceConfig, {"texture_size": 128}), stream(0, 2, 0))
    for key, _ in MATERIAL_TEXTURES.values():
        assert key in app.maps
    for key in MATERIAL_COLORS.values():
        assert key is None or key in app.colors


@pytest.mark.parametrize("bad, key", [
    ({"texture_size": 10}, "texture_size"),
    ({"skin": {"melanin_weights": [1, 1]}}, "melanin_weights"),
    ({"hair": {"brow_styles": {"zigzag": 1.0}}}, "zigzag"),
    ({"skin": {"blood": {"min": 0.05, "max": 0.01}}}, "min"),
    ({"eyes": {"iris_probs": {"violet": 1.0}}}, "violet"),
])
def test_bad_appearance_config(bad, key):
    with pytest.raises(FacesynthError, match=key):
        parse_model(AppearanceConfig, bad, "gen.yaml")
