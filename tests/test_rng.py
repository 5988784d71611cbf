"""core.rng: one stream helper, and weighted choices that ignore the order keys were written in."""
from __future__ import annotations

import numpy as np
import pytest

from core.errors import FacesynthError
from core.rng import stream, weighted_choice


def test_stream_is_a_pure_function_of_its_key():
    assert stream(3, 201, 4, 5).random() == stream(3, 201, 4, 5).random()
    assert stream(3, 201, 4, 5).random() != stream(3, 201, 5, 4).random()
    with pytest.raises(FacesynthError):
        stream(-1, 1, 0)


def test_weighted_choice_ignores_key_order_and_follows_weights():
    a = {"solid": 0.2, "noise": 0.5, "shapes": 0.3}
    b = dict(reversed(list(a.items())))
    draws_a = [weighted_choice(stream(1, 9, i), a) for i in range(2000)]
    draws_b = [weighted_choice(stream(1, 9, i), b) for i in range(2000)]
    assert draws_a == draws_b
    share = {k: draws_a.count(k) / len(draws_a) for k in a}
    assert all(abs(share[k] - a[k]) < 0.04 for k in a)
    assert weighted_choice(stream(1, 9, 0), {"only": 1.0, "never": 0.0}) == "only"


def test_yaml_order_of_a_weighted_choice_does_not_change_images(tmp_path, face_model):
    """Two configs that differ only in the YAML order of lighting/background kinds render the same bytes."""
    from cluster.config import load_job_config
    from render.pipeline import ImageMaker

    body = ("seed: 5\nidentities: 2\nimages_per_identity: 3\ngen: {appearance: {texture_size: 128}}\n"
            "render:\n  lighting:\n    kinds: {KINDS_L}\n  background:\n    kinds: {KINDS_B}\n")
    fwd = body.replace("{KINDS_L}", "{directional: 0.4, point: 0.3, spot: 0.3}").replace(
        "{KINDS_B}", "{solid: 0.3, gradient: 0.2, noise: 0.3, shapes: 0.2}")
    rev = body.replace("{KINDS_L}", "{spot: 0.3, point: 0.3, directional: 0.4}").replace(
        "{KINDS_B}", "{shapes: 0.2, noise: 0.3, gradient: 0.2, solid: 0.3}")
    hashes = []
    for name, text in (("fwd.yaml", fwd), ("rev.yaml", rev)):
        (tmp_path / name).write_text(text)
        cfg = load_job_config(tmp_path / name)
        maker = ImageMaker(face_model, cfg.gen, cfg.render, cfg.seed)
        try:
            recs = [maker.render(maker.identity(i), j) for i in range(2) for j in range(3)]
        finally:
            maker.close()
        hashes.append([(r.image, r.background, tuple(L["kind"] for L in r.lights)) for r in recs])
    assert hashes[0] == hashes[1]
    assert len({h[1] for h in hashes[0]}) > 1 or len({h[2] for h in hashes[0]}) > 1  # the choices did vary
