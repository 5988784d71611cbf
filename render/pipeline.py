"""ImageMaker: identity + (seed, i, j, config) -> one aligned, lit, randomized image record.

Per image: sample the scene (pure), deform the mesh by the expression (if any), render the frame
with the process's one EGL renderer, project the 68 landmarks of the posed mesh with the same
camera, composite the background, warp to the ArcFace crop, degrade, encode.

Frame geometry: the camera looks along -z at the centroid of the 5 ArcFace points (plus a small
jitter), from `distance` cm; the field of view is chosen so the frame spans `frame_margin` crop
widths, where a crop width is the face extent the ArcFace template gives this identity's eye
distance. So the frame-to-crop warp is close to 1:1 in scale for any distance.
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import FacesynthError
from render import align
from render.background import composite, list_images, make_background
from render.config import RenderConfig
from render.degrade import degrade
from render.landmarks import five_from_68, project
from render.record import NONE, ImageRecord
from render.scene import Scene, rotation, sample_scene

TEMPLATE_EYE_PX = float(np.linalg.norm(align.ARCFACE_TEMPLATE[1] - align.ARCFACE_TEMPLATE[0]))  # at 112 px
MOUTH_OPEN_UNITS = ("jaw", "mouth")  # expression units that can part the lips: draw teeth/gums


@dataclass
class Rendered:
    """Everything one image produced, before encoding (for previews, tests and benches)."""
    scene: Scene
    crop: np.ndarray  # (S,S,3) uint8, degraded
    clean_crop: np.ndarray  # (S,S,3) uint8 before degradations
    crop_alpha: np.ndarray  # (S,S) uint8 face coverage in the crop
    frame: np.ndarray  # (F,F,3) uint8 composited frame
    lm5: np.ndarray  # (5,2) crop px
    lm68: np.ndarray  # (68,2) crop px
    matrix: np.ndarray  # (2,3) frame -> crop
    yfov: float
    background: str
    degradations: list[str]
    off_axis_deg: float
    wear: object = None  # gen.accessories.ImageAccessories of this image


class ImageMaker:
    """One per process: owns the EGL renderer and the current identity's GPU mesh/textures."""

    def __init__(self, model, gen_cfg, render_cfg: RenderConfig, seed: int, identity_cache: int = 2,
                 variants=None):
        if seed < 0:
            raise FacesynthError(f"seed={seed}: must be a non-negative integer")
        self.model, self.gen_cfg, self.cfg, self.seed = model, gen_cfg, render_cfg, int(seed)
        bg = render_cfg.background
        self._bg_files = list_images(bg.folder) if bg.kinds.get("images", 0) > 0 else None
        self.renderer = None
        self._fresh = False
        self.fresh_renderer()
        self._lm = np.asarray(model.landmarks68, np.int64)
        self._mouth_units = np.array([n.startswith(MOUTH_OPEN_UNITS) for n in model.expr_names])
        self._identities: OrderedDict[int, object] = OrderedDict()
        self._staged: OrderedDict[tuple[int, int], object] = OrderedDict()  # (identity, age stage)
        self._cache_size = identity_cache
        # identity -> accepted candidate of the identity filter (render/identity_filter.py); absent = 0
        self.variants = variants

    def fresh_renderer(self) -> None:
        """A new GL context, unless nothing was drawn since the last one. Mesa's llvmpipe keeps
        state from earlier draws (its compiled shader variants) that can move a few pixels at
        alpha-tested hair edges of later images; a render actor starts every unit afresh, so a
        unit's bytes never depend on what the actor rendered before (about 0.5 s per unit)."""
        if self._fresh:
            return
        from render.renderer import FaceRenderer
        old, self.renderer = self.renderer, FaceRenderer(self.model, self.cfg.output.frame_size,
                                                  mesh=self.cfg.output.mesh)
        if old is not None:
            old.close()
        self._wear = None
        self._fresh = True

    # ---- identities ---------------------------------------------------------------------------
    def identity(self, i: int):
        """Identity i (cached); its mesh/textures are uploaded when it is first rendered."""
        if i in self._identities:
            self._identities.move_to_end(i)
            return self._identities[i]
        from gen.identity import make_identity
        ident = make_identity(self.model, self.gen_cfg, self.seed, i, variant=self.variant(i))
        self._identities[i] = ident
        while len(self._identities) > self._cache_size:
            self._identities.popitem(last=False)
        return ident

    def variant(self, i: int) -> int:
        return int(self.variants[i]) if self.variants is not None and i in self.variants else 0

    def _bind(self, identity) -> None:
        # The renderer's key is the identity object itself, compared by `is`: it stays alive while
        # bound, so a new identity can never pass for it. (A key of id() let a freed identity's
        # address go to the next one: the identity filter, which builds and drops a candidate's
        # youngest and oldest identity in turn, rendered some oldest probes with the youngest face.)
        if self.renderer.identity_key is not identity:
            from render.mesh import build_atlas
            albedo, surface = build_atlas(identity.maps, identity.colors)
            self.renderer.set_identity(identity, identity.vertices, albedo, surface)
            from render.wear import IdentityWear
            self._wear = IdentityWear(self.model, self.gen_cfg, identity)

    # ---- images -------------------------------------------------------------------------------
    def scene(self, identity_index: int, j: int) -> Scene:
        return sample_scene(self.cfg, self.seed, identity_index, j, self.gen_cfg.expression)

    def render(self, identity, j: int) -> ImageRecord:
        """The record of image j of `identity` (see docs/render.md for the fields)."""
        identity, age = self.at_age(identity, j)
        r = self.render_scene(identity, self.scene(identity.index, j))
        # aging: the record keeps the age this image shows (record() itself is untouched).
        return dataclasses.replace(self.record(identity, r), age=age)

    def at_age(self, identity, j: int):
        """(identity at the age stage of image j, the age in years its face shows) (gen/aging/ages.py).
        Stages other than the one passed in are built once and cached beside the identity cache. The
        stage follows the identity's index; the years are those of the person drawn, which differ for a
        candidate of the identity filter (its own draw of ages)."""
        from gen.aging import image_age
        stage, age = image_age(self.gen_cfg.aging, self.seed, identity.index, j)
        if identity.stage != stage:
            key = (identity.index, stage)
            if key in self._staged:
                self._staged.move_to_end(key)
            else:
                from gen.identity import make_identity
                self._staged[key] = make_identity(self.model, self.gen_cfg, self.seed, identity.index, stage,
                                                  variant=identity.variant)
                while len(self._staged) > self._cache_size * self.gen_cfg.aging.stages:
                    self._staged.popitem(last=False)
            identity = self._staged[key]
        return identity, (age if identity.age is None else identity.age)

    def render_scene(self, identity, scene: Scene) -> Rendered:
        cfg, out = self.cfg, self.cfg.output
        size, fsize = out.image_size, out.frame_size
        self._fresh = False
        self._bind(identity)

        verts = identity.vertices
        mouth = False
        if scene.expression is not None:
            verts = self.model.with_expression(verts, scene.expression)
            mouth = bool(np.any(scene.expression[self._mouth_units] > 0.02))

        rot = rotation(scene.yaw, scene.pitch, scene.roll)
        lm3 = verts[self._lm].astype(np.float64)  # head frame
        p5 = five_from_68(lm3)
        centre = p5.mean(0)
        target = rot @ centre + np.asarray(scene.shift)
        cam = target + np.array([0.0, 0.0, scene.distance])
        eye_cm = float(np.linalg.norm(p5[1] - p5[0]))
        crop_cm = 112.0 * eye_cm / TEMPLATE_EYE_PX
        frame_cm = out.frame_margin * crop_cm / scene.zoom
        yfov = 2.0 * np.arctan(0.5 * frame_cm / scene.distance)

        m4 = np.eye(4)
        m4[:3, :3] = rot
        wear, shown = self._wear.for_image(self.renderer, scene.image)
        rgba = self.renderer.render(m4, verts if scene.expression is not None else None, mouth,
                                    yfov, cam, target, scene.ambient, scene.lights, visible=shown)

        lm68_px = project(lm3 @ rot.T, cam, yfov, fsize)
        p5_px = five_from_68(lm68_px)
        frontal = (p5 - centre) @ rotation(0.0, 0.0, scene.roll).T + rot @ centre
        frontal_px = project(frontal, cam, yfov, fsize)
        centre_px = project((rot @ centre)[None], cam, yfov, fsize)[0]
        forward = rot @ np.array([0.0, 0.0, 1.0])
        to_cam = (cam - rot @ centre) / np.linalg.norm(cam - rot @ centre)
        off_axis = float(np.degrees(np.arccos(np.clip(forward @ to_cam, -1, 1))))
        mat = align.alignment_matrix(p5_px, frontal_px, centre_px, off_axis, size)

        bg_rng = np.random.default_rng(scene.background_seed)
        kind, bg = make_background(cfg.background, fsize, bg_rng, self._bg_files)
        frame = composite(rgba, bg)
        crop = cv2.warpAffine(frame, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = align.warp(np.ascontiguousarray(rgba[..., 3]), mat, size)
        degraded, applied = degrade(crop, cfg.degradations, np.random.default_rng(scene.degrade_seed))
        return Rendered(scene=scene, crop=degraded, clean_crop=crop, crop_alpha=alpha, frame=frame,
                        lm5=align.apply(mat, p5_px), lm68=align.apply(mat, lm68_px), matrix=mat, yfov=float(yfov),
                        background=kind, degradations=applied, off_axis_deg=off_axis, wear=wear)

    def encode(self, img: np.ndarray) -> bytes:
        o = self.cfg.output
        if o.format == "png":
            ok, buf = cv2.imencode(".png", img[..., ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 6])
        else:
            ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, o.quality])
        if not ok:
            raise FacesynthError(f"could not encode an image as {o.format}")
        return buf.tobytes()

    def record(self, identity, r: Rendered) -> ImageRecord:
        s = r.scene
        expr = s.expression if s.expression is not None else np.zeros(len(self.model.expr_names), np.float32)
        return ImageRecord(
            image=self.encode(r.crop), identity=int(identity.index), image_index=int(s.image),
            yaw=s.yaw, pitch=s.pitch, roll=s.roll,
            landmarks5=r.lm5.reshape(-1).astype(np.float32), landmarks68=r.lm68.reshape(-1).astype(np.float32),
            expression=np.asarray(expr, np.float32),
            camera_fov_deg=float(np.degrees(r.yfov)), camera_distance=s.distance, camera_zoom=s.zoom,
            lights=tuple(L.record() for L in s.lights), ambient=s.ambient,
            background=r.background, degradations=tuple(r.degradations),
            seed=self.seed, model_name=self.model.name, model_version=self.model.version,
            full_image=self.encode(r.frame) if self.cfg.output.keep_full_frame else None,
            hair_style=self._wear.hair_name, glasses=r.wear.glasses_name, headwear=r.wear.headwear,
            face_mask=r.wear.face_mask, sex=str(identity.attributes.get("sex", NONE)))

    def close(self) -> None:
        self.renderer.close()
