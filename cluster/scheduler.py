"""The scheduler: hands work units to ready render actors, follows their progress and records
their commits in the manifest (in memory; the job flushes it)."""
from __future__ import annotations

import sys
import time
from collections import deque

from cluster.config import JobConfig, shard_name, unit_range
from cluster.manifest import expected_rows, record_commit
from core.errors import FacesynthError, first_line


class Scheduler:
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
        self.last_error = first_line(err)
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
            want = expected_rows(self.manifest["layout"], u)
            if msg["rows"] != want:
                raise FacesynthError(f"unit {u}: shard has {msg['rows']} rows, expected {want}; "
                                     "this is a bug, please report it")
            record_commit(self.manifest, u, msg)
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
        self.last_error = first_line(err)
        if self.unit_failures[u] > self.cfg.ray.max_task_retries:
            raise FacesynthError(f"unit {u} ({shard_name(self.cfg, u)}) failed {self.unit_failures[u]} times, "
                                 f"last: {self.last_error}; fix the cause and rerun to resume")
        print(f"facesynth: unit {u} failed ({self.last_error}); retrying", file=sys.stderr)
        self.pending.appendleft(u)
        if isinstance(err, self.ray.exceptions.RayActorError):
            self._actor_failed(a, err)
        else:
            self.idle.append(a)
