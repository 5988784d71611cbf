"""The identity filter: keep only identities a real-trained recogniser tells apart.

For identity i = 0, 1, 2, ... in index order, candidate t = 0, 1, ... (gen's draw of source index
i + t * 2^40, see gen.identity.source_index) is rendered once, frontal, neutral and undegraded
(the lights and background of its image 0), and embedded with dlib's recogniser
(render/judges/face_id.py). The first candidate farther than `min_distance` from every identity
accepted before i is kept; when all `max_tries` are close, the farthest one is kept and counted.
DCFace (Kim et al., CVPR 2023) and Vec2Face (Wu et al., 2024) filter generated identities the
same way, with their own recognisers.

The accepted variants depend only on (seed, config, index order): candidate embeddings are pure
functions of them, and the greedy pass visits indices in order. A dataset stores its variants
(cluster/identity_filter.py), so a resume never recomputes them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from render.config import IdentityFilterConfig


@dataclass
class FilterResult:
    variants: np.ndarray  # (N,) int32: accepted candidate of identity 0..N-1
    nearest: np.ndarray  # (N,) float32: its distance to the nearest identity accepted before it
    tries: int  # candidates rendered and embedded
    unmet: int  # identities where no candidate reached min_distance

    def to_json(self) -> dict:
        return {"variants": [int(v) for v in self.variants], "tries": int(self.tries), "unmet": int(self.unmet),
                "nearest": [round(float(d), 4) if np.isfinite(d) else -1.0 for d in self.nearest]}  # -1: first


def candidate_probe(maker, index: int, variant: int):
    """The filter's view of candidate `variant` of identity `index`: (clean crop, 68 landmarks)."""
    from gen.identity import make_identity
    ident = make_identity(maker.model, maker.gen_cfg, maker.seed, index, variant=variant)
    scene = dataclasses.replace(maker.scene(index, 0), yaw=0.0, pitch=0.0, roll=0.0, expression=None,
                                zoom=1.0, shift=(0.0, 0.0, 0.0))
    r = maker.render_scene(ident, scene)
    return r.clean_crop, r.lm68


def select(cfg: IdentityFilterConfig, embed, n: int, progress=None) -> FilterResult:
    """Greedy acceptance over identities 0..n-1. `embed(index, variant) -> (128,) array`."""
    accepted = np.zeros((n, 128), np.float32)
    variants = np.zeros(n, np.int32)
    nearest = np.full(n, np.inf, np.float32)
    tries = unmet = 0
    for i in range(n):
        best_t, best_d, best_e = 0, -1.0, None
        for t in range(cfg.max_tries):
            e = np.asarray(embed(i, t), np.float32)
            tries += 1
            d = float(np.min(np.linalg.norm(accepted[:i] - e, axis=1))) if i else float("inf")
            if d > best_d:
                best_t, best_d, best_e = t, d, e
            if d > cfg.min_distance:
                break
        else:
            unmet += 1
        accepted[i], variants[i], nearest[i] = best_e, best_t, best_d
        if progress is not None:
            progress(i, best_t)
    return FilterResult(variants=variants, nearest=nearest, tries=tries, unmet=unmet)


def run_filter(model, gen_cfg, render_cfg, seed: int, n: int, progress=None) -> FilterResult:
    """Render, embed and select identities 0..n-1 in this process (one EGL renderer)."""
    from render.judges.face_id import FaceIdJudge
    from render.pipeline import ImageMaker
    maker = ImageMaker(model, gen_cfg, render_cfg, seed)
    judge = FaceIdJudge()
    try:
        def embed(i: int, t: int) -> np.ndarray:
            crop, lm = candidate_probe(maker, i, t)
            return judge.embed_crops([crop], [lm])[0]
        return select(render_cfg.identity_filter, embed, n, progress)
    finally:
        maker.close()
