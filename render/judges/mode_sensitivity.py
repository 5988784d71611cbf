"""How far the dlib judge's embedding moves per std of each identity mode of a face model.

  python -m render.judges.mode_sensitivity [--model ict-facekit] [--bases 4] [--delta 1.0]

For each of `bases` identities (default config with every mode alike, seed 11, no accessories),
mode k is moved by +-delta std, rendered frontal and neutral under the preview's studio light,
and embedded; s_k is the mean over bases of |e(+delta) - e(-delta)| / (2 delta). The result goes
to gen/data/mode_sensitivity_<model>.json, which identity.judge_weighting reads
(gen/mode_weights.py). Deterministic, like the renders and the judge. About 45 s per base on one
core for ICT's 100 modes.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import numpy as np

from core.atomic import atomic_write_text
from core.errors import FacesynthError, first_line

SEED = 11


def measured_config(model_name: str):
    """The identities the sensitivity is measured on: gen's defaults without judge weighting or
    accessories, ageing their own way (gen/aging/traits.py), as when the shipped data was measured;
    pinned, so a change of gen's default greys does not make the data stale."""
    from gen.aging.traits import OWN_WAY
    from gen.config import GenConfig
    return GenConfig.model_validate({"model": model_name, "identity": {"judge_weighting": 0},
                                     "accessories": {"glasses_prob": 0, "headwear_prob": 0, "mask_prob": 0},
                                     "aging": OWN_WAY})


def _maker(model_name: str):
    from gen.facemodel import load_model
    from render.config import RenderConfig
    from render.pipeline import ImageMaker
    model = load_model(model_name)
    return model, ImageMaker(model, measured_config(model_name), RenderConfig(), SEED)


def measure(model_name: str = "ict-facekit", bases: int = 4, delta: float = 1.0, progress=None,
            modes: int | None = None) -> dict:
    """{"sensitivity": [s_k], "per_base": [[s_k] per base], ...} for the model's identity modes
    (the first `modes` of them; None: all)."""
    from render.judges.face_id import FaceIdJudge
    from render.preview import STUDIO_LIGHTS
    if bases < 1 or not 0 < delta <= 3:
        raise FacesynthError(f"bases={bases}, delta={delta}: need bases >= 1 and 0 < delta <= 3 (std units)")
    model, maker = _maker(model_name)
    judge = FaceIdJudge()
    # A mode's change of the vertices per std (the model is linear in its coefficients).
    step = model.id_std[:, None, None] * model.id_basis
    per_base = []
    for b in range(bases):
        base = maker.identity(b)
        scene = dataclasses.replace(maker.scene(b, 0), yaw=0.0, pitch=0.0, roll=0.0, expression=None,
                                    lights=STUDIO_LIGHTS, ambient=0.3)
        crops, lms = [], []
        for k in range(model.n_identity if modes is None else min(modes, model.n_identity)):
            for sign in (1.0, -1.0):
                moved = dataclasses.replace(base, vertices=(base.vertices + sign * delta * step[k]).astype(np.float32))
                r = maker.render_scene(moved, scene)
                crops.append(r.clean_crop)
                lms.append(r.lm68)
            if progress:
                progress(1)
        e = judge.embed_crops(crops, lms)
        per_base.append(np.linalg.norm(e[0::2] - e[1::2], axis=1) / (2 * delta))
    s = np.mean(per_base, 0)
    return {"model": model.name, "model_version": model.version, "judge": "dlib_face_recognition_resnet_model_v1",
            "seed": SEED, "bases": bases, "delta_std": delta,
            "sensitivity": [round(float(x), 5) for x in s],
            "per_base": [[round(float(x), 5) for x in p] for p in per_base]}


def main(argv=None) -> int:
    from gen.mode_weights import sensitivity_path
    ap = argparse.ArgumentParser(prog="python -m render.judges.mode_sensitivity", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="ict-facekit")
    ap.add_argument("--bases", type=int, default=4, help="identities the sensitivity is averaged over")
    ap.add_argument("--delta", type=float, default=1.0, help="mode step, std units")
    ap.add_argument("--out", default=None, help="default: gen/data/mode_sensitivity_<model>.json")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    try:
        bar = None
        if not args.no_progress:
            from tqdm import tqdm
            from gen.facemodel import load_model
            bar = tqdm(total=args.bases * load_model(args.model).n_identity, unit="mode", file=sys.stderr)
        doc = measure(args.model, args.bases, args.delta, bar.update if bar else None)
        if bar:
            bar.close()
        out = args.out or sensitivity_path(args.model)
        atomic_write_text(out, json.dumps(doc, indent=1) + "\n")
    except FacesynthError as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return 2
    s = np.asarray(doc["sensitivity"])
    print(json.dumps({"out": str(out), "modes": len(s), "max": float(s.max()), "min": float(s.min()),
                      "first10_mean": float(s[:10].mean()), "last10_mean": float(s[-10:].mean())}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
