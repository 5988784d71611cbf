"""Stream a facesynth dataset for export: a cheap first pass for the labels, then the rows
shard by shard, row group by row group, so memory stays bounded by one batch."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cluster.dataset import Dataset, open_dataset
from core.errors import FacesynthError

BATCH_ROWS = 256


def image_ext(data: bytes, where: str = "an image") -> str:
    """File extension of an encoded image, from its magic bytes."""
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    raise FacesynthError(f"{where} is neither JPEG nor PNG; the dataset is damaged, regenerate its shard")


@dataclass(frozen=True)
class Labels:
    """Dense labels 0..K-1 for the dataset's identities, in identity order."""
    identities: np.ndarray  # sorted distinct identity ids; label k is identities[k]
    counts: np.ndarray  # images per label

    @property
    def num_classes(self) -> int:
        return len(self.identities)

    @property
    def num_images(self) -> int:
        return int(self.counts.sum())

    def of(self, identity: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.identities, identity)


class ExportSource:
    def __init__(self, uri: str):
        self.ds: Dataset = open_dataset(uri, require_complete=True)
        self.uri = uri
        self.labels = self._labels()

    @property
    def manifest(self) -> dict:
        return self.ds.manifest

    @property
    def n_shards(self) -> int:
        return len(self.ds.shard_paths)

    def _file(self, path: str) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.ds.out.fs.open_input_file(path))
        except (OSError, pa.ArrowInvalid) as e:
            raise FacesynthError(f"{path}: not a readable Parquet shard ({e}); rerun `facesynth generate` "
                                 "with the same config and --out to repair the dataset") from None

    def _labels(self) -> Labels:
        ids, counts = [], []
        for path in self.ds.shard_paths:
            col = self._file(path).read(columns=["identity"]).column("identity").to_numpy()
            u, c = np.unique(col, return_counts=True)
            ids.append(u)
            counts.append(c)
        if not ids or not sum(len(u) for u in ids):
            raise FacesynthError(f"{self.uri}: the dataset holds no rows")
        u, inv = np.unique(np.concatenate(ids), return_inverse=True)
        total = np.zeros(len(u), np.int64)
        np.add.at(total, inv, np.concatenate(counts))
        return Labels(u, total)

    def shard_batches(self, columns: list[str] | None = None) -> Iterator[tuple[int, Iterator[pa.RecordBatch]]]:
        """(shard number, its batches) in unit order; each batch gains a `label` column."""
        for n, path in enumerate(self.ds.shard_paths):
            yield n, self._batches(path, columns)

    def _batches(self, path: str, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        f = self._file(path)
        for b in f.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            label = self.labels.of(b.column("identity").to_numpy())
            yield b.append_column("label", pa.array(label, pa.int64()))

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        for _, batches in self.shard_batches(columns):
            yield from batches


def progress_bar(total: int, what: str, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, desc=what, unit="img", disable=not enabled)
