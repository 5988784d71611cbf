"""`facesynth judge`: embed a dataset (or a folder of real photos) with dlib's recogniser and
write judge.json, distances.png, closest.png and the embedding cache into one output folder."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_text
from core.errors import FacesynthError
from recognition.judge import data, metrics, report

REPORT_FILE = "judge.json"
PLOT_FILE = "distances.png"
CLOSEST_FILE = "closest.png"
CACHE_VERSION = 1


def embed_faces(faces: data.Faces, judge=None, cache_dir: Path | None = None,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """((N, 128) float32 embeddings, (N,) bool: a face was found). Uses and updates the cache
    in cache_dir; images of a dataset always have a face (their own landmarks)."""
    from render.judges.face_id import FaceIdJudge, RECOGNITION_MODEL
    judge = judge or FaceIdJudge()
    settings = {"model": RECOGNITION_MODEL, "upscale": judge.upscale, "border": judge.border,
                "points": "mtcnn+shape_predictor_5" if faces.info.get("kind") == "photos" else "landmarks68",
                "version": CACHE_VERSION}
    cache_path = cache_dir / data.CACHE_FILE if cache_dir is not None else None
    cache = data.load_cache(cache_path, faces.source_hash, settings) if cache_path else {}
    todo = [i for i, k in enumerate(faces.keys) if k not in cache]
    if todo:
        from tqdm import tqdm
        bar = tqdm(total=len(todo), desc="judge: embedding", unit="img", disable=not progress, leave=False)
        try:
            for pos, imgs, lms in faces.batches(todo):
                if lms is not None:
                    vecs = judge.embed_crops(imgs, lms)
                    found = np.ones(len(pos), bool)
                else:
                    vecs, found = judge.embed_photos(imgs)
                it = iter(vecs)
                for p, ok in zip(pos, found):
                    cache[faces.keys[p]] = next(it) if ok else None
                bar.update(len(pos))
        finally:
            bar.close()
            if cache_path is not None:  # keep what was embedded even after Ctrl-C
                data.write_cache(cache_path, faces.source_hash, settings, cache)
    missing = [k for k in faces.keys if k not in cache]
    if missing:
        raise FacesynthError(f"judge: {len(missing)} image(s) were not read back from the source "
                             f"(first: {missing[0]}); was the dataset changed while judging?")
    found = np.array([cache[k] is not None for k in faces.keys], bool)
    emb = np.zeros((len(faces.keys), 128), np.float32)
    if found.any():
        emb[found] = np.stack([cache[k] for k, ok in zip(faces.keys, found) if ok])
    return emb, found


def closest_pairs_sheet(path: Path, faces: data.Faces, found: np.ndarray, closest: list) -> None:
    """Draw the identity pairs the judge finds most alike (`closest_identity_pairs`), one image of
    each: its most frontal (a dataset) or its first (photos). What to look at first."""
    pos = np.flatnonzero(found)
    labels = faces.labels[pos]
    if faces.yaw is not None:
        ref = metrics.reference_images(labels, faces.yaw[pos], faces.image_index[pos])
        first = {lab: int(pos[r]) for lab, r in zip(labels.tolist(), ref.tolist())}
    else:
        first = {}
        for lab, p in zip(labels.tolist(), pos.tolist()):
            first.setdefault(lab, p)
    wanted = sorted({first[a] for a, _, _ in closest} | {first[b] for _, b, _ in closest})
    images = {p: img for ps, imgs, _ in faces.batches(wanted) for p, img in zip(ps, imgs)}
    report.pairs_sheet_png(path, [(images[first[a]], images[first[b]], f"{a} and {b}: {d:.3f}")
                                  for a, b, d in closest])


def default_out(source: str) -> Path:
    if "://" in source and not source.startswith("file://"):
        raise FacesynthError(f"{source}: a remote dataset needs --out (a local folder for the report)")
    return Path(source.removeprefix("file://")) / "_judge"


def judge(source: str, out: str | None = None, real: bool = False, max_identities: int | None = None,
          images_per_identity: int | None = None, max_yaw: float | None = None, progress: bool = False,
          max_impostor_pairs: int = 1_000_000, seed: int = 0, judge_model=None) -> dict:
    """Judge a facesynth dataset (or, with real=True, a folder of photos laid out as ID/*.jpg|png).
    Returns the report (also written to OUT/judge.json)."""
    for name, v in (("--max-identities", max_identities), ("--images-per-identity", images_per_identity)):
        if v is not None and v < 1:
            raise FacesynthError(f"{name} must be >= 1 (got {v})")
    if max_yaw is not None and not 0 <= max_yaw <= 180:
        raise FacesynthError(f"--max-yaw must be in [0, 180] degrees (got {max_yaw})")
    if real:
        if max_yaw is not None:
            raise FacesynthError("--max-yaw needs per-image yaw, which real photos do not have; drop it with --real")
        faces = data.photo_faces(source, max_identities, images_per_identity)
    else:
        if not ("://" in source) and Path(source).is_dir() and not (Path(source) / "_manifest.json").exists():
            raise FacesynthError(f"{source}: not a facesynth dataset (no _manifest.json); for a folder of real "
                                 "photos laid out as ID/*.jpg|png add --real")
        faces = data.dataset_faces(source, max_identities, images_per_identity, max_yaw)
    out_dir = Path(out) if out else default_out(source)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FacesynthError(f"{out_dir}: cannot create the report folder ({e.strerror}); pass --out DIR") from None

    emb, found = embed_faces(faces, judge_model, out_dir, progress)
    if not found.any():
        raise FacesynthError(f"{source}: no faces found in {len(found)} image(s)")
    labels = faces.labels[found]
    if len(np.unique(labels)) < 2:
        raise FacesynthError(f"{source}: the judge needs at least 2 identities with a face found "
                             f"(got {len(np.unique(labels))})")
    sub = (lambda a: None if a is None else a[found])
    m, dist = metrics.compute(emb[found], labels, yaw=sub(faces.yaw), expression=sub(faces.expression),
                              age=sub(faces.age), image_index=sub(faces.image_index),
                              categories={k: v[found] for k, v in faces.categories.items()},
                              max_impostor_pairs=max_impostor_pairs, seed=seed)
    m["images_without_face"] = int((~found).sum())
    doc = {
        "source": faces.info,
        "selection": {"max_identities": max_identities, "images_per_identity": images_per_identity,
                      "max_yaw": max_yaw},
        "judge": "dlib_face_recognition_resnet_model_v1 (150 px chips, padding 0.25)",
        "metrics": m,
        "histogram": {"edges": metrics.HIST_BINS.tolist(),
                      "genuine": np.histogram(dist["genuine"], metrics.HIST_BINS)[0].tolist(),
                      "impostor": np.histogram(dist["impostor"], metrics.HIST_BINS)[0].tolist()},
        "files": {"report": str(out_dir / REPORT_FILE), "plot": str(out_dir / PLOT_FILE),
                  "closest": str(out_dir / CLOSEST_FILE),
                  "embeddings": str(out_dir / data.CACHE_FILE)},
    }
    title = f"{source}: {m['identities']} identities, {m['images']} images"
    report.histogram_png(out_dir / PLOT_FILE, dist["genuine"], dist["impostor"], m, title)
    closest_pairs_sheet(out_dir / CLOSEST_FILE, faces, found, m["closest_identity_pairs"])
    atomic_write_text(out_dir / REPORT_FILE, json.dumps(doc, indent=1) + "\n")
    return doc


def judge_dataset(path: str, **kwargs) -> dict:
    """Metrics dict of a facesynth dataset (see `judge` for the keyword arguments)."""
    return judge(path, real=False, **kwargs)["metrics"]
