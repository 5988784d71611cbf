"""The job's side of the identity filter: run it once per dataset on Ray, keep it in the manifest.

The filter itself (render/identity_filter.py) is sequential: identity i is compared with every
identity accepted before it. It runs as one Ray task with an actor's resources (a GPU node renders
it through EGL like any actor), before the render actors start, and its accepted variants go into
the manifest, so a resume, or another run on the same --out, renders the same people.
"""
from __future__ import annotations

import sys

from cluster.config import JobConfig


def filter_task(cfg_dict: dict) -> dict:
    """Ray task body: the filter's result for identities 0 .. identity_start + identities - 1."""
    import os
    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from cluster.config import parse_job_config
    from gen.facemodel import load_model
    from render.identity_filter import run_filter
    cfg = parse_job_config(cfg_dict)
    model = load_model(cfg.gen.model)
    return run_filter(model, cfg.gen, cfg.render, cfg.seed, cfg.identity_start + cfg.identities).to_json()


def ensure_filter(ray, cfg: JobConfig, manifest: dict, runtime_env: dict) -> list[int] | None:
    """The accepted variants (from the manifest, or computed now and stored there); None when the
    filter is off."""
    if not cfg.render.identity_filter.enabled:
        return None
    if manifest.get("identity_filter") is None:
        n = cfg.identity_start + cfg.identities
        print(f"facesynth: identity filter: embedding candidates of {n} identities "
              f"(min_distance {cfg.render.identity_filter.min_distance}, up to "
              f"{cfg.render.identity_filter.max_tries} tries each)", file=sys.stderr)
        task = ray.remote(filter_task).options(num_cpus=cfg.ray.num_cpus_per_actor,
                                               num_gpus=cfg.ray.num_gpus_per_actor,
                                               max_retries=cfg.ray.max_task_retries, runtime_env=runtime_env)
        result = ray.get(task.remote(cfg.model_dump(mode="json")))
        manifest["identity_filter"] = result
        print(f"facesynth: identity filter: {result['tries']} candidates for {n} identities, "
              f"{result['unmet']} kept below min_distance", file=sys.stderr)
    return manifest["identity_filter"]["variants"]
