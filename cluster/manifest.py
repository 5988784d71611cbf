"""The manifest (`_manifest.json`): its schema, its creation, and its reconciliation with the
shards on disk when a run starts.

The manifest is validated on every read: a committed entry must name exactly the shard file of
its unit (`part-u<unit>.parquet`, so no `../`, no absolute path, nothing outside the dataset
root), cover that unit's identities and rows, and carry the SHA-256 of the shard's bytes.
"""
from __future__ import annotations

import math
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cluster import storage
from cluster.config import JobConfig, config_hash, image_format, n_units, unit_identities
from cluster.schema import SCHEMA_VERSION
from core.errors import FacesynthError, validation_message

MAX_RUNS_KEPT = 100  # run records kept in the manifest (temp files of older runs are long gone)
HASH_THREADS = 8  # shards are hashed in parallel on resume and by verify (I/O bound)
_SHA256 = r"^[0-9a-f]{64}$"


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("facesynth")
    except Exception:  # noqa: BLE001 - a checkout that is not pip-installed
        return "unknown"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- schema

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ShardEntry(_Strict):
    file: str = Field(max_length=64)
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)
    identities: list[int] = Field(min_length=2, max_length=2)
    sha256: str = Field(pattern=_SHA256)


class Layout(_Strict):
    identity_start: int = Field(ge=0)
    identities: int = Field(ge=1)
    images_per_identity: int = Field(ge=1)
    unit_identities: int = Field(ge=1)
    units: int = Field(ge=1)

    def unit_range(self, unit: int) -> tuple[int, int]:
        first = self.identity_start + unit * self.unit_identities
        return first, min(first + self.unit_identities, self.identity_start + self.identities)


class RunRecord(_Strict):
    id: str = Field(pattern=r"^[0-9a-f]{16}$")
    host: str = Field(max_length=256)
    started: str = Field(max_length=64)


class IdentityFilterRecord(_Strict):
    """The identity filter's accepted candidates (render/identity_filter.py), one per identity
    from index 0: computed once per dataset, so a resume renders the same people."""
    variants: list[int] = Field(max_length=100_000_000)
    nearest: list[float] = Field(max_length=100_000_000)
    close: list[int] = Field(default_factory=list, max_length=100_000_000,
                             description="accepted identities before it within min_distance (absent in older manifests)")
    tries: int = Field(ge=0)
    unmet: int = Field(ge=0)


class Manifest(_Strict):
    format: str = Field(pattern=f"^{storage.FORMAT}$")
    schema_version: int
    created_by: str = Field(max_length=256)
    created: str = Field(max_length=64)
    updated: str = Field(max_length=64)
    config_hash: str = Field(pattern=_SHA256)
    config: dict
    image_format: str = Field(pattern="^(jpeg|png)$")
    layout: Layout
    committed: dict[str, ShardEntry]
    complete: bool
    runs: list[RunRecord] = Field(default_factory=list)
    identity_filter: IdentityFilterRecord | None = None

    @model_validator(mode="after")
    def _entries_match_layout(self):
        lay = self.layout
        if lay.units != math.ceil(lay.identities / lay.unit_identities):
            raise ValueError(f"layout.units is {lay.units}, but {lay.identities} identities in units of "
                             f"{lay.unit_identities} make {math.ceil(lay.identities / lay.unit_identities)}")
        for key, e in self.committed.items():
            if not key.isdigit() or str(int(key)) != key or int(key) >= lay.units:
                raise ValueError(f"committed.{key[:20]!r}: not a unit number below {lay.units}")
            u = int(key)
            if e.file != shard_file(lay.units, u):
                raise ValueError(f"committed.{key}.file: {e.file[:64]!r} is not this unit's shard "
                                 f"{shard_file(lay.units, u)!r} (entries may name only their own shard)")
            first, end = lay.unit_range(u)
            if e.identities != [first, end] or e.rows != (end - first) * lay.images_per_identity:
                raise ValueError(f"committed.{key}: identities {e.identities} / rows {e.rows} do not match the "
                                 f"layout ([{first}, {end}), {(end - first) * lay.images_per_identity} rows)")
        f = self.identity_filter
        if f is not None and not (len(f.variants) == len(f.nearest) == lay.identity_start + lay.identities
                                  and len(f.close) in (0, len(f.variants))
                                  and all(0 <= v < 65536 for v in f.variants)):
            raise ValueError("identity_filter: needs one variant in [0, 65536) and one distance per identity "
                             f"from 0 to {lay.identity_start + lay.identities - 1}")
        if self.complete != (len(self.committed) == lay.units):
            raise ValueError(f"complete is {self.complete} with {len(self.committed)} of {lay.units} units committed")
        return self


def shard_file(units: int, unit: int) -> str:
    """`part-u<unit>.parquet`, the unit zero-padded to 5 digits (more for > 99,999 units);
    the same rule as cluster.config.shard_name, from the manifest's layout alone."""
    width = max(5, len(str(units - 1)))
    return f"part-u{unit:0{width}d}.parquet"


