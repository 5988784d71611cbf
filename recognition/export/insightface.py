"""Export as insightface's MXNet RecordIO training set: train.rec, train.idx and property,
as arcface_torch's MXFaceDataset and insightface's older loaders read them.

Layout (insightface's face RecordIO convention, see recognition/data/recordio.py):
- record 0: a header whose two labels are (N + 1, N + 1 + K) for N images and K identities;
- records 1..N: the images, label = dense class id 0..K-1 (float32 in the IRHeader), grouped
  by identity;
- records N+1..N+K: one per identity, labels (first image record, end), empty payload;
- property: "K,H,W".
Records are written as they stream in; only the per-identity ranges are kept in memory.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from core.errors import FacesynthError
from recognition.data.recordio import IRHeader, encode_record, pack
from recognition.export.source import ExportSource, image_ext, progress_bar

# The IRHeader keeps a scalar label as float32: integers are exact only up to 2**24.
MAX_CLASSES = 1 << 24


class _RecWriter:
    def __init__(self, rec: Path):
        self.rec = open(rec, "wb")
        self.idx = open(rec.with_suffix(".idx"), "w")
        self.offset = 0

    def write(self, key: int, payload: bytes) -> None:
        blob = encode_record(payload)
        self.idx.write(f"{key}\t{self.offset}\n")
        self.rec.write(blob)
        self.offset += len(blob)

    def close(self) -> None:
        self.rec.close()
        self.idx.close()


def export_insightface(src: ExportSource, out: Path, progress: bool = True) -> dict:
    n, k = src.labels.num_images, src.labels.num_classes
    if k > MAX_CLASSES:
        raise FacesynthError(f"{src.uri}: {k} identities; insightface's float32 labels are exact only up to "
                             f"{MAX_CLASSES}; export a slice of identities (generate with identity_start/identities)")
    w = _RecWriter(out / "train.rec")
    size = None
    try:
        w.write(0, pack(IRHeader(2, (float(n + 1), float(n + 1 + k)), 0, 0), b""))
        key, first, end = 1, np.zeros(k, np.int64), np.zeros(k, np.int64)
        seen = np.zeros(k, bool)
        last = -1
        with progress_bar(n, "insightface", progress) as bar:
            for batch in src.batches(["image", "identity", "image_index"]):
                labels = batch.column("label").to_numpy()
                cols = [batch.column(c).to_pylist() for c in ("image", "identity", "image_index")]
                for img, ident, j, label in zip(*cols, labels):
                    if label != last:
                        if seen[label]:  # ranges per identity must be contiguous
                            raise FacesynthError(f"{src.uri}: identity {src.labels.identities[label]} appears in two "
                                                 "places; the shards are not grouped by identity")
                        seen[label], first[label], last = True, key, label
                    image_ext(img, f"identity {ident} image {j}")  # mxnet's imdecode takes JPEG and PNG
                    if size is None:
                        size = Image.open(io.BytesIO(img)).size
                    w.write(key, pack(IRHeader(0, float(label), key, 0), img))
                    key += 1
                    end[label] = key
                bar.update(batch.num_rows)
        for label in range(k):
            w.write(n + 1 + label, pack(IRHeader(2, (float(first[label]), float(end[label])), n + 1 + label, 0), b""))
    finally:
        w.close()
    (out / "property").write_text(f"{k},{size[1]},{size[0]}\n")
    return {"images": n, "identities": k, "files": ["train.rec", "train.idx", "property"]}
