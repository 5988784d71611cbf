"""docs/schema.md documents exactly the columns of render.record.ImageRecord, in order, with their types."""
from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from cluster.schema import arrow_schema
from render.record import SCHEMA_VERSION, ImageRecord, record_fields

DOC = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


def type_name(t: pa.DataType) -> str:
    """An Arrow type as docs/schema.md writes it."""
    if pa.types.is_fixed_size_list(t):
        n = "E" if t.list_size == 53 else str(t.list_size)  # the expression width is model-dependent
        return f"fixed_size_list<{type_name(t.value_type)}>[{n}]"
    if pa.types.is_list(t):
        return f"list<{'struct' if pa.types.is_struct(t.value_type) else type_name(t.value_type)}>"
    return {pa.float32(): "float32", pa.int64(): "int64", pa.int32(): "int32",
            pa.binary(): "binary", pa.string(): "string"}[t]


def doc_columns() -> list[tuple[str, str]]:
    text = DOC.read_text()
    table = text[text.index("## Columns"):text.index("## Shards")]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        for name in re.findall(r"`([a-z0-9_]+)`", cells[0]):
            rows.append((name, cells[1].strip("`")))
    return rows


def test_doc_lists_every_column_in_order_with_its_type():
    schema = arrow_schema(53, full_frame=True)
    assert doc_columns() == [(f.name, type_name(f.type)) for f in schema]


def test_doc_names_the_schema_version():
    assert f"schema version {SCHEMA_VERSION}" in DOC.read_text()
    assert f'"schema_version": {SCHEMA_VERSION},' in DOC.read_text()


def test_schema_follows_the_record_fields():
    schema = arrow_schema(7, full_frame=False)
    assert schema.names == [f.name for f in record_fields(False)]
    assert "full_image" not in schema.names and schema.field("expression").type.list_size == 7
    assert schema.metadata[b"facesynth.schema_version"] == str(SCHEMA_VERSION).encode()


def test_records_round_trip_through_arrow():
    import numpy as np

    from cluster.schema import records_to_table
    light = {"kind": "spot", "direction": (0.0, 0.0, 1.0), "color": (1.0, 0.9, 0.8), "intensity": 1.0,
             "temperature": 5000.0, "distance": 80.0, "cone_deg": 30.0}
    rec = ImageRecord(image=b"x", identity=3, image_index=1, yaw=10.0, pitch=-2.0, roll=1.5,
                      landmarks5=np.arange(10, dtype=np.float32), landmarks68=np.zeros(136, np.float32),
                      expression=np.full(4, 0.25, np.float32), camera_fov_deg=12.0, camera_distance=90.0,
                      camera_zoom=1.0, ambient=0.3, lights=(light,), background="solid", degradations=("blur",),
                      seed=7, model_name="m", model_version="v", age=42.5, glasses="clear_round")
    t = records_to_table([rec], arrow_schema(4, full_frame=False))
    row = t.to_pylist()[0]
    assert row["identity"] == 3 and row["age"] == 42.5 and row["glasses"] == "clear_round"
    assert row["hair_style"] == "none" and row["landmarks5"] == list(range(10)) and row["lights"][0]["kind"] == "spot"
    assert row["degradations"] == ["blur"] and row["expression"] == [0.25] * 4
