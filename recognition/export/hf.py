"""Export as a Hugging Face dataset folder: Parquet under data/ whose image columns carry the
`datasets.Image` feature, plus a dataset card (README.md), so `datasets.load_dataset(DIR)`
yields PIL images and the folder can be pushed to the Hub as it is.

The image columns become structs {bytes, path}, the Arrow form of `datasets.Image`, and the
schema's `huggingface` metadata names their feature; every other column keeps its Arrow type,
which `datasets` maps to its own features. A `label` column (0..K-1, the same dense ids as the
insightface export) is added. One output file per input shard, written batch by batch.
"""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from recognition.export.card import dataset_card
from recognition.export.source import ExportSource, progress_bar

IMAGE_COLUMNS = ("image", "full_image")
HF_IMAGE = pa.struct([pa.field("bytes", pa.binary()), pa.field("path", pa.string())])


def hf_schema(src_schema: pa.Schema) -> pa.Schema:
    fields, features = [], {}
    for f in src_schema:
        if f.name in IMAGE_COLUMNS:
            fields.append(pa.field(f.name, HF_IMAGE))
            features[f.name] = {"decode": True, "_type": "Image"}
        elif f.name != "label":
            fields.append(pa.field(f.name, f.type))  # nullable, as datasets expects
    fields.insert(1, pa.field("label", pa.int64()))
    meta = {k: v for k, v in (src_schema.metadata or {}).items() if k.startswith(b"facesynth.")}
    meta[b"huggingface"] = json.dumps({"info": {"features": features}}).encode()
    return pa.schema(fields, metadata=meta)


def _convert(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    cols = []
    for f in schema:
        col = batch.column(f.name)
        if f.name in IMAGE_COLUMNS:
            paths = pa.nulls(len(col), pa.string())
            col = pa.StructArray.from_arrays([col.cast(pa.binary()), paths], fields=list(HF_IMAGE),
                                             mask=col.is_null())
        cols.append(col.cast(f.type) if col.type != f.type else col)
    return pa.RecordBatch.from_arrays(cols, schema=schema)


def export_hf(src: ExportSource, out: Path, progress: bool = True, license_id: str | None = None) -> dict:
    data = out / "data"
    data.mkdir()
    n_files = src.n_shards
    files = []
    with progress_bar(src.labels.num_images, "hf", progress) as bar:
        for n, batches in src.shard_batches():
            name = f"train-{n:05d}-of-{n_files:05d}.parquet"
            writer = None
            try:
                for batch in batches:
                    if writer is None:
                        schema = hf_schema(batch.schema)
                        writer = pq.ParquetWriter(data / name, schema, compression="zstd",
                                                  use_dictionary=["background", "model_name", "model_version"])
                    writer.write_batch(_convert(batch, schema))
                    bar.update(batch.num_rows)
            finally:
                if writer is not None:
                    writer.close()
            files.append(f"data/{name}")
    stats = {"images": src.labels.num_images, "identities": src.labels.num_classes, "files": files}
    (out / "README.md").write_text(dataset_card(src, stats, license_id))
    return stats
