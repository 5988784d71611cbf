"""One writer per dataset: a lock on --out, taken before anything is written and held until the
run ends.

A second `generate` on the same --out while the first runs refuses with one line naming the
holder (host, pid, run id, since when); it does not wait. Rerun it once the first has ended.

- Local and POSIX shared folders: `_lock.json` held with flock(2). The kernel drops the lock
  when its process dies (kill -9 included), so a lock is never stale: a file left by a dead run
  is taken over. The file records the owner only to name it in the message.
- s3:// and gs://: object stores have no locks, so `_lock.json` is a lease: the owner's record
  with an expiry, renewed every LEASE_RENEW_S while the run lives. A lease past its expiry is
  stale and may be taken over. Taking it is write-then-read-back; two runs starting within
  the same second could both write, so the holder checks the lease is still its own at each
  renewal and stops with one line if not. (Object stores offer no stronger primitive through
  pyarrow.fs.)
"""
from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone

import pyarrow.fs as pafs

from cluster.storage import LOCK, Out
from core.errors import FacesynthError, first_line

LOCK_FORMAT = "facesynth-lock"
LEASE_S = 600.0  # a lease on an object store lives this long without renewal
LEASE_RENEW_S = 60.0


def _now_iso(t: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if t is None else t, timezone.utc).isoformat(timespec="seconds")


def _describe(holder: dict) -> str:
    return (f"run {holder.get('run_id', '?')} on {holder.get('host', '?')}, pid {holder.get('pid', '?')}, "
            f"since {holder.get('acquired', '?')}")


def parse_lock(data: bytes) -> dict | None:
    try:
        d = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return d if isinstance(d, dict) and d.get("format") == LOCK_FORMAT else None


class DatasetLock:
    """Held by one run; `acquire()` refuses with a FacesynthError where another run holds it."""

    def __init__(self, out: Out, run_id: str):
        self.out, self.run_id = out, run_id
        self._fd: int | None = None
        self._held = False
        self._renewed = 0.0

    def record(self, expires: float | None = None) -> dict:
        d = {"format": LOCK_FORMAT, "run_id": self.run_id, "host": socket.gethostname(), "pid": os.getpid(),
             "acquired": _now_iso()}
        if expires is not None:
            d["expires"] = _now_iso(expires)
            d["expires_unix"] = expires
        return d

    def _refuse(self, holder: dict | None) -> FacesynthError:
        who = _describe(holder) if holder else "another run"
        return FacesynthError(f"--out {self.out.uri}: another facesynth run is writing this dataset ({who}); "
                              "wait for it to end and rerun, or pass another --out")

    # ------------------------------------------------------------ local: flock
    def _acquire_local(self) -> None:
        import fcntl
        path = self.out.path(LOCK)
        for _ in range(5):  # the file may be replaced between open and flock; then try again
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = parse_lock(os.pread(fd, 4096, 0))
                os.close(fd)
                raise self._refuse(holder) from None
            except OSError as e:
                os.close(fd)
                raise FacesynthError(f"--out {self.out.uri}: cannot lock it ({e.strerror}); "
                                     "pass a folder on a filesystem that supports file locks") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # a releasing run unlinked it after we opened it: lock the new file
                os.close(fd)
                continue
            data = json.dumps(self.record()).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
            os.fsync(fd)
            self._fd = fd
            return
        raise FacesynthError(f"--out {self.out.uri}: the lock file keeps changing; another run is starting here")

    # ------------------------------------------------------------ object stores: lease
    def _read_remote(self) -> dict | None:
        p = self.out.path(LOCK)
        if self.out.fs.get_file_info(p).type != pafs.FileType.File:
            return None
        with self.out.fs.open_input_stream(p) as f:
            return parse_lock(f.read(4096)) or {}

    def _write_remote(self) -> None:
        with self.out.fs.open_output_stream(self.out.path(LOCK)) as f:
            f.write(json.dumps(self.record(time.time() + LEASE_S)).encode())
        self._renewed = time.monotonic()

    def _acquire_remote(self) -> None:
        holder = self._read_remote()
        if holder is not None and holder.get("run_id") != self.run_id:
            expires = holder.get("expires_unix")
            if not isinstance(expires, (int, float)) or expires > time.time():
                raise self._refuse(holder)
        self._write_remote()
        time.sleep(1.0)  # let a concurrent writer's lease land, then see whose won
        now = self._read_remote()
        if not now or now.get("run_id") != self.run_id:
            raise self._refuse(now)

    # ------------------------------------------------------------ API
    def acquire(self) -> None:
        try:
            if self.out.is_local:
                self._acquire_local()
            else:
                self._acquire_remote()
        except FacesynthError:
            raise
        except Exception as e:
            raise FacesynthError(f"--out {self.out.uri}: cannot take the dataset lock ({first_line(e)}); "
                                 "check that you can write there") from None
        self._held = True

    def renew(self) -> None:
        """Extend a lease (object stores); stop if another run took it. Cheap to call often."""
        if not self._held or self.out.is_local or time.monotonic() - self._renewed < LEASE_RENEW_S:
            return
        now = self._read_remote()
        if not now or now.get("run_id") != self.run_id:
            raise FacesynthError(f"--out {self.out.uri}: lost the dataset lock to "
                                 f"{_describe(now) if now else 'nobody (it was deleted)'}; two runs wrote here, "
                                 "run `facesynth verify` once both have ended")
        self._write_remote()

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        try:
            if self.out.is_local:
                try:
                    os.unlink(self.out.path(LOCK))  # while still holding it: see the inode check above
                finally:
                    os.close(self._fd)
                    self._fd = None
            else:
                now = self._read_remote()
                if now and now.get("run_id") == self.run_id:
                    self.out.fs.delete_file(self.out.path(LOCK))
        except Exception:  # noqa: BLE001 - a lock left behind is taken over by the next run
            pass

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()
