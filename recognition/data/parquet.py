"""facesynth Parquet shards as a training source (reads only the image and identity columns)."""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from cluster.dataset import open_dataset
from cluster.storage import MANIFEST
from core.errors import FacesynthError


def shard_files(path: str | Path) -> list[Path]:
    p = Path(path)
    if p.is_file():
        return [p]
    if (p / MANIFEST).is_file():  # a facesynth dataset: its manifest lists the committed shards
        return [Path(f) for f in open_dataset(str(p)).files]
    files = []
    if p.is_dir():  # skip hidden and _private folders (e.g. a job's _tmp/)
        files = sorted(f for f in p.rglob("*.parquet")
                       if not any(part.startswith(("_", ".")) for part in f.relative_to(p).parts))
    if not files:
        raise FacesynthError(f"{p}: no *.parquet shards found; point the source at a shards directory or file")
    return files


class ParquetSource:
    """Random access to (image bytes, label). Labels are the sorted distinct identities, renumbered 0..n-1.

    Small sets (under `preload_mb` of image bytes) are held in memory; larger ones are read a
    row group at a time through a small per-process cache.
    """

    def __init__(self, path: str | Path, preload_mb: float = 1024.0, cache_row_groups: int = 8):
        self.name = Path(path).name
        self.files = shard_files(path)
        rows, idents, img_bytes = [], [], 0
        for fi, f in enumerate(self.files):
            try:
                meta = pq.ParquetFile(f)
            except Exception as e:  # noqa: BLE001 - pyarrow raises several types for bad files
                raise FacesynthError(f"{f}: not a readable Parquet file ({e}); remove or regenerate it") from None
            names = meta.schema_arrow.names
            for col in ("image", "identity"):
                if col not in names:
                    raise FacesynthError(f"{f}: missing column {col!r}; training shards need image and identity")
            img_col = names.index("image")
            for rg in range(meta.num_row_groups):
                n = meta.metadata.row_group(rg).num_rows
                rows.append(np.stack([np.full(n, fi), np.full(n, rg), np.arange(n)], 1))
                img_bytes += meta.metadata.row_group(rg).column(img_col).total_uncompressed_size
            idents.append(pq.read_table(f, columns=["identity"]).column("identity").to_numpy())
        if not rows:
            raise FacesynthError(f"{path}: the shards hold no rows")
        self.rows = np.concatenate(rows).astype(np.int64)
        identity = np.concatenate(idents).astype(np.int64)
        self.identities, self.labels = np.unique(identity, return_inverse=True)
        self.num_classes = len(self.identities)
        self._cache: OrderedDict = OrderedDict()
        self._cache_size = cache_row_groups
        self._images = None
        if img_bytes <= preload_mb * 2**20:
            self._images = [b for f in self.files
                            for b in pq.read_table(f, columns=["image"]).column("image").to_pylist()]

    def __len__(self) -> int:
        return len(self.rows)

    def _row_group(self, fi: int, rg: int) -> list:
        key = (fi, rg)
        if key not in self._cache:
            col = pq.ParquetFile(self.files[fi]).read_row_group(rg, columns=["image"]).column("image")
            self._cache[key] = col.to_pylist()
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(key)
        return self._cache[key]

    def get(self, i: int) -> tuple[bytes, int]:
        if self._images is not None:
            return self._images[i], int(self.labels[i])
        fi, rg, r = self.rows[i]
        return self._row_group(int(fi), int(rg))[int(r)], int(self.labels[i])
