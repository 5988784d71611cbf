"""Helpers of the cluster tests: read a dataset back as (identity, image_index, sha256) rows,
and find/kill process trees precisely (never a broad `ray stop`, which would also end
other tests' Ray instances)."""
from __future__ import annotations

import hashlib
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq


def rows_of(files) -> Counter:
    """Multiset of (identity, image_index, sha256(image)) over the given shard files."""
    c: Counter = Counter()
    for f in files:
        t = pq.read_table(f, columns=["identity", "image_index", "image"])
        for i, j, img in zip(t["identity"].to_pylist(), t["image_index"].to_pylist(), t["image"].to_pylist()):
            c[(i, j, hashlib.sha256(img).hexdigest())] += 1
    return c


def assert_exactly_once(out: Path, cfg) -> Counter:
    """Every (identity, image_index) of the config's grid once, only committed shards visible."""
    from cluster.dataset import open_dataset
    ds = open_dataset(str(out))
    assert ds.complete
    visible = sorted(p.name for p in out.glob("*.parquet"))
    assert visible == sorted(Path(f).name for f in ds.files), "a shard on disk is not in the manifest"
    assert not [p for p in out.rglob("*") if p.name.endswith(".partial")], "temp files left"
    rows = rows_of(ds.files)
    keys = Counter((i, j) for i, j, _ in rows.elements())
    grid = {(i, j) for i in range(cfg.identity_start, cfg.identity_start + cfg.identities)
            for j in range(cfg.images_per_identity)}
    assert set(keys) == grid, f"missing {sorted(grid - set(keys))[:5]}, extra {sorted(set(keys) - grid)[:5]}"
    assert max(keys.values()) == 1, f"duplicates: {[k for k, n in keys.items() if n > 1][:5]}"
    return rows


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid -> (ppid, pgid, state) from /proc."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(d)] = (int(fields[1]), int(fields[2]), fields[0])
    return table


def tree(pgid: int) -> set[int]:
    """Every process in process group `pgid` and all their descendants (Ray puts its workers
    in process groups of their own, but they stay children of the raylet)."""
    t = _proc_table()
    group = {p for p, (_, g, _) in t.items() if g == pgid}
    return group | _below(t, group)


def _below(t: dict, roots) -> set[int]:
    """Every process in table `t` descending from one of `roots` (roots excluded)."""
    found, todo = set(), list(roots)
    while todo:
        x = todo.pop()
        for p, (pp, _, _) in t.items():
            if pp == x and p not in found:
                found.add(p)
                todo.append(p)
    return found


def alive(pids) -> set[int]:
    t = _proc_table()
    return {p for p in pids if p in t and t[p][2] != "Z"}


def kill_tree(pgid: int, sig=signal.SIGKILL, wait_s: float = 10.0, also=()) -> None:
    """Signal the group's tree plus `also` (a tree taken earlier: once a parent dies, its
    children move to init and no longer show up under the group), then SIGKILL leftovers."""
    pids = tree(pgid) | set(also)
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for p in alive(pids):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (an embedded Ray's raylet and its workers are below the driver)."""
    return _below(_proc_table(), [pid])


def processes_matching(prefix: str, under: int | None = None) -> list[int]:
    """Pids whose command line starts with `prefix` (Ray titles workers "ray::Class.method"),
    only among the descendants of `under` where given: other sessions on the machine may run
    actors of the same name, and they are not ours to kill."""
    mine = descendants(under) if under is not None else None
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and (mine is None or int(d) in mine):
            try:
                if Path(f"/proc/{d}/cmdline").read_bytes().startswith(prefix.encode()):
                    out.append(int(d))
            except OSError:
                continue
    return out
