"""The output folder: local path, s3:// or gs:// through pyarrow.fs.

Layout of a dataset root:
    _manifest.json          the source of truth: config hash, schema version, committed units
    _lock.json              the run writing the dataset now (cluster/lock.py)
    part-u00000.parquet     one shard per committed unit
    _tmp/                   shards being written (never visible under a final name)
    _inspect/               reports of `facesynth inspect`
Names starting with "_" are skipped by pyarrow/pandas/Ray directory readers.

Commit protocol: an actor writes `_tmp/<shard>.<run id>.<random>.partial`, then moves it onto
its final name. On a local or POSIX shared filesystem the move is an atomic rename, preceded by
an fsync of the file and followed by one of the folder. On S3/GCS a move is copy+delete, but an
object appears whole or not at all, so a final name never holds a partial shard either way;
readers should still list shards from the manifest (cluster.dataset), which only the driver
writes, atomically, after the move. Temp names carry the run's id: a run deletes only temp
files of runs recorded in the dataset's manifest, never a file it did not write.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from core.atomic import fsync_dir, fsync_file
from core.errors import FacesynthError, first_line

MANIFEST = "_manifest.json"
TMP_DIR = "_tmp"
FORMAT = "facesynth-parquet"
LOCK = "_lock.json"
MAX_MANIFEST_BYTES = 512 << 20  # 100M units would still fit; more is not a manifest
_TEMP = re.compile(r"^(?P<base>[A-Za-z0-9_.-]+)\.(?P<run>[0-9a-f]{16})\.(?P<tag>[0-9a-f]{8,32})\.partial$")


def new_run_id() -> str:
    return uuid.uuid4().hex[:16]


def is_run_id(s: str) -> bool:
    return re.fullmatch(r"[0-9a-f]{16}", s) is not None


def temp_name(base: str, run_id: str) -> str:
    """`_tmp/` name of a file being written by run `run_id` (see the commit protocol)."""
    return f"{base}.{run_id}.{uuid.uuid4().hex[:12]}.partial"


def temp_run_id(name: str) -> str | None:
    """The run id a temp file name carries, None for names facesynth does not write."""
    m = _TEMP.match(name)
    return m.group("run") if m else None


@dataclass(frozen=True)
class Out:
    """A dataset root: the filesystem and the path inside it, plus the URI the user gave."""
    fs: pafs.FileSystem
    root: str
    uri: str

    def path(self, *names: str) -> str:
        return "/".join([self.root.rstrip("/"), *names])

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)


def is_remote_uri(uri: str) -> bool:
    return "://" in uri and not uri.startswith("file://")


def resolve(uri: str) -> Out:
    """Filesystem and root for a local path or an s3:// / gs:// / file:// URI."""
    if not uri:
        raise FacesynthError("--out is empty; pass a folder or an s3:// / gs:// URI")
    if is_remote_uri(uri):
        try:
            fs, root = pafs.FileSystem.from_uri(uri)
        except Exception as e:  # pyarrow raises several types for bad URIs and missing support
            raise FacesynthError(f"--out {uri}: cannot open this filesystem ({first_line(e)}); "
                                 "use a local path, s3://bucket/prefix or gs://bucket/prefix") from None
        return Out(fs, root.rstrip("/"), uri)
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return Out(pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path)), uri)


def info(out: Out, *names: str) -> pafs.FileInfo:
    return out.fs.get_file_info(out.path(*names))


def listing(out: Out) -> list[pafs.FileInfo]:
    """Entries directly under the root ([] where it does not exist)."""
    try:
        t = info(out).type
        if t == pafs.FileType.NotFound:
            return []
        if t == pafs.FileType.File:
            raise FacesynthError(f"--out {out.uri}: is a file; pass a folder")
        return out.fs.get_file_info(pafs.FileSelector(out.root, recursive=False))
    except FacesynthError:
        raise
    except Exception as e:
        raise FacesynthError(f"--out {out.uri}: cannot list it ({first_line(e)}); "
                             "pass a folder you can read and write") from None


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        d[k] = v
    return d


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def read_manifest_raw(out: Out) -> dict | None:
    """The manifest's JSON, None where there is none; an unreadable one is an error (never
    overwritten). Strict JSON: no NaN/Infinity, no duplicate keys, bounded size."""
    try:
        fi = info(out, MANIFEST)
    except Exception as e:  # e.g. no credentials for s3://
        raise FacesynthError(f"--out {out.uri}: cannot read it ({first_line(e)}); check the path and credentials") from None
    if fi.type == pafs.FileType.NotFound:
        return None
    try:
        if fi.type != pafs.FileType.File:
            raise ValueError("not a file")
        if fi.size is not None and fi.size > MAX_MANIFEST_BYTES:
            raise ValueError(f"{fi.size} bytes, more than a manifest can be")
        with out.fs.open_input_stream(out.path(MANIFEST)) as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)
        m = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        if not isinstance(m, dict) or m.get("format") != FORMAT:
            raise ValueError("not a facesynth manifest")
    except (OSError, ValueError, RecursionError) as e:
        raise FacesynthError(f"{out.uri}/{MANIFEST}: unreadable manifest ({first_line(e)[:200]}); "
                             "restore it or write the dataset to a new --out") from None
    return m


