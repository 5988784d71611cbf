"""Combining training sources into batches, deterministically and resumably.

Global batch b is a pure function of (seed, b, config): in `mix` mode each source s
contributes a fixed count n_s to every batch, taken from an endless stream of per-epoch
permutations of that source (stream position p = b*n_s + k is item perm_{seed,s,p//len}[p%len]);
in `concat` mode one stream runs over all sources. Each sample's augmentation rng derives from
(seed, b, k), so neither worker count nor restarts change what a step sees.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from core.errors import FacesynthError
from core.rng import stream as rng_stream
from recognition.augment import augment
from recognition.config import AugmentConfig, DataConfig, SourceConfig

STREAM_SHUFFLE, STREAM_AUGMENT = 0x5348, 0x4155  # core.rng stream tags


def open_source(cfg: SourceConfig):
    from pathlib import Path
    if not Path(cfg.path).exists():
        raise FacesynthError(f"data source {cfg.path}: not found; fix data.sources[].path")
    if cfg.kind == "parquet":
        from recognition.data.parquet import ParquetSource
        return ParquetSource(cfg.path)
    if cfg.kind == "recordio":
        from recognition.data.recordio import RecordIOSource
        return RecordIOSource(cfg.path)
    from recognition.data.imagefolder import ImageFolderSource
    return ImageFolderSource(cfg.path)


def split_counts(weights: list[float], batch_size: int) -> list[int]:
    """Per-source samples per batch: weights scaled to the batch, largest remainder, at least 1 each."""
    if batch_size < len(weights):
        raise FacesynthError(f"batch_size {batch_size} is smaller than the {len(weights)} sources; raise batch_size")
    w = np.asarray(weights, float) / sum(weights)
    raw = w * (batch_size - len(weights))
    counts = np.floor(raw).astype(int) + 1
    for i in np.argsort(-(raw - np.floor(raw)), kind="stable")[: batch_size - counts.sum()]:
        counts[i] += 1
    return counts.tolist()


@dataclass(frozen=True)
class Key:
    """One sample of one step: which source item, and which (batch, slot) seeds its augmentation."""
    source: int
    index: int
    batch: int
    slot: int


class BatchPlan:
    def __init__(self, lengths: list[int], batch_size: int, combine: str, seed: int,
                 weights: list[float] | None = None):
        self.lengths, self.seed, self.batch_size = list(lengths), seed, batch_size
        if combine == "mix":
            self.streams = [(s,) for s in range(len(lengths))]
            self.counts = split_counts(weights or [1.0] * len(lengths), batch_size)
        else:  # concat: one stream over every source
            self.streams = [tuple(range(len(lengths)))]
            self.counts = [batch_size]
        self.stream_len = [sum(self.lengths[s] for s in st) for st in self.streams]
        self._starts = [np.cumsum([0] + [self.lengths[s] for s in st]) for st in self.streams]
        self._perm_cache: dict = {}

    @property
    def steps_per_epoch(self) -> int:
        """An epoch is one pass over the first stream (the first source in mix mode)."""
        return math.ceil(self.stream_len[0] / self.counts[0])

    def _perm(self, stream: int, epoch: int) -> np.ndarray:
        key = (stream, epoch)
        if key not in self._perm_cache:
            if len(self._perm_cache) > 2 * len(self.streams):
                self._perm_cache.clear()
            rng = rng_stream(self.seed, STREAM_SHUFFLE, stream, epoch)
            self._perm_cache[key] = rng.permutation(self.stream_len[stream])
        return self._perm_cache[key]

    def batch(self, b: int) -> list[Key]:
        keys, slot = [], 0
        for st, n in enumerate(self.counts):
            length = self.stream_len[st]
            for p in range(b * n, (b + 1) * n):
                item = int(self._perm(st, p // length)[p % length])
                j = int(np.searchsorted(self._starts[st], item, side="right") - 1)
                keys.append(Key(self.streams[st][j], item - int(self._starts[st][j]), b, slot))
                slot += 1
        return keys


class PlanSampler(Sampler):
    """Yields this rank's share of batches start..stop-1 (a rank takes slots rank::world)."""

    def __init__(self, plan: BatchPlan, start: int, stop: int, rank: int = 0, world: int = 1):
        self.plan, self.start, self.stop, self.rank, self.world = plan, start, stop, rank, world

    def __len__(self) -> int:
        return max(0, self.stop - self.start)

    def __iter__(self):
        for b in range(self.start, self.stop):
            yield self.plan.batch(b)[self.rank::self.world]


def decode(data: bytes, size: int) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("image bytes could not be decoded")
    if img.shape[:2] != (size, size):
        img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img[..., ::-1])  # BGR -> RGB


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 HWC RGB -> float CHW in [-1, 1] (arcface_torch normalisation)."""
    return torch.from_numpy(img.transpose(2, 0, 1).copy()).float().div_(127.5).sub_(1.0)


class TrainSet(Dataset):
    """Indexed by Key; labels of source s are offset by the classes of sources before it."""

    def __init__(self, sources: list, augment_cfg: AugmentConfig, input_size: int, seed: int):
        self.sources, self.augment_cfg, self.input_size, self.seed = sources, augment_cfg, input_size, seed
        self.offsets = np.cumsum([0] + [s.num_classes for s in sources]).tolist()
        self.num_classes = self.offsets[-1]

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def __getitem__(self, key: Key):
        src = self.sources[key.source]
        data, label = src.get(key.index)
        try:
            img = decode(data, self.input_size)
        except ValueError:
            raise FacesynthError(f"{src.name}: item {key.index} is not a decodable image; "
                                 "remove it from the data set") from None
        rng = rng_stream(self.seed, STREAM_AUGMENT, key.batch, key.slot)
        img = augment(img, self.augment_cfg, rng)
        return to_tensor(img), label + self.offsets[key.source]


def build(cfg: DataConfig, batch_size: int, seed: int) -> tuple[TrainSet, BatchPlan]:
    sources = [open_source(s) for s in cfg.sources]
    for s, sc in zip(sources, cfg.sources):
        s.name = sc.name or s.name
    plan = BatchPlan([len(s) for s in sources], batch_size, cfg.combine, seed,
                     [s.weight for s in cfg.sources])
    return TrainSet(sources, cfg.augment, cfg.input_size, seed), plan
