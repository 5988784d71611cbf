"""The face-identity judge: dlib's recogniser (render/judges/face_id.py) over a whole dataset.

    from recognition.judge import judge_dataset, compute_metrics
    m = judge_dataset("out/frontal", max_yaw=15)      # metrics dict; also writes out/frontal/_judge/
    m, dists = compute_metrics(embeddings, labels, yaw=yaw)   # from embeddings you already have

See docs/judge.md.
"""
from recognition.judge.metrics import compute as compute_metrics
from recognition.judge.run import judge, judge_dataset

__all__ = ["compute_metrics", "judge", "judge_dataset"]
