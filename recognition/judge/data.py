"""What the judge reads: a facesynth dataset (rows with landmarks) or a folder of real photos.

Both give a `Faces` set: per-image keys, identity labels and optional metadata, plus a way to
produce each image's embedding. Embeddings are cached beside the report in `embeddings.parquet`
(identity, key, 128 floats per row; Parquet, never pickle), tagged with a hash of the source
and the judge settings, so a rerun embeds only images it has not seen.

Source hash: for a dataset, its manifest's `config_hash` and schema version (rendering is a pure
function of the config, so a shard redone or added later has the same bytes for a key); for a
photo folder, every file's relative path, size and modification time.
"""
from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from PIL import Image, ImageOps

from core.atomic import atomic_write_bytes
from core.errors import FacesynthError

CACHE_FILE = "embeddings.parquet"
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
# Per-image string columns (schema 2, sex: 3) the consistency section is also broken down by, when present.
CATEGORY_COLUMNS = ("glasses", "headwear", "face_mask", "hair_style", "sex")


@dataclass
class Faces:
    """Images to judge. keys: unique per image (str); labels: identity of each image."""
    source_hash: str
    keys: list[str]
    labels: np.ndarray
    # batches of (positions into keys, RGB uint8 images, (68, 2) landmarks or None)
    batches: Callable[[list[int]], Iterator[tuple[list[int], list[np.ndarray], list[np.ndarray] | None]]]
    yaw: np.ndarray | None = None
    expression: np.ndarray | None = None
    age: np.ndarray | None = None
    image_index: np.ndarray | None = None
    categories: dict[str, np.ndarray] = field(default_factory=dict)
    info: dict = field(default_factory=dict)


