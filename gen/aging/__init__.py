"""Procedural aging: the same identity at several ages (issue: cross-age training).

ages (how old identity i is in image j), curves (severity of each sign against age, with sources),
traits (an identity's aging pattern, drawn once, and its look at an age), wrinkles (the pattern's
lines, rasterised and deepened), skinage (grooves, spots, mottling on the albedo), shape (soft
tissue deformation of the mesh).
"""
from gen.aging.ages import STREAM_AGE, IdentityAges, identity_ages, image_age, image_stage
from gen.aging.traits import STREAM_AGING, AgeLook, AgingTraits, draw_traits, look

__all__ = ["STREAM_AGE", "STREAM_AGING", "AgeLook", "AgingTraits", "IdentityAges", "draw_traits", "identity_ages",
           "image_age", "image_stage", "look"]