def write_manifest(out: Out, manifest: dict, run_id: str) -> None:
    """Atomic: write a temp object under _tmp/ (named with the run id), then move it over the
    manifest; on a local disk the data and the rename are fsynced."""
    data = json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False).encode()
    tmp = out.path(TMP_DIR, temp_name(MANIFEST, run_id))
    out.fs.create_dir(out.path(TMP_DIR), recursive=True)
    with out.fs.open_output_stream(tmp) as f:
        f.write(data)
    commit_file(out, tmp, out.path(MANIFEST))


def commit_file(out: Out, tmp: str, final: str) -> None:
    """Move a complete temp file onto its final name; durable on a local disk."""
    if out.is_local:
        fsync_file(tmp)
        os.replace(tmp, final)
        fsync_dir(os.path.dirname(final))
    else:
        out.fs.move(tmp, final)


def file_sha256(out: Out, path: str) -> str:
    """SHA-256 of a file's content, streamed (a shard may be GBs)."""
    h = hashlib.sha256()
    with out.fs.open_input_stream(path) as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def ensure_root(out: Out) -> bool:
    """Create the root (and _tmp/ is created later, by the first manifest write); returns True
    where this call created it. One line where it is a file or cannot be created."""
    try:
        t = info(out).type
        if t == pafs.FileType.File:
            raise FacesynthError(f"--out {out.uri}: is a file; pass a folder")
        if t == pafs.FileType.Directory:
            return False
        out.fs.create_dir(out.root, recursive=True)
        return True
    except FacesynthError:
        raise
    except Exception as e:
        raise FacesynthError(f"--out {out.uri}: not writable ({first_line(e)}); "
                             "pass a folder you can write to") from None


def temp_entries(out: Out) -> list[pafs.FileInfo]:
    p = out.path(TMP_DIR)
    if out.fs.get_file_info(p).type != pafs.FileType.Directory:
        return []
    return out.fs.get_file_info(pafs.FileSelector(p, recursive=True))


def clear_tmp(out: Out, run_ids) -> tuple[int, list[str]]:
    """Delete the temp files of the given runs under _tmp/; returns (how many were deleted,
    names of entries left alone because facesynth did not write them)."""
    run_ids, n, foreign = set(run_ids), 0, []
    for e in temp_entries(out):
        if e.type != pafs.FileType.File:
            continue
        rid = temp_run_id(e.base_name)
        if rid is not None and rid in run_ids:
            out.fs.delete_file(e.path)
            n += 1
        elif rid is None:
            foreign.append(e.base_name)
    return n, foreign


def shard_rows(out: Out, name: str) -> tuple[int, int] | None:
    """(rows, bytes) of a shard whose footer and every page read, None where it is missing or
    unreadable (a truncated or foreign file: the unit is redone)."""
    p = out.path(name)
    fi = out.fs.get_file_info(p)
    if fi.type != pafs.FileType.File:
        return None
    try:
        with out.fs.open_input_file(p) as f:
            pf = pq.ParquetFile(f)
            rows = pf.metadata.num_rows
            for rg in range(pf.num_row_groups):
                pf.read_row_group(rg)  # decodes every page: damage in the data shows here
        return rows, int(fi.size)
    except Exception:  # noqa: BLE001 - pyarrow raises several types for damaged files
        return None


def remove_new_dataset(out: Out, run_id: str) -> None:
    """Undo what starting a dataset created (nothing else): the manifest, this run's temp files,
    and _tmp/ if that leaves it empty."""
    if info(out, MANIFEST).type == pafs.FileType.File:
        out.fs.delete_file(out.path(MANIFEST))
    clear_tmp(out, [run_id])
    remove_tmp_if_empty(out)


def remove_tmp_if_empty(out: Out) -> None:
    """Remove _tmp/ when nothing is left in it (a finished dataset shows only its shards and
    manifest); a file someone else put there keeps it."""
    if info(out, TMP_DIR).type == pafs.FileType.Directory and not temp_entries(out):
        out.fs.delete_dir(out.path(TMP_DIR))


def remove_root_if_empty(out: Out) -> None:
    """Remove a local root this run created, once it is empty again (object stores have no folders)."""
    if out.is_local and info(out).type == pafs.FileType.Directory and not listing(out):
        out.fs.delete_dir(out.root)
