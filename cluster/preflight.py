"""Checks before any work: the Ray address, the output folder, the users' background images.
Each failure is one line (FacesynthError) and leaves everything as it was."""
from __future__ import annotations

import os
import socket

import pyarrow.fs as pafs

from cluster import storage
from cluster.config import JobConfig
from cluster.lock import parse_lock
from core.errors import FacesynthError


def check_address(address: str | None) -> None:
    """Fail fast on an address Ray would hang on: probe host:port with a plain TCP connect."""
    if address is None or address == "auto":
        return
    if address.startswith(("http://", "https://")):
        raise FacesynthError(f"--address {address}: that is a dashboard/Jobs API address; use it with "
                             "`facesynth submit`, or give the cluster address (auto, HOST:6379 or ray://HOST:10001)")
    hostport = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise FacesynthError(f"--address {address}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3.0):
            pass
    except OSError as e:
        raise FacesynthError(f"--address {address}: cannot reach {host}:{port} ({e.strerror or e}); "
                             "start the cluster (`ray start --head`) or fix the address") from None


def check_out_path(out: storage.Out) -> None:
    """Refuse a filesystem root, a bucket root, the home folder or a folder above it: a dataset
    needs a folder of its own."""
    if out.is_local:
        real = os.path.realpath(out.root)
        home = os.path.realpath(os.path.expanduser("~"))
        if os.path.dirname(real) == real:
            raise FacesynthError(f"--out {out.uri}: is a filesystem root; pass a folder of its own, e.g. {real.rstrip('/')}/facesynth-data")
        if real == home or home.startswith(real.rstrip(os.sep) + os.sep):
            raise FacesynthError(f"--out {out.uri}: is your home folder or holds it; pass a folder of its own, "
                                 "e.g. ~/facesynth-data")
    elif "/" not in out.root.strip("/"):
        raise FacesynthError(f"--out {out.uri}: is a bucket root; pass a prefix of its own, e.g. {out.uri.rstrip('/')}/facesynth-data")


def check_unclaimed(out: storage.Out) -> str | None:
    """For an --out without a manifest: refuse it unless it is empty or holds only what a run of
    ours that died before its first manifest leaves (its `_lock.json`, and under `_tmp/` only
    temp files carrying that run's id). Returns that dead run's id, if any."""
    entries = storage.listing(out)
    names = {e.base_name: e for e in entries}
    prev = None
    if storage.LOCK in names and names[storage.LOCK].type == pafs.FileType.File:
        try:
            with out.fs.open_input_stream(out.path(storage.LOCK)) as f:
                holder = parse_lock(f.read(4096))
        except OSError:  # unreadable: not evidence that the folder is ours
            holder = None
        rid = holder.get("run_id") if holder is not None else None
        if isinstance(rid, str) and storage.is_run_id(rid):  # a lock file as facesynth writes it
            prev = rid
            names.pop(storage.LOCK)
    if storage.TMP_DIR in names and prev is not None:
        tmp = storage.temp_entries(out)
        if all(e.type == pafs.FileType.File and storage.temp_run_id(e.base_name) == prev for e in tmp):
            names.pop(storage.TMP_DIR)
    if names:
        first = sorted(names)[0]
        raise FacesynthError(f"--out {out.uri}: not empty and not a facesynth dataset (found {first!r}); "
                             "pass an empty or new folder")
    return prev


def check_backgrounds(cfg: JobConfig) -> int:
    """Open every image of background.folder (if the config draws from it) before Ray starts:
    a bad file or a decompression bomb fails here with one line, not in every actor."""
    bg = cfg.render.background
    if bg.kinds.get("images", 0) <= 0 or bg.folder is None:
        return 0
    from render.background import check_images, list_images
    files = list_images(bg.folder)
    check_images(files)
    return len(files)


def check_workers(workers: int | None) -> None:
    if workers is not None and workers < 1:
        raise FacesynthError(f"--workers {workers}: must be at least 1")
