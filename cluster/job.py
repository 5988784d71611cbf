"""The main job: spread work units over render actors on Ray, commit one shard per unit,
record commits in the manifest, and resume from it.

Exactly-once: a unit's shard appears under its final name only whole (see storage.py); the
driver alone writes the manifest, and only while it holds the dataset's lock (lock.py); on start
it reconciles the manifest with the shards that are there (manifest.py: a shard whose checksum
fails is redone, one committed just before a crash is adopted) and clears its earlier runs'
temp files, then renders only the units still missing (scheduler.py).
"""
from __future__ import annotations

import math
import os
import re
import sys
import time
from collections import deque

from cluster import manifest as mf
from cluster import preflight, storage
from cluster.config import JobConfig, config_hash, n_units
from cluster.lock import DatasetLock
from cluster.preflight import check_address  # noqa: F401 - part of this module's API
from cluster.scheduler import Scheduler
from cluster.schema import SCHEMA_VERSION
from core.errors import FacesynthError, first_line

MANIFEST_FLUSH_S = 2.0  # commits between flushes are recovered from the shards on resume


def _check_matches(out: storage.Out, m: dict, cfg: JobConfig) -> None:
    if m["schema_version"] != SCHEMA_VERSION:
        raise FacesynthError(f"--out {out.uri}: written with schema version {m['schema_version']}, this "
                             f"facesynth writes {SCHEMA_VERSION}; write to a new --out")
    h = config_hash(cfg)
    if m["config_hash"] != h:
        raise FacesynthError(f"--out {out.uri}: holds a dataset of another config (hash {m['config_hash'][:12]}, "
                             f"this config {h[:12]}); rerun with the config it was made with, or pass a new --out")


def prepare_out(out: storage.Out, cfg: JobConfig, run_id: str | None = None,
                lock: DatasetLock | None = None) -> tuple[dict, dict]:
    """Refuse a foreign or mismatched --out, take its lock, then reconcile the manifest with the
    shards; returns (manifest, notes). Without `lock`, one is taken for this call only."""
    preflight.check_out_path(out)
    m = mf.read(out)
    prev_run = preflight.check_unclaimed(out) if m is None else None
    if m is not None:
        _check_matches(out, m, cfg)
    created_root = storage.ensure_root(out)
    run_id = run_id or storage.new_run_id()
    own_lock = lock is None
    lock = lock or DatasetLock(out, run_id)
    try:
        lock.acquire()
        try:
            m = mf.read(out)  # again, under the lock: another run may have finished meanwhile
            if m is not None:
                _check_matches(out, m, cfg)
            created = m is None
            if created:
                m = mf.new_manifest(cfg)
                if prev_run:  # a run of ours died before its first manifest: its temp files are ours
                    mf.add_run(m, prev_run)
            notes = mf.reconcile(out, m, run_id)
        finally:
            if own_lock:
                lock.release()
    except BaseException:
        if created_root:  # a root this call made holds nothing but what this call wrote
            storage.remove_new_dataset(out, run_id)
            lock.release()
            storage.remove_root_if_empty(out)
        raise
    notes.update(created=created, created_root=created_root)
    return m, notes


# ---------------------------------------------------------------- Ray start-up

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
            _join(ray, address, kw)
    except Exception as e:
        raise FacesynthError(f"--address {address or 'local'}: cannot start or join Ray ({first_line(e)}); "
                             "check the address, or leave --address out to run locally") from None
    return True


def _join(ray, address: str, kw: dict) -> None:
    """ray.init(address); a ray:// join is tried twice: the head's client proxy starts a server per
    driver, and on a loaded head that start can time out once ("Starting Ray client server failed")."""
    tries = 2 if address.startswith("ray://") else 1
    for t in range(tries):
        try:
            ray.init(address=address, **kw)
            return
        except Exception:
            if t + 1 == tries:
                raise
            ray.shutdown()
            time.sleep(3.0)


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


# ---------------------------------------------------------------- the job

