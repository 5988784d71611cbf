"""Does a real detector see our faces? Runs the MTCNN judge (render/judges/mtcnn.py) on stored crops.

Shared by tests/test_render_mtcnn.py and bench/render.py. For each |yaw| bin it renders images as
the config draws them (identity, lights, background, expression, degradations, the other pose
angles) with only the yaw replaced by a value inside the bin, decodes the stored image bytes, and
records whether MTCNN finds a face and how far its 5 points lie from ours (aligned-crop pixels).
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from core.rng import stream

STREAM_JUDGE = 290
YAW_BINS = ((0, 15), (15, 30), (30, 45), (45, 60), (60, 75), (75, 90))


@dataclasses.dataclass
class JudgeResult:
    yaw: np.ndarray  # (N,)
    detected: np.ndarray  # (N,) bool
    point_err: np.ndarray  # (N, 5) px, NaN where not detected

    def rate(self, lo: float, hi: float) -> float:
        m = (np.abs(self.yaw) >= lo) & (np.abs(self.yaw) <= hi)
        return float(self.detected[m].mean()) if m.any() else float("nan")

    def median_px(self, lo: float, hi: float) -> float:
        m = (np.abs(self.yaw) >= lo) & (np.abs(self.yaw) <= hi) & self.detected
        return float(np.nanmedian(self.point_err[m])) if m.any() else float("nan")

    def by_bin(self) -> dict:
        return {f"{lo}-{hi}": {"n": int(((np.abs(self.yaw) >= lo) & (np.abs(self.yaw) < hi + (hi == 90))).sum()),
                               "detect_rate": round(self.rate(lo, hi), 4), "median_px": round(self.median_px(lo, hi), 3)}
                for lo, hi in YAW_BINS}


def judge(maker, judge_det, per_bin: int, bins=YAW_BINS, identities: int = 8, seed: int = 0) -> JudgeResult:
    yaws, hits, errs = [], [], []
    k = 0
    for b, (lo, hi) in enumerate(bins):
        for n in range(per_bin):
            i, j = k % identities, k // identities
            k += 1
            rng = stream(seed, STREAM_JUDGE, b, n)
            yaw = float(rng.uniform(lo, hi)) * (1 if rng.random() < 0.5 else -1)
            ident = maker.identity(i)
            scene = dataclasses.replace(maker.scene(i, j), yaw=yaw)
            rec = maker.record(ident, maker.render_scene(ident, scene))
            img = cv2.imdecode(np.frombuffer(rec.image, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
            ours = np.asarray(rec.landmarks5).reshape(5, 2)
            det = judge_det.best_face(np.ascontiguousarray(img))
            yaws.append(yaw)
            hits.append(det is not None)
            if det is None:
                errs.append(np.full(5, np.nan))
            else:
                # MTCNN pixel i covers [i, i+1); ours put pixel centres at integers.
                theirs = np.asarray(det.landmarks, float) - 0.5
                errs.append(np.linalg.norm(theirs - ours, axis=1))
    return JudgeResult(np.array(yaws), np.array(hits), np.array(errs))
