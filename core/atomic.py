"""Atomic writes of local files and folders: readers see the old content or the complete new
content, never a half, and a committed write survives a power cut (fsync of the data, then of
the folder that holds the new name).

Temp names start with "." and carry the process id and a random tag, so two writers never share
one and a crash leaves something recognisable (`.NAME.tmp-PID-TAG`) beside the target.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path

from core.errors import FacesynthError


def fsync_dir(folder: str | Path) -> None:
    """Make a rename or creation inside `folder` durable (a no-op where the OS cannot)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; the data is still synced
        pass
    finally:
        os.close(fd)


def fsync_file(path: str | Path) -> None:
    """Flush a file written through another handle (e.g. pyarrow's) to stable storage."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_name(final: str | Path, tag: str = "") -> Path:
    """A fresh temp path beside `final`: `.NAME.tmp-PID-TAG` (TAG random unless given)."""
    final = Path(final)
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{tag or uuid.uuid4().hex[:12]}")


def commit(tmp: str | Path, final: str | Path) -> None:
    """fsync `tmp`, rename it onto `final`, fsync the folder."""
    fsync_file(tmp)
    os.replace(tmp, final)
    fsync_dir(Path(final).parent)


@contextmanager
def atomic_file(final: str | Path, mode: str = "wb"):
    """Yield an open temp file beside `final`; on a clean exit it is flushed, fsynced and renamed
    onto `final`; on any error (or Ctrl-C) it is removed and `final` is left as it was."""
    if mode not in ("wb", "w"):
        raise ValueError("atomic_file writes whole files: mode must be 'wb' or 'w'")
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(final)
    f = open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
    try:
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_path(final: str | Path):
    """Yield a temp path beside `final` for writers that want a name (torch.save, savefig,
    pyarrow); on a clean exit the file there is fsynced and renamed onto `final`."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    # keep the suffix last: some writers (savefig, torch) pick a format or add one by it
    tmp = final.with_name(f".{final.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:12]}{final.suffix}")
    try:
        yield tmp
        commit(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(final: str | Path, data: bytes) -> Path:
    with atomic_file(final, "wb") as f:
        f.write(data)
    return Path(final)


def atomic_write_text(final: str | Path, text: str) -> Path:
    return atomic_write_bytes(final, text.encode("utf-8"))


def _fsync_tree(root: Path) -> None:
    for d, _, files in os.walk(root):
        for name in files:
            fsync_file(os.path.join(d, name))
        fsync_dir(d)


@contextmanager
def atomic_dir(final: Path, what: str = "output folder"):
    """Yield a temp folder beside `final`; on a clean exit it replaces `final` by rename,
    on any error (or Ctrl-C) it is removed and `final` is left as it was."""
    final = Path(final)
    parent = final.parent if str(final.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-{os.getpid()}-", dir=parent))
    except OSError as e:
        raise FacesynthError(f"{final}: cannot create the {what} ({e.strerror}); choose a writable location") from None
    try:
        yield tmp
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        _fsync_tree(tmp)
        old = None
        if final.exists():
            old = parent / f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            os.replace(final, old)
        os.replace(tmp, final)
        fsync_dir(parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
