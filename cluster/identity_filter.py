"""The job's side of the identity filter: run it once per dataset on Ray, keep it in the manifest.

The greedy pass (render/identity_filter.py) is sequential, but the candidates it compares are
pure, so they are rendered and embedded ahead of it, in waves spread over as many filter actors as
the job has render actors (a GPU node renders them through EGL like any actor). The pass itself
runs here, on the cached embeddings. The accepted variants go into the manifest, so a resume, or
another run on the same --out, renders the same people; they do not depend on the actor count.
"""
from __future__ import annotations

import sys

import numpy as np
from tqdm import tqdm

from cluster.config import JobConfig


class FilterActor:
    """Ray actor: renders and embeds the candidates it is given (render/identity_filter.py)."""

    def __init__(self, cfg_dict: dict):
        import os
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
        from cluster.config import parse_job_config
        from gen.facemodel import load_model
        from render.identity_filter import CandidateEmbedder
        cfg = parse_job_config(cfg_dict)
        self.embedder = CandidateEmbedder(load_model(cfg.gen.model), cfg.gen, cfg.render, cfg.seed)

    def embed(self, pairs: list) -> np.ndarray:
        return self.embedder.embed(pairs)


def ensure_filter(ray, cfg: JobConfig, manifest: dict, runtime_env: dict, n_actors: int = 1,
                  progress: bool = True) -> list[int] | None:
    """The accepted variants (from the manifest, or computed now on `n_actors` filter actors and
    stored there); None when the filter is off."""
    if not cfg.render.identity_filter.enabled:
        return None
    if manifest.get("identity_filter") is None:
        from render.identity_filter import chunks, select_in_waves
        fc = cfg.render.identity_filter
        n = cfg.identity_start + cfg.identities
        print(f"facesynth: identity filter: embedding candidates of {n} identities on {n_actors} actor(s) "
              f"(min_distance {fc.min_distance}, up to {fc.max_tries} tries each, cohort {fc.cohort}, "
              f"ranked by {fc.score})", file=sys.stderr)
        cls = ray.remote(FilterActor).options(num_cpus=cfg.ray.num_cpus_per_actor,
                                              num_gpus=cfg.ray.num_gpus_per_actor,
                                              max_restarts=cfg.ray.max_restarts,
                                              max_task_retries=cfg.ray.max_task_retries, runtime_env=runtime_env)
        actors = [cls.remote(cfg.model_dump(mode="json")) for _ in range(max(1, n_actors))]
        bar = tqdm(total=fc.cohort + n * fc.max_tries, unit="cand", desc="identity filter", file=sys.stderr,
                   disable=not progress, dynamic_ncols=True)

        def embed_many(pairs: list) -> np.ndarray:
            # Fixed chunks dealt round-robin: each is rendered in a fresh context, so a candidate's
            # probe depends on its chunk only, never on the number of actors.
            refs = [actors[k % len(actors)].embed.remote(c) for k, c in enumerate(chunks(pairs))]
            return np.concatenate(ray.get(refs))

        try:
            result = select_in_waves(fc, embed_many, n, progress=lambda done: bar.update(done - bar.n)).to_json()
        finally:
            bar.close()
            for a in actors:
                ray.kill(a)
        manifest["identity_filter"] = result
        print(f"facesynth: identity filter: {result['tries']} candidates for {n} identities, "
              f"{result['unmet']} kept below min_distance", file=sys.stderr)
    return manifest["identity_filter"]["variants"]
