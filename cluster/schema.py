"""The Parquet schema of a facesynth dataset (documented in docs/schema.md).

Bump SCHEMA_VERSION whenever a column is added, removed, renamed or changes type; the
manifest records it and a resume against another version is refused.
"""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

SCHEMA_VERSION = 1
N_LANDMARKS5 = 10  # 5 points (x, y): eye L, eye R, nose, mouth L, mouth R
N_LANDMARKS68 = 136  # 68 Multi-PIE points (x, y)


# One light of render.scene.Light.record(); direction points from the face to the light.
LIGHT = pa.struct([
    pa.field("kind", pa.string()),
    pa.field("direction", pa.list_(pa.float32(), 3)),
    pa.field("color", pa.list_(pa.float32(), 3)),
    pa.field("intensity", pa.float32()),
    pa.field("temperature", pa.float32()),
    pa.field("distance", pa.float32()),
    pa.field("cone_deg", pa.float32()),
])


def arrow_schema(n_expression: int, full_frame: bool, meta: dict | None = None) -> pa.Schema:
    f32 = pa.float32()
    fields = [
        pa.field("image", pa.binary(), nullable=False),
        pa.field("identity", pa.int64(), nullable=False),
        pa.field("image_index", pa.int32(), nullable=False),
        pa.field("yaw", f32), pa.field("pitch", f32), pa.field("roll", f32),
        pa.field("landmarks5", pa.list_(f32, N_LANDMARKS5)),
        pa.field("landmarks68", pa.list_(f32, N_LANDMARKS68)),
        pa.field("expression", pa.list_(f32, n_expression)),
        pa.field("camera_fov_deg", f32),
        pa.field("camera_distance", f32),
        pa.field("camera_zoom", f32),
        pa.field("ambient", f32),
        pa.field("lights", pa.list_(LIGHT)),
        pa.field("background", pa.string()),
        pa.field("degradations", pa.list_(pa.string())),
        pa.field("seed", pa.int64()),
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.string()),
    ]
    if full_frame:
        fields.append(pa.field("full_image", pa.binary()))
    md = {"facesynth.schema_version": str(SCHEMA_VERSION)}
    md.update({f"facesynth.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in (meta or {}).items()})
    return pa.schema(fields, metadata=md)


BINARY_COLUMNS = ("image", "full_image")


def leaf_paths(schema: pa.Schema) -> list[str]:
    """Parquet column paths of the schema's leaves ("landmarks5.list.element", ...): the
    names ParquetWriter's per-column options expect for nested columns."""
    def walk(prefix: str, t: pa.DataType):
        if pa.types.is_list(t) or pa.types.is_fixed_size_list(t) or pa.types.is_large_list(t):
            yield from walk(f"{prefix}.list.element", t.value_type)
        elif pa.types.is_struct(t):
            for f in t:
                yield from walk(f"{prefix}.{f.name}", f.type)
        else:
            yield prefix
    return [p for f in schema for p in walk(f.name, f.type)]


def _fixed(values: list, n: int, name: str) -> pa.FixedSizeListArray:
    flat = np.asarray(values, dtype=np.float32)
    if flat.ndim != 2 or flat.shape[1] != n:
        raise ValueError(f"render record field {name!r}: expected {n} floats per row, got shape {flat.shape}")
    return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1), pa.float32()), n)


def records_to_table(records: list[dict], schema: pa.Schema) -> pa.Table:
    """Turn ImageMaker.render() records into a table of `schema` (type-checked)."""
    def col(key):
        return [r[key] for r in records]

    f32 = lambda key: pa.array(np.asarray(col(key), np.float32))  # noqa: E731
    cams = col("camera")
    arrays = {
        "image": pa.array(col("image"), pa.binary()),
        "identity": pa.array(col("identity"), pa.int64()),
        "image_index": pa.array(col("image_index"), pa.int32()),
        "yaw": f32("yaw"), "pitch": f32("pitch"), "roll": f32("roll"),
        "landmarks5": _fixed(col("landmarks5"), N_LANDMARKS5, "landmarks5"),
        "landmarks68": _fixed(col("landmarks68"), N_LANDMARKS68, "landmarks68"),
        "expression": _fixed(col("expression"), schema.field("expression").type.list_size, "expression"),
        "camera_fov_deg": pa.array(np.asarray([c["fov_deg"] for c in cams], np.float32)),
        "camera_distance": pa.array(np.asarray([c["distance"] for c in cams], np.float32)),
        "camera_zoom": pa.array(np.asarray([c.get("zoom", 1.0) for c in cams], np.float32)),
        "ambient": f32("ambient"),
        "lights": pa.array([[{k: light[k] for k in LIGHT.names} for light in ls] for ls in col("lights")],
                           pa.list_(LIGHT)),
        "background": pa.array(col("background"), pa.string()),
        "degradations": pa.array([list(r.get("degradations", ())) for r in records], pa.list_(pa.string())),
        "seed": pa.array(col("seed"), pa.int64()),
        "model_name": pa.array(col("model_name"), pa.string()),
        "model_version": pa.array(col("model_version"), pa.string()),
    }
    if "full_image" in schema.names:
        arrays["full_image"] = pa.array([r.get("full_image") for r in records], pa.binary())
    return pa.Table.from_arrays([arrays[n] for n in schema.names], schema=schema)

