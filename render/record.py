"""The image record: one rendered image and everything known about it, typed.

`ImageRecord` is the one description of a dataset row. Each field carries its Arrow type and a
one-line meaning in its metadata; cluster/schema.py builds the Parquet schema from these fields
in order, and docs/schema.md documents them (tests/test_schema_doc.py holds the doc to this file).
Add a field here, give it an Arrow type, document it and bump SCHEMA_VERSION.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pyarrow as pa

# 2: age, hair_style, glasses, headwear, face_mask (distinct identities and aging).
# 3: sex (gen/sex.py).
SCHEMA_VERSION = 3
N_LANDMARKS5 = 10  # 5 points (x, y): eye L, eye R, nose, mouth L, mouth R
N_LANDMARKS68 = 136  # 68 Multi-PIE points (x, y)
NONE = "none"  # value of the accessory / hair fields when there is none

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

ArrowType = pa.DataType | Callable[[int], pa.DataType]  # a callable gets the expression count


def _col(arrow: ArrowType, doc: str, default: Any = dataclasses.MISSING, nullable: bool = True):
    meta = {"arrow": arrow, "doc": doc, "nullable": nullable}
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


F32 = pa.float32()


@dataclass(frozen=True)
class ImageRecord:
    image: bytes = _col(pa.binary(), "the aligned crop, encoded", nullable=False)
    identity: int = _col(pa.int64(), "identity index, the class label", nullable=False)
    image_index: int = _col(pa.int32(), "image of this identity", nullable=False)
    yaw: float = _col(F32, "head yaw, degrees")
    pitch: float = _col(F32, "head pitch, degrees")
    roll: float = _col(F32, "head roll, degrees")
    landmarks5: np.ndarray = _col(pa.list_(F32, N_LANDMARKS5), "5 points, crop px")
    landmarks68: np.ndarray = _col(pa.list_(F32, N_LANDMARKS68), "68 points, crop px")
    expression: np.ndarray = _col(lambda e: pa.list_(F32, e), "blendshape weights")
    camera_fov_deg: float = _col(F32, "vertical field of view, degrees")
    camera_distance: float = _col(F32, "camera to face centre, cm")
    camera_zoom: float = _col(F32, "face size relative to the template framing")
    ambient: float = _col(F32, "ambient light level")
    lights: tuple = _col(pa.list_(LIGHT), "the lights (render.scene.Light.record())")
    background: str = _col(pa.string(), "background kind")
    degradations: tuple = _col(pa.list_(pa.string()), "degradations applied, in order")
    seed: int = _col(pa.int64(), "the dataset seed")
    model_name: str = _col(pa.string(), "face model name")
    model_version: str = _col(pa.string(), "face model version")
    age: float = _col(F32, "the person's age in this image, years", default=float("nan"))
    sex: str = _col(pa.string(), "the identity's sex: female, male", default=NONE)
    hair_style: str = _col(pa.string(), "scalp hair style", default=NONE)
    glasses: str = _col(pa.string(), "glasses worn in this image", default=NONE)
    headwear: str = _col(pa.string(), "headwear worn in this image", default=NONE)
    face_mask: str = _col(pa.string(), "face mask worn in this image", default=NONE)
    full_image: bytes | None = _col(pa.binary(), "the unaligned frame (keep_full_frame only)", default=None)


OPTIONAL_COLUMNS = ("full_image",)  # present only when the config asks for them
BINARY_COLUMNS = ("image", "full_image")


def record_fields(full_frame: bool) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(ImageRecord) if full_frame or f.name not in OPTIONAL_COLUMNS]


def arrow_type(f: dataclasses.Field, n_expression: int) -> pa.DataType:
    t = f.metadata["arrow"]
    return t if isinstance(t, pa.DataType) else t(n_expression)


def column(f: dataclasses.Field, records: list[ImageRecord], dtype: pa.DataType) -> pa.Array:
    """The Arrow array of field `f` over `records` (fixed-size float lists from stacked arrays)."""
    values = [getattr(r, f.name) for r in records]
    if pa.types.is_fixed_size_list(dtype) and pa.types.is_floating(dtype.value_type):
        n = dtype.list_size
        flat = np.asarray(values, np.float32)
        if flat.ndim != 2 or flat.shape[1] != n:
            raise ValueError(f"record field {f.name!r}: expected {n} floats per row, got shape {flat.shape}")
        return pa.FixedSizeListArray.from_arrays(pa.array(flat.reshape(-1), F32), n)
    if pa.types.is_floating(dtype):
        return pa.array(np.asarray(values, np.float32))
    if pa.types.is_list(dtype) and pa.types.is_struct(dtype.value_type):
        names = dtype.value_type.names
        values = [[{k: item[k] for k in names} for item in v] for v in values]
    elif pa.types.is_list(dtype):
        values = [list(v) for v in values]
    return pa.array(values, dtype)
