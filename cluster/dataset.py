"""Read a facesynth dataset through its manifest (the source of truth on every filesystem).

    from cluster.dataset import open_dataset
    ds = open_dataset("out/demo")          # or s3://bucket/prefix
    ds.files                               # committed shards, in unit order
    table = ds.read(columns=["identity", "yaw"])
    for batch in ds.iter_batches(columns=["image", "identity"]): ...

Other readers work on the same files: pandas.read_parquet(ds.files[0]),
ray.data.read_parquet(ds.files), datasets.load_dataset("parquet", data_files=ds.files).

The manifest is validated when opened (its entries can name only their own shards inside the
dataset root). `open_dataset(uri, verify=True)` also checks every shard's bytes against its
recorded SHA-256 (reading the whole dataset once); `facesynth verify OUT` does the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.dataset as pads

from cluster import manifest as mf
from cluster import storage
from core.errors import FacesynthError, first_line


@dataclass(frozen=True)
class Dataset:
    out: storage.Out
    manifest: dict

    @property
    def complete(self) -> bool:
        return bool(self.manifest.get("complete"))

    @property
    def shard_paths(self) -> list[str]:
        """Paths inside `out.fs` of the committed shards, in unit order."""
        units = sorted(self.manifest["committed"], key=int)
        return [self.out.path(self.manifest["committed"][u]["file"]) for u in units]

    @property
    def files(self) -> list[str]:
        """The committed shards as paths or URIs other readers accept."""
        if self.out.is_local:
            return self.shard_paths
        base = self.out.uri.rstrip("/")
        return [f"{base}/{self.manifest['committed'][u]['file']}" for u in sorted(self.manifest["committed"], key=int)]

    @property
    def rows(self) -> int:
        return int(sum(r["rows"] for r in self.manifest["committed"].values()))

    @property
    def bytes(self) -> int:
        return int(sum(r["bytes"] for r in self.manifest["committed"].values()))

    def verify(self) -> dict[str, str]:
        """unit -> what is wrong, for every committed shard whose bytes are not the recorded ones."""
        return mf.verify_shards(self.out, self.manifest)

    def _damaged(self, e: Exception) -> FacesynthError:
        return FacesynthError(f"{self.out.uri}: cannot read its shards ({first_line(e, 200)}); "
                              f"run `facesynth verify {self.out.uri}`, then rerun generate to redo damaged shards")

    def arrow(self) -> pads.Dataset:
        try:
            return pads.dataset(self.shard_paths, format="parquet", filesystem=self.out.fs)
        except (OSError, pa.ArrowException) as e:
            raise self._damaged(e) from e

    def read(self, columns: list[str] | None = None, filter=None) -> pa.Table:
        try:
            return self.arrow().to_table(columns=columns, filter=filter)
        except (OSError, pa.ArrowException) as e:
            raise self._damaged(e) from e

    def iter_batches(self, columns: list[str] | None = None, batch_size: int = 1024) -> Iterator[pa.RecordBatch]:
        try:
            yield from self.arrow().to_batches(columns=columns, batch_size=batch_size)
        except (OSError, pa.ArrowException) as e:
            raise self._damaged(e) from e


def open_dataset(uri: str, require_complete: bool = False, verify: bool = False) -> Dataset:
    """The dataset at `uri`, its manifest validated; with verify, every shard's checksum too."""
    out = storage.resolve(uri)
    m = mf.read(out)
    if m is None:
        raise FacesynthError(f"{uri}: no {storage.MANIFEST}; not a facesynth dataset (make one with `facesynth generate`)")
    ds = Dataset(out, m)
    if require_complete and not ds.complete:
        raise FacesynthError(f"{uri}: dataset is incomplete ({len(m['committed'])} of {m['layout']['units']} units); "
                             "rerun `facesynth generate` with the same config and --out to finish it")
    if verify:
        bad = ds.verify()
        if bad:
            u = min(bad, key=int)
            raise FacesynthError(f"{uri}: {len(bad)} of {len(m['committed'])} shards damaged "
                                 f"({m['committed'][u]['file']}: {bad[u]}); rerun `facesynth generate` with the "
                                 "same config and --out to redo them")
    return ds