def generate(cfg: JobConfig, out: str, workers: int | None = None, address: str | None = None,
             progress: bool = True) -> dict:
    """Generate the dataset of `cfg` into `out` (resuming where a previous run stopped)."""
    preflight.check_workers(workers)
    check_address(address)
    preflight.check_backgrounds(cfg)
    o = storage.resolve(out)
    run_id = storage.new_run_id()
    lock = DatasetLock(o, run_id)
    try:
        manifest, notes = prepare_out(o, cfg, run_id, lock)
    except BaseException:
        lock.release()  # refused or failed after taking it: never hold it past this call
        raise
    try:
        return _run(cfg, o, out, manifest, notes, run_id, lock, workers, address, progress)
    except BaseException:
        if notes["created"] and not manifest["committed"] and not _shards_on_disk(o):
            # nothing rendered (no shard committed, not even one the driver had not heard of yet):
            # leave --out as it was found
            storage.remove_new_dataset(o, run_id)
            lock.release()
            if notes["created_root"]:
                storage.remove_root_if_empty(o)
        raise
    finally:
        lock.release()


def _shards_on_disk(o: storage.Out) -> bool:
    return any(re.fullmatch(r"part-u\d+\.parquet", e.base_name) for e in storage.listing(o))


def _run(cfg, o, out, manifest, notes, run_id, lock, workers, address, progress) -> dict:
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
               "adopted": notes["adopted"], "redone": notes["dropped"], "config_hash": manifest["config_hash"],
               "run_id": run_id}
    if notes["foreign_tmp"]:
        print(f"facesynth: note: left {len(notes['foreign_tmp'])} file(s) in {storage.TMP_DIR}/ that facesynth did "
              f"not write alone (e.g. {notes['foreign_tmp'][0]!r})", file=sys.stderr)
    if not pending:
        return _finish(summary, manifest, 0.0)

    import ray
    from tqdm import tqdm

    from cluster.worker import RenderActor

    t0, t_mono = time.perf_counter(), time.monotonic()
    started = _connect(address, workers, cfg)
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
        from cluster.identity_filter import ensure_filter
        variants = ensure_filter(ray, cfg, manifest, {"env_vars": _actor_env(cfg)}, n_actors, progress)
        if variants is not None:
            mf.flush(o, manifest, run_id)
        actor_cls = ray.remote(RenderActor).options(
            num_cpus=cfg.ray.num_cpus_per_actor, num_gpus=cfg.ray.num_gpus_per_actor,
            max_restarts=cfg.ray.max_restarts, max_task_retries=0,
            runtime_env={"env_vars": _actor_env(cfg)})
        cfg_dict = cfg.model_dump(mode="json")
        actors = [actor_cls.remote(cfg_dict, o.uri if o.uri.startswith(("s3://", "gs://", "file://")) else o.root,
                                   run_id, variants) for _ in range(n_actors)]
        summary["workers"] = n_actors
        sched = Scheduler(ray, cfg, actors, pending, manifest, summary, t_mono,
                          streaming=not (address or "").startswith("ray://"))
        done_ids = sum(rec["identities"][1] - rec["identities"][0] for rec in manifest["committed"].values())
        bar = tqdm(total=cfg.identities, initial=done_ids, unit="id", desc="generate", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True, smoothing=0.1)
        sched.bar = bar
        while sched.step():
            if time.monotonic() - last_flush > MANIFEST_FLUSH_S:
                lock.renew()
                mf.flush(o, manifest, run_id)
                last_flush = time.monotonic()
        storage.clear_tmp(o, [run_id])  # partial shards of actors that died mid-unit
    finally:
        if bar is not None:
            bar.close()
        mf.flush(o, manifest, run_id)
        if manifest["complete"]:  # set by the flush above
            storage.remove_tmp_if_empty(o)  # the manifest's atomic writes went through it
        if started:
            ray.shutdown()
    return _finish(summary, manifest, time.perf_counter() - t0)


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
    if s.get("redone"):
        lines[-1] += f", {s['redone']} damaged or missing shards redone"
    return "\n".join(lines)
