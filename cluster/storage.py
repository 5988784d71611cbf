"""The output folder: local path, s3:// or gs:// through pyarrow.fs.

Layout of a dataset root:
    _manifest.json          the source of truth: config hash, schema version, committed units
    part-u00000.parquet     one shard per committed unit
    _tmp/                   shards being written (never visible under a final name)
    _inspect/               reports of `facesynth inspect`
Names starting with "_" are skipped by pyarrow/pandas/Ray directory readers.

Commit protocol: an actor writes `_tmp/<shard>.<uuid>.partial`, then moves it onto its final
name. On a local or POSIX shared filesystem the move is an atomic rename. On S3/GCS a move
is copy+delete, but an object appears whole or not at all, so a final name never holds a
partial shard either way; readers should still list shards from the manifest
(cluster.dataset), which only the driver writes, atomically, after the move.
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from core.errors import FacesynthError, first_line

MANIFEST = "_manifest.json"
TMP_DIR = "_tmp"
FORMAT = "facesynth-parquet"


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


def read_manifest(out: Out) -> dict | None:
    """The manifest, None where there is none; a damaged one is an error (never overwritten)."""
    try:
        if info(out, MANIFEST).type == pafs.FileType.NotFound:
            return None
    except Exception as e:  # e.g. no credentials for s3://
        raise FacesynthError(f"--out {out.uri}: cannot read it ({first_line(e)}); check the path and credentials") from None
    try:
        with out.fs.open_input_stream(out.path(MANIFEST)) as f:
            m = json.loads(f.read().decode())
        if m.get("format") != FORMAT:
            raise ValueError("not a facesynth manifest")
    except (OSError, ValueError) as e:
        raise FacesynthError(f"{out.uri}/{MANIFEST}: unreadable manifest ({first_line(e)}); "
                             "restore it or write the dataset to a new --out") from None
    return m


def write_manifest(out: Out, manifest: dict) -> None:
    """Atomic: write a temp object, then move it over the manifest."""
    data = json.dumps(manifest, indent=1, sort_keys=True).encode()
    tmp = out.path(TMP_DIR, f"manifest.{uuid.uuid4().hex}.partial")
    with out.fs.open_output_stream(tmp) as f:
        f.write(data)
    out.fs.move(tmp, out.path(MANIFEST))


def probe_writable(out: Out) -> None:
    """Create the root and write/delete a probe in it, or fail with one line."""
    try:
        t = info(out)
        if t.type == pafs.FileType.File:
            raise FacesynthError(f"--out {out.uri}: is a file; pass a folder")
        out.fs.create_dir(out.path(TMP_DIR), recursive=True)
        probe = out.path(TMP_DIR, f".probe-{uuid.uuid4().hex}")
        with out.fs.open_output_stream(probe) as f:
            f.write(b"ok")
        out.fs.delete_file(probe)
    except FacesynthError:
        raise
    except Exception as e:
        raise FacesynthError(f"--out {out.uri}: not writable ({first_line(e)}); "
                             "pass a folder you can write to") from None


def clear_tmp(out: Out) -> int:
    """Delete leftovers of killed runs under _tmp/; returns how many there were."""
    p = out.path(TMP_DIR)
    if out.fs.get_file_info(p).type == pafs.FileType.NotFound:
        return 0
    n = len(out.fs.get_file_info(pafs.FileSelector(p, recursive=True)))
    out.fs.delete_dir_contents(p, missing_dir_ok=True)
    return n


def shard_rows(out: Out, name: str) -> tuple[int, int] | None:
    """(rows, bytes) read from a shard's footer, None where it is missing or unreadable."""
    p = out.path(name)
    fi = out.fs.get_file_info(p)
    if fi.type != pafs.FileType.File:
        return None
    try:
        with out.fs.open_input_file(p) as f:
            return pq.read_metadata(f).num_rows, int(fi.size)
    except Exception:  # a truncated or foreign file: the unit is redone
        return None


def remove_new_dataset(out: Out, remove_root: bool) -> None:
    """Undo what starting a dataset created: manifest, _tmp/, and the root if this run made
    it and it is empty now."""
    for name in (MANIFEST, TMP_DIR):
        t = info(out, name).type
        if t == pafs.FileType.File:
            out.fs.delete_file(out.path(name))
        elif t == pafs.FileType.Directory:
            out.fs.delete_dir(out.path(name))
    if remove_root and out.is_local and info(out).type == pafs.FileType.Directory and not listing(out):
        out.fs.delete_dir(out.root)
