"""Small constructed face-like data sets for tests and bench scripts (no real faces needed).

Each identity is a fixed arrangement of coloured ellipses on its own background colour;
each image of it jitters positions slightly. Pure functions of (identity, image).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def face_like(identity: int, image: int, size: int = 112) -> np.ndarray:
    """(size, size, 3) uint8 RGB."""
    ident_rng = np.random.default_rng([7, identity])
    jitter = np.random.default_rng([8, identity, image])
    im = Image.new("RGB", (size, size), tuple(int(v) for v in ident_rng.integers(0, 256, 3)))
    d = ImageDraw.Draw(im)
    for _ in range(5):
        x, y = ident_rng.integers(0, size * 3 // 4, 2) + jitter.integers(-2, 3, 2)
        w, h = ident_rng.integers(size // 8, size // 3, 2)
        d.ellipse([int(x), int(y), int(x + w), int(y + h)], fill=tuple(int(v) for v in ident_rng.integers(0, 256, 3)))
    return np.asarray(im)


def encode(img: np.ndarray, fmt: str = "JPEG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt, quality=92) if fmt == "JPEG" else Image.fromarray(img).save(buf, fmt)
    return buf.getvalue()


def write_parquet(path: str | Path, identities: int, images_per_identity: int, identity_start: int = 0,
                  yaws: list[float] | None = None, size: int = 112) -> Path:
    """A Parquet file with the columns recognition reads: image (JPEG), identity (int64), yaw (float32)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    images, ids, yaw = [], [], []
    for i in range(identity_start, identity_start + identities):
        for j in range(images_per_identity):
            images.append(encode(face_like(i, j, size)))
            ids.append(i)
            yaw.append(0.0 if yaws is None else yaws[j % len(yaws)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"image": pa.array(images, pa.binary()), "identity": pa.array(ids, pa.int64()),
                             "image_index": pa.array([k % images_per_identity for k in range(len(ids))], pa.int32()),
                             "yaw": pa.array(yaw, pa.float32())}), path)
    return path


def write_imagefolder(root: str | Path, identities: int, images_per_identity: int) -> Path:
    root = Path(root)
    for i in range(identities):
        d = root / f"person{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(images_per_identity):
            Image.fromarray(face_like(i, j)).save(d / f"{j}.png")
    return root
