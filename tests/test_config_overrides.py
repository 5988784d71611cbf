"""A config section given in part keeps the documented defaults for the keys it leaves out."""
from __future__ import annotations

import pytest

from cluster.config import JobConfig
from core.errors import FacesynthError
from core.config import parse_model

BASE = {"identities": 4, "images_per_identity": 2}


def test_partial_distribution_keeps_its_other_defaults():
    cfg = parse_model(JobConfig, BASE | {"render": {"pose": {"yaw": {"std": 20}}}})
    default = JobConfig.model_validate(BASE).render.pose
    assert cfg.render.pose.yaw.std == 20
    assert (cfg.render.pose.yaw.min, cfg.render.pose.yaw.max) == (default.yaw.min, default.yaw.max)
    assert cfg.render.pose.pitch == default.pitch


def test_weight_tables_are_replaced_not_merged():
    cfg = parse_model(JobConfig, BASE | {"render": {"background": {"kinds": {"solid": 1}}}})
    assert dict(cfg.render.background.kinds) == {"solid": 1.0}


def test_bad_value_in_a_partial_section_names_only_that_key():
    with pytest.raises(FacesynthError) as e:
        parse_model(JobConfig, BASE | {"render": {"pose": {"yaw": {"std": -3}}}}, "job.yaml")
    msg = str(e.value)
    assert msg.startswith("job.yaml: render.pose.yaw.std:") and ";" not in msg.split(":", 2)[2]
    assert "\n" not in msg


def test_unknown_key_inside_a_partial_section_is_still_refused():
    with pytest.raises(FacesynthError, match=r"render\.pose\.yaw\.sdt: unknown key"):
        parse_model(JobConfig, BASE | {"render": {"pose": {"yaw": {"sdt": 3}}}})