def decode(data: bytes) -> np.ndarray:
    """RGB uint8 pixels, upright (a camera's EXIF orientation applied; renders carry none)."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


# ---- facesynth datasets ----------------------------------------------------------------------
def dataset_faces(uri: str, max_identities: int | None = None, images_per_identity: int | None = None,
                  max_yaw: float | None = None, batch_size: int = 32) -> Faces:
    from cluster.dataset import open_dataset
    ds = open_dataset(uri)
    if not ds.manifest.get("committed"):
        raise FacesynthError(f"{uri}: the dataset has no committed shards yet; run `facesynth generate` first")
    arrow = ds.arrow()
    names = set(arrow.schema.names)
    need = {"image", "identity", "image_index", "yaw", "landmarks68"}
    if need - names:
        raise FacesynthError(f"{uri}: shards lack column(s) {', '.join(sorted(need - names))}; "
                             "is this a facesynth dataset of schema 1 or later?")
    meta_cols = ["identity", "image_index", "yaw"] + [c for c in ("expression", "age", *CATEGORY_COLUMNS)
                                                       if c in names]
    flt = None
    if images_per_identity is not None:
        flt = pc.field("image_index") < images_per_identity
    if max_yaw is not None:
        f = pc.abs(pc.field("yaw")) <= max_yaw
        flt = f if flt is None else flt & f
    meta = arrow.to_table(columns=meta_cols, filter=flt)
    ident = meta.column("identity").to_numpy()
    if max_identities is not None:
        chosen = np.unique(ident)[:max_identities]
        keep = np.isin(ident, chosen)
        meta = meta.filter(pa.array(keep))
        ident = ident[keep]
    if meta.num_rows == 0:
        raise FacesynthError(f"{uri}: no images left after --max-identities/--images-per-identity/--max-yaw")
    order = np.lexsort((meta.column("image_index").to_numpy(), ident))
    meta = meta.take(pa.array(order))
    ident = meta.column("identity").to_numpy().astype(np.int64)
    index = meta.column("image_index").to_numpy().astype(np.int64)
    keys = [f"{i}/{k}" for i, k in zip(ident, index)]
    row_of = {k: n for n, k in enumerate(keys)}

    def batches(positions: list[int]):
        """Read only the rows asked for, shard by shard, `batch_size` images at a time."""
        wanted = {keys[p] for p in positions}
        ids = sorted({int(ident[p]) for p in positions})
        sel = pc.field("identity").isin(ids)
        if flt is not None:
            sel = sel & flt
        for rb in arrow.to_batches(columns=["identity", "image_index", "image", "landmarks68"],
                                   filter=sel, batch_size=batch_size):
            d = rb.to_pydict()
            pos, imgs, lms = [], [], []
            for i, k, img, lm in zip(d["identity"], d["image_index"], d["image"], d["landmarks68"]):
                key = f"{i}/{k}"
                if key in wanted:
                    pos.append(row_of[key])
                    imgs.append(decode(img))
                    lms.append(np.asarray(lm, np.float64).reshape(68, 2))
            if pos:
                yield pos, imgs, lms

    age = meta.column("age").to_numpy().astype(np.float64) if "age" in meta_cols else None
    if age is not None and np.isnan(age).all():
        age = None  # schema 2 writes NaN where aging is off
    return Faces(
        source_hash=_sha({"config_hash": ds.manifest.get("config_hash"),
                          "schema_version": ds.manifest.get("schema_version")}),
        keys=keys, labels=ident, batches=batches,
        yaw=meta.column("yaw").to_numpy().astype(np.float64),
        expression=(np.asarray(meta.column("expression").to_pylist(), np.float64)
                    if "expression" in meta_cols else None),
        age=age,
        image_index=index,
        categories={c: np.array(meta.column(c).to_pylist(), dtype=object).astype(str)
                    for c in CATEGORY_COLUMNS if c in meta_cols},
        info={"kind": "facesynth", "dataset": uri, "complete": ds.complete,
              "config_hash": ds.manifest.get("config_hash")},
    )


# ---- folders of real photos --------------------------------------------------------------------
def photo_faces(folder: str, max_identities: int | None = None, images_per_identity: int | None = None,
                batch_size: int = 8) -> Faces:
    root = Path(folder)
    if not root.is_dir():
        raise FacesynthError(f"{folder}: not a folder; --real expects a folder laid out as ID/*.jpg|png")
    people = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    files: list[tuple[str, Path]] = []
    for person in people:
        found = sorted(f for f in person.iterdir() if f.suffix.lower() in PHOTO_SUFFIXES and f.is_file())
        if images_per_identity is not None:
            found = found[:images_per_identity]
        if found:
            files.extend((person.name, f) for f in found)
    labels_all = sorted({p for p, _ in files})
    if max_identities is not None:
        keep = set(labels_all[:max_identities])
        files = [(p, f) for p, f in files if p in keep]
    if not files:
        raise FacesynthError(f"{folder}: no photos found; expected a folder laid out as ID/*.jpg|png "
                             "(one subfolder per person)")
    keys = [f"{p}/{f.name}" for p, f in files]
    stats = [(k, f.stat().st_size, f.stat().st_mtime_ns) for k, (_, f) in zip(keys, files)]

    def batches(positions: list[int]):
        for start in range(0, len(positions), batch_size):
            pos = positions[start:start + batch_size]
            imgs = []
            for p in pos:
                try:
                    imgs.append(decode(files[p][1].read_bytes()))
                except OSError as e:
                    raise FacesynthError(f"{files[p][1]}: cannot read the image ({e})") from None
            yield pos, imgs, None

    return Faces(source_hash=_sha(stats), keys=keys, labels=np.array([p for p, _ in files]),
                 batches=batches, info={"kind": "photos", "folder": str(root)})


# ---- embedding cache ---------------------------------------------------------------------------
def load_cache(path: Path, source_hash: str, settings: dict) -> dict[str, np.ndarray]:
    """key -> embedding from a cache written for this source and these settings ({} otherwise)."""
    if not path.is_file():
        return {}
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid):
        return {}  # unreadable: recompute and overwrite
    meta = table.schema.metadata or {}
    if (meta.get(b"facesynth.judge.source_hash", b"").decode() != source_hash
            or meta.get(b"facesynth.judge.settings", b"").decode() != json.dumps(settings, sort_keys=True)):
        return {}
    keys = table.column("key").to_pylist()
    found = table.column("found").to_pylist()
    emb = np.asarray(table.column("embedding").to_pylist(), np.float32) if keys else np.zeros((0, 128), np.float32)
    return {k: (e if ok else None) for k, ok, e in zip(keys, found, emb)}


def write_cache(path: Path, source_hash: str, settings: dict, cache: dict[str, np.ndarray | None]) -> None:
    """Write key -> embedding (None: no face found) atomically."""
    keys = sorted(cache)
    dim = next((len(v) for v in cache.values() if v is not None), 128)
    emb = np.stack([cache[k] if cache[k] is not None else np.zeros(dim, np.float32) for k in keys]) \
        if keys else np.zeros((0, dim), np.float32)
    table = pa.table({
        "key": pa.array(keys, pa.string()),
        "identity": pa.array([k.rsplit("/", 1)[0] for k in keys], pa.string()),
        "found": pa.array([cache[k] is not None for k in keys], pa.bool_()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.astype(np.float32).ravel()), dim),
    }).replace_schema_metadata({
        "facesynth.judge.source_hash": source_hash,
        "facesynth.judge.settings": json.dumps(settings, sort_keys=True),
    })
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf, compression="zstd")
    atomic_write_bytes(path, buf.getvalue().to_pybytes())
