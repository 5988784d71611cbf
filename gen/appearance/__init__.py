"""Procedural, physically motivated appearance of one identity in the ICT UV layout.

One module per layer: attributes (every per-identity choice), tone (spectral skin colour and the
low-frequency skin layer), marks (blemishes, freckles, moles), brows (brows and lash line),
strands + hair (facial and scalp hair), materials (which material takes which map or colour,
surface maps), paint (raster helpers); compose.make_appearance ties them together.
"""
from gen.appearance.attributes import sample_attributes
from gen.appearance.compose import Appearance, make_appearance
from gen.appearance.materials import MATERIAL_COLORS, MATERIAL_SURFACE, MATERIAL_TEXTURES

__all__ = ["Appearance", "MATERIAL_COLORS", "MATERIAL_SURFACE", "MATERIAL_TEXTURES", "make_appearance",
           "sample_attributes"]
