"""`facesynth submit JOB.yaml --address http://HEAD:8265`: run a job on a Ray cluster through
the Ray Jobs API and stream its logs until it ends (see ray_job.yaml at the repo root)."""
from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from cluster import rayauth
from core.errors import FacesynthError
from core.config import load_yaml_model, read_yaml


class JobSpec(BaseModel):
    """The fields of JobSubmissionClient.submit_job that a job file may set."""
    model_config = ConfigDict(extra="forbid")

    entrypoint: str = Field(..., min_length=1, description="shell command run on the head node, in working_dir")
    runtime_env: dict[str, Any] | str = Field(
        default_factory=dict,
        description="Ray runtime_env (working_dir, excludes, pip or uv, env_vars), or the path of a YAML file "
                    "holding one, relative to the job file: the file `ray job submit --runtime-env` takes")
    entrypoint_num_cpus: float = Field(0, ge=0, description="CPUs reserved for the driver")
    entrypoint_num_gpus: float = Field(0, ge=0, description="GPUs reserved for the driver")
    entrypoint_memory: int = Field(0, ge=0, description="memory (bytes) reserved for the driver")
    submission_id: str | None = Field(None, description="fixed job id (unique per cluster); None picks one")
    metadata: dict[str, str] = Field(default_factory=dict)

    @field_validator("runtime_env")
    @classmethod
    def _env(cls, v):
        if isinstance(v, dict) and "pip" in v and "uv" in v:
            raise ValueError("give either pip or uv, not both")
        return v


# Keys that belong to a job file, not to a runtime env: their presence means the wrong file.
_JOB_KEYS = {"entrypoint", "runtime_env", "entrypoint_num_cpus", "entrypoint_num_gpus"}


def load_runtime_env(path: str | Path) -> dict[str, Any]:
    """A runtime env YAML (as `ray job submit --runtime-env` takes), working_dir made absolute
    relative to the file, as a user reads it."""
    env = read_yaml(path)
    if _JOB_KEYS & set(env):
        raise FacesynthError(f"{path}: holds {sorted(_JOB_KEYS & set(env))[0]!r}, a job-file key; "
                             "a runtime env file has working_dir, excludes, pip, env_vars (see ray_runtime_env.yaml)")
    if "pip" in env and "uv" in env:
        raise FacesynthError(f"{path}: give either pip or uv, not both")
    return _resolve_working_dir(env, Path(path), f"{path}: working_dir")


def _resolve_working_dir(env: dict, base_file: Path, what: str) -> dict:
    env = dict(env)
    wd = env.get("working_dir")
    if isinstance(wd, str) and "://" not in wd:
        p = (base_file.resolve().parent / wd).resolve()
        if not p.is_dir():
            raise FacesynthError(f"{what} {wd!r} is not a folder ({p})")
        env["working_dir"] = str(p)
    return env


def load_job_spec(path: str | Path) -> JobSpec:
    spec = load_yaml_model(JobSpec, path)
    if isinstance(spec.runtime_env, str):
        env = load_runtime_env(Path(path).resolve().parent / spec.runtime_env)
    else:
        env = _resolve_working_dir(spec.runtime_env, Path(path), f"{path}: runtime_env.working_dir")
    return spec.model_copy(update={"runtime_env": env})


def _client(address: str):
    from ray.job_submission import JobSubmissionClient
    if not address.startswith(("http://", "https://")):
        raise FacesynthError(f"--address {address}: the Jobs API address is http://HEAD:8265 (the dashboard port)")
    try:
        return JobSubmissionClient(address, headers=rayauth.http_headers())
    except Exception as e:
        line = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise FacesynthError(f"--address {address}: cannot reach the Ray Jobs API ({line}); "
                             "start the head with `ray start --head` (dashboard included) or fix the address") from None


async def _stream(client, job_id: str, out) -> None:
    async for chunk in client.tail_job_logs(job_id):
        out.write(chunk)
        out.flush()


def submit(path: str, address: str, wait: bool = True, out=sys.stdout) -> tuple[str, str]:
    """Submit the job file; with wait, stream the logs and return (job id, final status)."""
    spec = load_job_spec(path)
    client = _client(address)
    kw = spec.model_dump(exclude_none=True)
    kw = {k: v for k, v in kw.items() if v not in (0, {}, None) or k == "entrypoint"}
    job_id = client.submit_job(**kw)
    print(f"facesynth: submitted job {job_id} to {address}", file=sys.stderr)
    if not wait:
        return job_id, str(client.get_job_status(job_id))
    try:
        asyncio.run(_stream(client, job_id, out))
        status = client.get_job_status(job_id)
        while not status.is_terminal():  # the log stream can end a moment before the status flips
            time.sleep(0.5)
            status = client.get_job_status(job_id)
    except KeyboardInterrupt:
        print(f"facesynth: stopped following; job {job_id} keeps running "
              f"(stop it with `ray job stop {job_id} --address {address}`)", file=sys.stderr)
        raise
    return job_id, str(status.value if hasattr(status, "value") else status)
