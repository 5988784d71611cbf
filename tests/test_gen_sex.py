"""Sex per identity (gen/sex.py): a seeded draw, and the shape and appearance priors it shifts."""
from __future__ import annotations

import numpy as np
import pytest

from core.config import parse_model
from core.errors import FacesynthError
from core.rng import stream
from gen import anthropometry
from gen.appearance import sample_attributes
from gen.config import GenConfig
from gen.hairstyle import sample_hairstyle
from gen.identity import identity_attributes
from gen.sex import SexConfig, draw_sex, shape_shift

N = 1500


def _people(cfg: GenConfig, seed: int = 3, n: int = N) -> list[dict]:
    out = []
    for i in range(n):
        sex = draw_sex(cfg.sex, seed, i)
        out.append(sample_attributes(cfg.appearance, stream(seed, 2, i), sex, cfg.sex.look(sex)))
    return out


def test_the_draw_is_seeded_and_follows_the_share():
    cfg = SexConfig()
    a = [draw_sex(cfg, 7, i) for i in range(N)]
    assert a == [draw_sex(cfg, 7, i) for i in range(N)]
    assert a != [draw_sex(cfg, 8, i) for i in range(N)]
    assert abs(a.count("female") / N - 0.5) < 0.04
    assert {draw_sex(SexConfig(female_share=0.0), 7, i) for i in range(50)} == {"male"}
    assert {draw_sex(SexConfig(enabled=False), 7, i) for i in range(50)} == {None}


def test_local_proportions_differ_by_sex_as_configured():
    cfg = GenConfig()
    ls, sx = cfg.local_shape, cfg.sex
    men = [anthropometry.sample_params(ls, stream(1, 4, i), shape_shift(sx, "male")) for i in range(N)]
    women = [anthropometry.sample_params(ls, stream(1, 4, i), shape_shift(sx, "female")) for i in range(N)]
    for feat in ("nose_width", "jaw_width", "brow_ridge", "lip_fullness"):
        gap = np.mean([m[feat] for m in men]) - np.mean([w[feat] for w in women])
        want = 2 * sx.shape_d[feat] * getattr(ls, feat) * ls.scale
        assert gap == pytest.approx(want, rel=0.05), feat
    assert shape_shift(sx, None) == {}


def test_appearance_priors_follow_sex():
    cfg = GenConfig()
    people = _people(cfg)
    women = [p for p in people if p["sex"] == "female"]
    men = [p for p in people if p["sex"] == "male"]
    assert all(p["facial_hair"] == "none" for p in women)
    bearded = np.mean([p["facial_hair"] != "none" for p in men])
    assert bearded == pytest.approx(min(1.0, cfg.appearance.hair.facial_hair_prob * cfg.sex.male.facial_hair), abs=0.05)
    made_up = lambda group: np.mean([p["makeup"]["on"] for p in group])  # noqa: E731
    assert made_up(women) > 5 * made_up(men)
    overall = made_up(people)
    assert overall == pytest.approx(cfg.appearance.makeup.prob, abs=0.04)  # the population share holds
    thick = lambda group: np.mean([p["brows"]["thickness"] for p in group])  # noqa: E731
    assert thick(men) > 1.3 * thick(women)
    assert np.mean([p["skin"]["melanin"] for p in women]) < np.mean([p["skin"]["melanin"] for p in men])


def test_hair_styles_follow_sex():
    cfg = GenConfig()
    people = _people(cfg, n=800)
    styles = {"female": [], "male": []}
    for i, p in enumerate(people):
        styles[p["sex"]].append(sample_hairstyle(cfg.hair_style, p, 3, i, cfg.sex).style)
    share = lambda s, name: styles[s].count(name) / len(styles[s])  # noqa: E731
    assert share("female", "long") > 3 * share("male", "long")
    assert share("male", "bald") + share("male", "receding") > 3 * (share("female", "bald") + share("female", "receding"))


def test_identities_record_their_sex_and_disabling_restores_mixed_priors(face_model):
    cfg = GenConfig()
    assert identity_attributes(face_model, cfg, 3, 0)["sex"] in ("female", "male")
    off = GenConfig.model_validate({"sex": {"enabled": False}})
    people = [identity_attributes(face_model, off, 3, i) for i in range(300)]
    assert all("sex" not in p for p in people)
    bearded = np.mean([p["facial_hair"] != "none" for p in people])
    assert bearded == pytest.approx(off.appearance.hair.facial_hair_prob, abs=0.07)


@pytest.mark.parametrize("bad, needle", [
    ({"female_share": 1.5}, "female_share"),
    ({"shape_d": {"nose_wdth": 1.0}}, "nose_wdth"),
    ({"shape_d": {"nose_width": 9.0}}, "shape_d"),
    ({"male": {"facial_hair": -1}}, "facial_hair"),
    ({"female": {"colour": 1}}, "colour"),
])
def test_bad_sex_config_names_the_key(bad, needle):
    with pytest.raises(FacesynthError, match=needle):
        parse_model(GenConfig, {"sex": bad}, "gen")
