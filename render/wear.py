"""What one identity wears: its hair style and glasses (per identity), headwear and masks (per image).

The sampling is gen's (gen/hairstyle.py, gen/accessories.py, pure); this module builds the parts
once per identity (headwear and masks on first use) and tells the renderer which are shown in an
image. Parts are rebuilt from (seed, identity, config) only, so a worker that binds an identity
late draws exactly what any other worker would.
"""
from __future__ import annotations

from gen.accessories import NONE, ImageAccessories, identity_glasses, image_accessories
from gen.hairstyle import sample_hairstyle


class IdentityWear:
    def __init__(self, model, gen_cfg, identity):
        from render.hair_mesh import build_hair
        self.model, self.vertices, self.cfg = model, identity.vertices, gen_cfg.accessories
        # gen draws by the source index: the identity filter's candidates wear their own things
        self.seed, self.index = int(identity.seed), int(identity.source)
        self.style = sample_hairstyle(gen_cfg.hair_style, identity.attributes, self.seed, self.index,
                                      gen_cfg.sex)
        self.glasses = identity_glasses(self.cfg, self.seed, self.index)
        self.parts: dict[str, list] = {}
        hair = build_hair(model, self.vertices, self.style)
        if hair:
            self.parts["hair"] = hair
        if self.glasses is not None:
            from render.accessory_mesh import build_glasses
            self.parts["glasses"] = build_glasses(model, self.vertices, self.glasses)
        self._uploaded = False

    @property
    def hair_name(self) -> str:
        return self.style.style

    def _build(self, name: str) -> None:
        from render.accessory_mesh import build_headwear, build_mask
        if name == "mask":
            self.parts[name] = build_mask(self.model, self.vertices)
        else:
            self.parts[name] = build_headwear(self.model, self.vertices, name, self.style)
        self._uploaded = False

    def for_image(self, renderer, image: int) -> tuple[ImageAccessories, frozenset]:
        """Image `image`'s accessories, with the renderer's parts ready; returns (what, visible names)."""
        acc = image_accessories(self.cfg, self.seed, self.index, image, self.glasses)
        shown = {n for n in ("hair", "glasses") if n in self.parts}
        if acc.glasses is None:
            shown.discard("glasses")
        extra = {}
        if acc.headwear != NONE:
            extra[acc.headwear] = acc.headwear_color
        if acc.face_mask != NONE:
            extra["mask"] = acc.mask_color
        for name in sorted(extra):
            if name not in self.parts:
                self._build(name)
        if not self._uploaded:
            renderer.set_attachments(self.parts)
            self._uploaded = True
        for name, color in extra.items():
            renderer.tint(name, color)
            shown.add(name)
        return acc, frozenset(shown)