def validate(raw: dict, where: str) -> dict:
    """The manifest if it matches its schema, else one line naming the first bad key."""
    try:
        Manifest.model_validate(raw)
    except ValidationError as e:
        msg = validation_message(e, f"{where}: invalid manifest")
        raise FacesynthError(msg[:400] + "; restore it or write the dataset to a new --out") from None
    return raw


def read(out: storage.Out) -> dict | None:
    raw = storage.read_manifest_raw(out)
    return None if raw is None else validate(raw, f"{out.uri}/{storage.MANIFEST}")


# ---------------------------------------------------------------- creation and commits

def expected_rows(layout: dict, unit: int) -> int:
    first, end = Layout.model_validate(layout).unit_range(unit)
    return (end - first) * layout["images_per_identity"]


def new_manifest(cfg: JobConfig) -> dict:
    now = now_iso()
    return {
        "format": storage.FORMAT, "schema_version": SCHEMA_VERSION, "created_by": f"facesynth {_version()}",
        "created": now, "updated": now, "config_hash": config_hash(cfg),
        "config": cfg.model_dump(mode="json"), "image_format": image_format(cfg),
        "layout": {"identity_start": cfg.identity_start, "identities": cfg.identities,
                   "images_per_identity": cfg.images_per_identity,
                   "unit_identities": unit_identities(cfg), "units": n_units(cfg)},
        "committed": {}, "complete": False, "runs": [],
    }


def add_run(m: dict, run_id: str) -> None:
    m.setdefault("runs", []).append({"id": run_id, "host": socket.gethostname()[:256], "started": now_iso()})
    del m["runs"][:-MAX_RUNS_KEPT]


def record_commit(m: dict, unit: int, msg: dict) -> None:
    """Record a unit the actor reports committed (msg: file, rows, bytes, identities, sha256)."""
    m["committed"][str(unit)] = {k: msg[k] for k in ("file", "rows", "bytes", "identities", "sha256")}


def flush(out: storage.Out, m: dict, run_id: str) -> None:
    m["updated"] = now_iso()
    m["complete"] = len(m["committed"]) == m["layout"]["units"]
    storage.write_manifest(out, m, run_id)


# ---------------------------------------------------------------- verification

def check_shard(out: storage.Out, rec: dict, sizes: dict[str, int]) -> str | None:
    """What is wrong with a committed shard on disk (None where its bytes are the recorded ones)."""
    name = rec["file"]
    if name not in sizes:
        return "missing"
    if sizes[name] != rec["bytes"]:
        return f"size {sizes[name]} != recorded {rec['bytes']}"
    try:
        got = storage.file_sha256(out, out.path(name))
    except OSError as e:
        return f"unreadable ({e})"
    return None if got == rec["sha256"] else "checksum mismatch"


def shard_sizes(out: storage.Out) -> dict[str, int]:
    import pyarrow.fs as pafs
    return {e.base_name: int(e.size) for e in storage.listing(out) if e.type == pafs.FileType.File}


def verify_shards(out: storage.Out, m: dict) -> dict[str, str]:
    """unit -> problem, for every committed shard whose bytes are not the recorded ones."""
    sizes = shard_sizes(out)
    units = sorted(m["committed"], key=int)
    with ThreadPoolExecutor(HASH_THREADS) as pool:
        problems = pool.map(lambda u: check_shard(out, m["committed"][u], sizes), units)
    return {u: p for u, p in zip(units, problems) if p is not None}


# ---------------------------------------------------------------- reconciliation on start

def reconcile(out: storage.Out, m: dict, run_id: str) -> dict:
    """Bring the manifest in line with the shards on disk: drop (and redo) committed units whose
    shard is missing or whose bytes fail their checksum, adopt a shard committed just before a
    crash (its footer and pages read and it holds the unit's rows), delete temp files of this
    dataset's earlier runs. Returns notes for the summary."""
    runs = [r["id"] for r in m.get("runs", [])]
    cleared, foreign_tmp = storage.clear_tmp(out, runs)
    notes = {"temp_cleared": cleared, "adopted": 0, "dropped": 0, "foreign_tmp": foreign_tmp}
    bad = verify_shards(out, m)
    names = set(shard_sizes(out))
    lay = m["layout"]
    for u in range(lay["units"]):
        key, name = str(u), shard_file(lay["units"], u)
        if key in m["committed"] and key not in bad:
            continue
        if key in bad:  # recorded but missing or changed on disk: redo the unit
            del m["committed"][key]
            notes["dropped"] += 1
            if bad[key] != "missing":
                out.fs.delete_file(out.path(name))
            continue
        if name in names:
            got = storage.shard_rows(out, name)
            if got is not None and got[0] == expected_rows(lay, u):  # committed just before a crash
                first, end = Layout.model_validate(lay).unit_range(u)
                m["committed"][key] = {"file": name, "rows": got[0], "bytes": got[1], "identities": [first, end],
                                       "sha256": storage.file_sha256(out, out.path(name))}
                notes["adopted"] += 1
            else:  # a shard name of this layout holding a damaged or partial file: redo the unit
                out.fs.delete_file(out.path(name))
                notes["dropped"] += 1
    add_run(m, run_id)
    flush(out, m, run_id)
    return notes
