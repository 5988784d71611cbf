"""The job's config: what to generate (gen + render), how to write it, how to spread it on Ray.

A dataset is the grid identities x images_per_identity. It is cut into *units* of
`unit_identities` consecutive identities; each unit becomes one Parquet shard
`part-u<unit>.parquet`. The unit is the grain of work, of retry and of resume.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from pydantic import Field, model_validator

from gen.config import GenConfig
from core.config import StrictConfig, load_yaml_model, parse_model
from core.errors import KeyedValueError
from render.config import RenderConfig


MAX_INDEX = 2**63 - 1  # seed and identity are int64 columns; image_index is int32 (images_per_identity <= 1e5)


class ShardOutputConfig(StrictConfig):
    """How shards are written (Parquet layout)."""

    shard_target_mb: float = Field(
        256.0, ge=1, le=4096,
        description="Size a shard aims at (MB). Used to pick ray.unit_identities when that is 0. "
                    "128-512 MB suits Parquet readers on object stores.")
    row_group_rows: int = Field(
        2000, ge=64, le=100_000,
        description="Rows per Parquet row group: the unit of reading and of the writer's memory.")
    compression: str = Field(
        "zstd", pattern="^(zstd|snappy|gzip|none)$",
        description="Codec for the metadata columns. Image columns are already JPEG/PNG, "
                    "so they are stored uncompressed.")


class ActorConfig(StrictConfig):
    """How actors are placed. None of these change the bytes written, so they are left out of
    the config hash: a run can be resumed on a different cluster with different resources."""

    num_cpus_per_actor: float = Field(1.0, gt=0, le=1024, description="CPUs reserved by each render actor.")
    num_gpus_per_actor: float = Field(
        0.0, ge=0, le=64, description="GPUs per render actor; a fraction (e.g. 0.25) packs several actors on one GPU.")
    unit_identities: int = Field(
        0, ge=0, le=100_000_000,
        description="Identities per work unit (= per shard). 0 picks it from output.shard_target_mb "
                    "(and at least 16 units). "
                    "Parallelism is at most the number of units: lower it for more actors than units. "
                    "Changes the shard layout, so it is part of the config hash.")
    max_restarts: int = Field(3, ge=0, le=1000, description="Times Ray restarts a dead actor (pre-emption, crash).")
    max_task_retries: int = Field(
        3, ge=0, le=1000, description="Times one unit is retried after its actor died or it raised, before the job fails.")


class JobConfig(StrictConfig):

    seed: int = Field(0, ge=0, le=MAX_INDEX, description="Dataset seed; image j of identity i depends only on (seed, i, j, config).")
    identities: int = Field(..., ge=1, le=100_000_000, description="Number of identities.")
    identity_start: int = Field(0, ge=0, le=MAX_INDEX, description="Index of the first identity (to extend a dataset in a second folder).")
    images_per_identity: int = Field(..., ge=1, le=100_000, description="Images rendered per identity.")
    gen: GenConfig = Field(default_factory=GenConfig)
    render: RenderConfig = Field(default_factory=RenderConfig)
    output: ShardOutputConfig = Field(default_factory=ShardOutputConfig)
    ray: ActorConfig = Field(default_factory=ActorConfig)

    @model_validator(mode="after")
    def _indices_fit(self):
        if self.identity_start + self.identities > MAX_INDEX:
            raise KeyedValueError("identity_start", f"identity_start + identities must stay below 2**63 (the int64 "
                                  f"identity column); got {self.identity_start} + {self.identities}")
        if self.render.identity_filter.enabled:
            if self.gen.identity.min_distance > 0:
                raise KeyedValueError("render.identity_filter.enabled", "gen.identity.min_distance also picks "
                                      "identities; set it to 0 to use the identity filter")
            if self.identity_start + self.identities > 2 ** 40:  # gen.identity.VARIANT_STRIDE
                raise KeyedValueError("render.identity_filter.enabled", "needs identity_start + identities "
                                      "<= 2**40 (candidates are drawn from indices above that)")
            f = self.render.identity_filter
            if f.aging_weight and not (f.ages == "span" and self.gen.aging.enabled and self.gen.aging.stages > 1):
                raise KeyedValueError("render.identity_filter.aging_weight", "weighs the change between a "
                                      "candidate's youngest and oldest probes, so it needs ages: span and "
                                      "gen.aging on with stages >= 2; set it to 0 otherwise")
        return self

    @property
    def total_images(self) -> int:
        return self.identities * self.images_per_identity


def load_job_config(path: str | Path) -> JobConfig:
    return load_yaml_model(JobConfig, path)


def parse_job_config(data: dict, source: str = "config") -> JobConfig:
    return parse_model(JobConfig, data, source)


def image_format(cfg: JobConfig) -> str:
    """'jpeg' or 'png': the encoding of the image column (render.output.format)."""
    return cfg.render.output.format


def keeps_full_frame(cfg: JobConfig) -> bool:
    return bool(cfg.render.output.keep_full_frame)


def estimated_bytes_per_image(cfg: JobConfig) -> float:
    """A rough size of one row, only used to size units from the shard target. Measured on
    112x112 renders: JPEG q95 about 5 KB, PNG about 25 KB; both grow with the pixel count."""
    o = cfg.render.output
    per_px = (25_000.0 if o.format == "png" else 5_000.0) / (112 * 112)
    size = per_px * o.image_size ** 2
    if o.keep_full_frame:
        size += per_px * o.frame_size ** 2
    return size + 1_000.0  # landmarks, expression and the other metadata columns


MIN_AUTO_UNITS = 16


def unit_identities(cfg: JobConfig) -> int:
    """Identities per unit: ray.unit_identities, or the most that keep a shard under
    output.shard_target_mb while leaving at least MIN_AUTO_UNITS units."""
    if cfg.ray.unit_identities:
        return min(cfg.ray.unit_identities, cfg.identities)
    per_identity = cfg.images_per_identity * estimated_bytes_per_image(cfg)
    k = int(cfg.output.shard_target_mb * 1e6 // per_identity)
    # A small dataset still gets MIN_AUTO_UNITS units, so that several actors share it
    # (its shards then fall below the target, which only matters for big datasets).
    k = min(k, math.ceil(cfg.identities / MIN_AUTO_UNITS))
    return max(1, min(k, cfg.identities))


def n_units(cfg: JobConfig) -> int:
    return math.ceil(cfg.identities / unit_identities(cfg))


def unit_range(cfg: JobConfig, unit: int) -> tuple[int, int]:
    """[first, end) identity indices of `unit`."""
    k = unit_identities(cfg)
    first = cfg.identity_start + unit * k
    return first, min(first + k, cfg.identity_start + cfg.identities)


def shard_name(cfg: JobConfig, unit: int) -> str:
    width = max(5, len(str(n_units(cfg) - 1)))
    return f"part-u{unit:0{width}d}.parquet"


def hashed_fields(cfg: JobConfig) -> dict:
    """Everything that changes the bytes or the shard layout; Ray placement is left out."""
    d = cfg.model_dump(mode="json")
    d.pop("ray")
    f = d["render"]["identity_filter"]
    if f["score"] == "count":  # the filter as it was before `score`: datasets made then keep their hash
        del f["score"], f["far_curve"]
    if not f["aging_weight"]:  # likewise before `aging_weight`
        del f["aging_weight"]
    d["unit_identities"] = unit_identities(cfg)
    return d


def config_hash(cfg: JobConfig) -> str:
    canon = json.dumps(hashed_fields(cfg), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()
