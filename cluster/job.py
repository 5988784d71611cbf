"""The main job: spread work units over render actors on Ray, commit one shard per unit,
record commits in the manifest, and resume from it.

Exactly-once: a unit's shard appears under its final name only whole (see storage.py); the
driver alone writes the manifest; on start it reconciles the manifest with the shards that
are there (adopting a shard committed just before a crash if its footer has the expected
row count) and clears temp leftovers, then renders only the units still missing.
"""
from __future__ import annotations

import math
import os
import socket
import sys
import time
from collections import deque
from datetime import datetime, timezone

import pyarrow.fs as pafs

from cluster import storage
from cluster.config import (JobConfig, config_hash, image_format, n_units, shard_name,
                            unit_identities, unit_range)
from cluster.schema import SCHEMA_VERSION
from core.errors import FacesynthError, first_line

MANIFEST_FLUSH_S = 2.0  # commits between flushes are recovered from the shards on resume


def _version() -> str:
    try:
        from importlib.metadata import version
        return version("facesynth")
    except Exception:
        return "unknown"


# ---------------------------------------------------------------- checks before any work

def check_address(address: str | None) -> None:
    """Fail fast on an address Ray would hang on: probe host:port with a plain TCP connect."""
    if address is None or address == "auto":
        return
    if address.startswith(("http://", "https://")):
        raise FacesynthError(f"--address {address}: that is a dashboard/Jobs API address; use it with "
                             "`facesynth submit`, or give the cluster address (auto, HOST:6379 or ray://HOST:10001)")
    hostport = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise FacesynthError(f"--address {address}: expected auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=3.0):
            pass
    except OSError as e:
        raise FacesynthError(f"--address {address}: cannot reach {host}:{port} ({e.strerror or e}); "
                             "start the cluster (`ray start --head`) or fix the address") from None


def _units_expected_rows(cfg: JobConfig, unit: int) -> int:
    first, end = unit_range(cfg, unit)
    return (end - first) * cfg.images_per_identity


def new_manifest(cfg: JobConfig) -> dict:
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {
        "format": storage.FORMAT, "schema_version": SCHEMA_VERSION, "created_by": f"facesynth {_version()}",
        "created": now, "updated": now, "config_hash": config_hash(cfg),
        "config": cfg.model_dump(mode="json"), "image_format": image_format(cfg),
        "layout": {"identity_start": cfg.identity_start, "identities": cfg.identities,
                   "images_per_identity": cfg.images_per_identity,
                   "unit_identities": unit_identities(cfg), "units": n_units(cfg)},
        "committed": {}, "complete": False,
    }


def prepare_out(out: storage.Out, cfg: JobConfig) -> tuple[dict, dict]:
    """Refuse a foreign or mismatched --out, then reconcile; returns (manifest, notes)."""
    m = storage.read_manifest(out)
    h = config_hash(cfg)
    if m is None:
        others = [e.base_name for e in storage.listing(out) if e.base_name != storage.TMP_DIR]
        if others:
            raise FacesynthError(f"--out {out.uri}: not empty and not a facesynth dataset (found {others[0]!r}); "
                                 "pass an empty or new folder")
    else:
        if m.get("schema_version") != SCHEMA_VERSION:
            raise FacesynthError(f"--out {out.uri}: written with schema version {m.get('schema_version')}, this "
                                 f"facesynth writes {SCHEMA_VERSION}; write to a new --out")
        if m.get("config_hash") != h:
            raise FacesynthError(f"--out {out.uri}: holds a dataset of another config (hash {str(m.get('config_hash'))[:12]}, "
                                 f"this config {h[:12]}); rerun with the config it was made with, or pass a new --out")
    root_existed = storage.info(out).type != pafs.FileType.NotFound
    storage.probe_writable(out)
    notes = {"temp_cleared": storage.clear_tmp(out), "adopted": 0, "dropped": 0,
             "created": m is None, "created_root": not root_existed}
    if m is None:
        m = new_manifest(cfg)
    names = {e.base_name for e in storage.listing(out) if e.type == pafs.FileType.File}
    for u in range(n_units(cfg)):
        name, key, want = shard_name(cfg, u), str(u), _units_expected_rows(cfg, u)
        rec = m["committed"].get(key)
        if rec is not None and name in names and storage.info(out, name).size == rec["bytes"]:
            continue
        if rec is not None:  # recorded but missing or changed on disk: redo the unit
            del m["committed"][key]
            notes["dropped"] += 1
        if name in names:
            got = storage.shard_rows(out, name)
            if got is not None and got[0] == want:  # committed just before a crash
                first, end = unit_range(cfg, u)
                m["committed"][key] = {"file": name, "rows": got[0], "bytes": got[1], "identities": [first, end]}
                notes["adopted"] += 1
            else:
                out.fs.delete_file(out.path(name))
                notes["dropped"] += 1
    m["complete"] = len(m["committed"]) == n_units(cfg)
    storage.write_manifest(out, m)
    return m, notes


# ---------------------------------------------------------------- Ray

def _connect(address: str | None, workers: int | None, cfg: JobConfig) -> bool:
    """Join or start Ray; returns True where this call started it (so it must shut it down)."""
    import logging

    import ray
    if ray.is_initialized():
        return False
    kw = dict(logging_level=logging.WARNING, log_to_driver=True)
    try:
        if address is None:
            cores = os.cpu_count() or 1
            n = workers or max(1, int(cores // cfg.ray.num_cpus_per_actor))
            ray.init(address="local", include_dashboard=False,
                     num_cpus=max(cores, math.ceil(n * cfg.ray.num_cpus_per_actor)), **kw)
        else:
            from cluster import rayauth
            rayauth.enable_for_join()
            ray.init(address=address, **kw)
    except Exception as e:
        raise FacesynthError(f"--address {address or 'local'}: cannot start or join Ray ({first_line(e)}); "
                             "check the address, or leave --address out to run locally") from None
    return True


def _capacity(cfg: JobConfig) -> int:
    import ray
    res = ray.available_resources()
    n = int(res.get("CPU", 0) // cfg.ray.num_cpus_per_actor)
    if cfg.ray.num_gpus_per_actor > 0:
        n = min(n, int(res.get("GPU", 0) // cfg.ray.num_gpus_per_actor))
    return n


def _actor_env(cfg: JobConfig) -> dict:
    env = {"PYOPENGL_PLATFORM": os.environ.get("PYOPENGL_PLATFORM", "egl")}
    # Mesa's llvmpipe (CPU rendering) starts one thread per core; keep it to the actor's share.
    env["LP_NUM_THREADS"] = os.environ.get("LP_NUM_THREADS", str(max(1, math.ceil(cfg.ray.num_cpus_per_actor))))
    return env


def _error_line(e: BaseException) -> str:
    """The most telling line of a Ray error (its cause's last line)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "error" in ln:
            return ln[:400]
    return (lines[-1] if lines else type(e).__name__)[:400]


# ---------------------------------------------------------------- the job

def generate(cfg: JobConfig, out: str, workers: int | None = None, address: str | None = None,
             progress: bool = True) -> dict:
    """Generate the dataset of `cfg` into `out` (resuming where a previous run stopped)."""
    if workers is not None and workers < 1:
        raise FacesynthError(f"--workers {workers}: must be at least 1")
    check_address(address)
    o = storage.resolve(out)
    manifest, notes = prepare_out(o, cfg)
    if address is None:
        # Import the model once here (a clear error now, and no actors racing to import it).
        from gen.facemodel import load_model
        load_model(cfg.gen.model)
    total_units = n_units(cfg)
    pending = deque(u for u in range(total_units) if str(u) not in manifest["committed"])
    summary = {"out": out, "identities": cfg.identities, "images": cfg.total_images,
               "shards": total_units, "units_resumed": total_units - len(pending),
               "units_written": 0, "images_written": 0, "retries": 0, "workers": 0,
               "seconds": 0.0, "images_per_s": 0.0, "temp_cleared": notes["temp_cleared"],
               "adopted": notes["adopted"], "config_hash": manifest["config_hash"]}
    if not pending:
        return _finish(summary, manifest, 0.0)

    import ray
    from tqdm import tqdm

    from cluster.worker import RenderActor

    t0, t_mono = time.perf_counter(), time.monotonic()
    try:
        started = _connect(address, workers, cfg)
    except BaseException:
        if notes["created"]:  # nothing rendered: leave --out as it was found
            storage.remove_new_dataset(o, remove_root=notes["created_root"])
        raise
    last_flush = time.monotonic()
    bar = None
    try:
        if address is not None and o.is_local:
            print(f"facesynth: note: --out {out} is a local path: every node must see the same folder "
                  "(shared filesystem), or use s3:// / gs://", file=sys.stderr)
        if address is None and cfg.ray.num_gpus_per_actor > 0 and not ray.cluster_resources().get("GPU"):
            raise FacesynthError(f"ray.num_gpus_per_actor is {cfg.ray.num_gpus_per_actor} but this machine "
                                 "has no GPU Ray can use; set it to 0 to render on CPU")
        cap = _capacity(cfg)
        if cap < 1 and not workers:
            raise FacesynthError(
                f"Ray has no room for one render actor now (needs {cfg.ray.num_cpus_per_actor} CPU, "
                f"{cfg.ray.num_gpus_per_actor} GPU; free: {ray.available_resources()}); pass --workers N to "
                "wait for nodes (autoscaling), or lower ray.num_cpus_per_actor / ray.num_gpus_per_actor")
        n_actors = min(workers or cap, len(pending))
        actor_cls = ray.remote(RenderActor).options(
            num_cpus=cfg.ray.num_cpus_per_actor, num_gpus=cfg.ray.num_gpus_per_actor,
            max_restarts=cfg.ray.max_restarts, max_task_retries=0,
            runtime_env={"env_vars": _actor_env(cfg)})
        cfg_dict = cfg.model_dump(mode="json")
        actors = [actor_cls.remote(cfg_dict, o.uri if o.uri.startswith(("s3://", "gs://", "file://")) else o.root)
                  for _ in range(n_actors)]
        summary["workers"] = n_actors
        sched = _Scheduler(ray, cfg, actors, pending, manifest, summary, t_mono,
                           streaming=not (address or "").startswith("ray://"))
        done_ids = sum(rec["identities"][1] - rec["identities"][0] for rec in manifest["committed"].values())
        bar = tqdm(total=cfg.identities, initial=done_ids, unit="id", desc="generate", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True, smoothing=0.1)
        sched.bar = bar
        while sched.step():
            if time.monotonic() - last_flush > MANIFEST_FLUSH_S:
                _flush(o, manifest)
                last_flush = time.monotonic()
        storage.clear_tmp(o)  # partial shards of actors that died mid-unit
    finally:
        if bar is not None:
            bar.close()
        _flush(o, manifest)
        if started:
            ray.shutdown()
    return _finish(summary, manifest, time.perf_counter() - t0)


class _Scheduler:
    """Hands units to ready actors and follows their progress streams.

    An actor is used only once its ready() call returns, so actors Ray cannot place yet (a
    busy or autoscaling cluster) hold no work. A unit whose actor died or raised goes back to
    the front of the queue; the actor, restarted by Ray, rejoins when ready() returns again.
    Progress arrives per identity through Ray streaming generators, or per unit under Ray
    Client (ray://), which does not support them.
    """

    def __init__(self, ray, cfg: JobConfig, actors: list, pending: deque, manifest: dict, summary: dict,
                 t_job: float, streaming: bool = True):
        self.ray, self.cfg, self.actors, self.pending = ray, cfg, actors, pending
        self.manifest, self.summary = manifest, summary
        self.starting = {a.ready.remote(): i for i, a in enumerate(actors)}  # ready ref -> actor
        self.idle: list[int] = []
        self.inflight: dict = {}  # progress stream -> [actor, unit, identities reported]
        self.actor_failures = [0] * len(actors)
        self.unit_failures: dict[int, int] = {}
        self.last_error = ""
        self.t_job = t_job  # time.monotonic() when generate() began
        self.streaming = streaming  # Ray Client (ray://) cannot follow streaming generators
        self.bar = None
        self.t0 = self.last_event = time.monotonic()
        self.images = 0

    def step(self) -> bool:
        """Dispatch, then handle what became ready within 1 s; False once all units are done."""
        ray, cfg = self.ray, self.cfg
        while self.idle and self.pending:
            a, u = self.idle.pop(0), self.pending.popleft()
            first, end = unit_range(cfg, u)
            actor = self.actors[a]
            if self.streaming:
                g = actor.run_unit.options(num_returns="streaming").remote(u, first, end, shard_name(cfg, u))
            else:
                g = actor.run_unit_blocking.remote(u, first, end, shard_name(cfg, u))
            self.inflight[g] = [a, u, 0]
        if not self.pending and not self.inflight:
            return False
        if not self.inflight and not self.starting:
            raise FacesynthError(f"every render actor died (last: {self.last_error}); fix the cause and rerun to resume")
        ready, _ = ray.wait(list(self.inflight) + list(self.starting), num_returns=1, timeout=1.0)
        if not ready and time.monotonic() - self.last_event > 120:
            self.last_event = time.monotonic()
            print(f"facesynth: waiting for Ray to place render actors ({cfg.ray.num_cpus_per_actor} CPU, "
                  f"{cfg.ray.num_gpus_per_actor} GPU each; free now: {ray.available_resources()})", file=sys.stderr)
        for x in ready:
            self.last_event = time.monotonic()
            if x in self.starting:
                self._started(x)
            else:
                self._streamed(x)
        return True

    def _started(self, ref) -> None:
        a = self.starting.pop(ref)
        try:
            self.ray.get(ref)
            self.idle.append(a)
            self.summary.setdefault("first_actor_ready_s", round(time.monotonic() - self.t_job, 3))
        except self.ray.exceptions.RayError as e:
            self._actor_failed(a, e)

    def _actor_failed(self, a: int, err: BaseException) -> None:
        self.last_error = _error_line(err)
        self.actor_failures[a] += 1
        if self.actor_failures[a] <= self.cfg.ray.max_restarts:  # Ray restarts it; use it once it is back
            self.starting[self.actors[a].ready.remote()] = a
        else:
            print(f"facesynth: render actor {a} gave up after {self.actor_failures[a]} failures "
                  f"(last: {self.last_error})", file=sys.stderr)

    def _streamed(self, g) -> None:
        ray, cfg = self.ray, self.cfg
        a, u, reported = self.inflight[g]
        try:
            msg = ray.get(next(g) if self.streaming else g)
        except StopIteration:
            return self._unit_failed(g, RuntimeError(f"unit {u} ended without committing its shard"))
        except ray.exceptions.RayError as e:
            return self._unit_failed(g, e)
        if msg["kind"] == "progress":
            self.inflight[g][2] += 1
            self.images += msg["images"]
            self.bar.update(1)
        elif msg["kind"] == "done":
            del self.inflight[g]
            if not self.streaming:  # progress comes a whole unit at a time
                first, end = msg["identities"]
                self.images += msg["rows"]
                self.bar.update(end - first)
            if msg["rows"] != _units_expected_rows(cfg, u):
                raise FacesynthError(f"unit {u}: shard has {msg['rows']} rows, expected "
                                     f"{_units_expected_rows(cfg, u)}; this is a bug, please report it")
            self.manifest["committed"][str(u)] = {k: msg[k] for k in ("file", "rows", "bytes", "identities")}
            self.summary["units_written"] += 1
            self.summary["images_written"] += msg["rows"]
            self.idle.append(a)
        el = time.monotonic() - self.t0
        if el > 0:
            self.bar.set_postfix_str(f"{self.images / el:.1f} img/s", refresh=False)

    def _unit_failed(self, g, err: BaseException) -> None:
        """Give back the unit's progress and queue it again, unless it failed too often."""
        a, u, reported = self.inflight.pop(g)
        self.bar.update(-reported)
        self.images -= reported * self.cfg.images_per_identity
        self.unit_failures[u] = self.unit_failures.get(u, 0) + 1
        self.summary["retries"] += 1
        self.last_error = _error_line(err)
        if self.unit_failures[u] > self.cfg.ray.max_task_retries:
            raise FacesynthError(f"unit {u} ({shard_name(self.cfg, u)}) failed {self.unit_failures[u]} times, "
                                 f"last: {self.last_error}; fix the cause and rerun to resume")
        print(f"facesynth: unit {u} failed ({self.last_error}); retrying", file=sys.stderr)
        self.pending.appendleft(u)
        if isinstance(err, self.ray.exceptions.RayActorError):
            self._actor_failed(a, err)
        else:
            self.idle.append(a)


def _flush(o: storage.Out, manifest: dict) -> None:
    manifest["updated"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["complete"] = len(manifest["committed"]) == manifest["layout"]["units"]
    storage.write_manifest(o, manifest)


def _finish(summary: dict, manifest: dict, seconds: float) -> dict:
    summary["seconds"] = round(seconds, 3)
    summary["images_per_s"] = round(summary["images_written"] / seconds, 2) if seconds > 0 else 0.0
    summary["bytes"] = int(sum(r["bytes"] for r in manifest["committed"].values()))
    summary["complete"] = len(manifest["committed"]) == manifest["layout"]["units"]
    return summary


def format_summary(s: dict) -> str:
    mb = s["bytes"] / 1e6
    lines = [f"{'complete' if s['complete'] else 'INCOMPLETE'}: {s['images']} images of {s['identities']} identities "
             f"in {s['shards']} shards, {mb:.1f} MB at {s['out']}",
             f"this run: {s['images_written']} images ({s['units_written']} units) in {s['seconds']:.1f} s = "
             f"{s['images_per_s']:.1f} images/s on {s['workers']} workers; "
             f"{s['units_resumed']} units were already committed, {s['retries']} retries"]
    return "\n".join(lines)
