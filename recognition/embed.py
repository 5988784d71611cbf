"""`facesynth embed`: flip-summed, L2-normalised embeddings of images, written to Parquet."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from core.atomic import atomic_path
from core.errors import FacesynthError
from recognition import checkpoint as ckpt
from recognition.data.imagefolder import IMAGE_EXTS
from recognition.eval import embed_array
from recognition.data.mixed import decode


def list_images(inputs: list[str]) -> list[Path]:
    files = []
    for s in inputs:
        p = Path(s)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS)
        elif p.is_file():
            files.append(p)
        else:
            raise FacesynthError(f"{p}: no such image or directory")
    if not files:
        raise FacesynthError("embed: no images found in the given paths")
    return files


def run(checkpoint: str, inputs: list[str], out: str | Path, batch_size: int = 64, device: str = "cpu") -> Path:
    files = list_images(inputs)
    net, state = ckpt.load_backbone(checkpoint, device)
    size = state["input_size"]
    arr = np.empty((len(files), size, size, 3), np.uint8)
    for i, f in enumerate(files):
        try:
            arr[i] = decode(f.read_bytes(), size)
        except (ValueError, OSError):
            raise FacesynthError(f"{f}: not a decodable image; remove it from the inputs") from None
    emb = embed_array(net, arr, batch_size, device)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-12)
    dim = emb.shape[1]
    table = pa.table({
        "path": [str(f) for f in files],
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.reshape(-1), pa.float32()), dim),
    })
    out = Path(out)
    try:
        with atomic_path(out) as tmp:
            pq.write_table(table, tmp)
    except OSError as e:
        raise FacesynthError(f"--out {out}: cannot write it ({e.strerror or e}); pass a writable file path") from None
    return out
