"""The Parquet schema of a facesynth dataset (documented in docs/schema.md).

The columns are the fields of render.record.ImageRecord, in order, with the Arrow types their
metadata names. Bump render.record.SCHEMA_VERSION whenever a column is added, removed, renamed
or changes type; the manifest records it and a resume against another version is refused.
"""
from __future__ import annotations

import json

import pyarrow as pa

from render.record import (BINARY_COLUMNS, SCHEMA_VERSION, ImageRecord, arrow_type, column,  # noqa: F401
                           record_fields)


def arrow_schema(n_expression: int, full_frame: bool, meta: dict | None = None) -> pa.Schema:
    fields = [pa.field(f.name, arrow_type(f, n_expression), nullable=f.metadata["nullable"])
              for f in record_fields(full_frame)]
    md = {"facesynth.schema_version": str(SCHEMA_VERSION)}
    md.update({f"facesynth.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in (meta or {}).items()})
    return pa.schema(fields, metadata=md)


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


def records_to_table(records: list[ImageRecord], schema: pa.Schema) -> pa.Table:
    """Turn ImageMaker.render() records into a table of `schema`, field by field (type-checked)."""
    by_name = {f.name: f for f in record_fields(True)}
    arrays = [column(by_name[name], records, schema.field(name).type) for name in schema.names]
    return pa.Table.from_arrays(arrays, schema=schema)
