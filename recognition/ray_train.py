"""Multi-GPU / multi-node training through Ray Train (TorchTrainer, DDP), same config as one process.

Each worker runs recognition.train.run with its rank: a rank takes slots rank::world of every
global batch, so the global batch, schedule and data order match the single-process run.
Rank 0 writes checkpoints into cfg.out (put it on storage every node can reach).
"""
from __future__ import annotations

from pathlib import Path

from core.errors import FacesynthError, first_line
from recognition.config import TrainConfig


def _worker_loop(loop_config: dict) -> None:
    import ray.train
    import ray.train.torch

    from recognition import train
    cfg = TrainConfig.model_validate(loop_config["config"])
    tctx = ray.train.get_context()
    rank, world = tctx.get_world_rank(), tctx.get_world_size()
    device = ray.train.torch.get_device() if cfg.ray.use_gpu else None
    import torch
    ctx = train.Context(rank=rank, world=world, device=device or torch.device("cpu"))
    path = train.run(cfg, ctx, progress=rank == 0)
    ray.train.report({"checkpoint": str(path)})  # every rank reports (a collective in Train v2)


def trainer_for(cfg: TrainConfig):
    """The TorchTrainer for a config (split out so its wiring can be checked without running it)."""
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    r = cfg.ray
    return TorchTrainer(
        _worker_loop,
        train_loop_config={"config": cfg.model_dump(mode="json")},
        scaling_config=ScalingConfig(num_workers=r.num_workers, use_gpu=r.use_gpu,
                                     resources_per_worker={"CPU": r.cpus_per_worker}),
        run_config=RunConfig(name="train", storage_path=str((Path(cfg.out) / "ray").resolve())),
    )


def run(cfg: TrainConfig) -> Path:
    import ray
    if cfg.batch_size % cfg.ray.num_workers:
        raise FacesynthError(f"batch_size {cfg.batch_size} is not divisible by ray.num_workers "
                             f"{cfg.ray.num_workers}; change either")
    Path(cfg.out).mkdir(parents=True, exist_ok=True)
    started = False
    if not ray.is_initialized():
        ray.init(address=cfg.ray.address, include_dashboard=False, log_to_driver=True)
        started = True
    try:
        result = trainer_for(cfg).fit()
    except Exception as e:  # noqa: BLE001 - Ray wraps worker errors in its own types
        # Ray Train raises TrainingFailedError from the worker's error: that one says what went wrong
        raise FacesynthError(f"Ray training failed: {first_line(e.__cause__ or e, 300)}") from e
    finally:
        if started:
            ray.shutdown()
    del result  # Train v2 keeps metrics only with Ray checkpoints; rank 0 wrote ours to cfg.out
    from recognition import checkpoint as ckpt
    path = ckpt.latest(cfg.out)
    if path is None:
        raise FacesynthError(f"Ray training finished but {cfg.out} holds no checkpoint; is out on shared storage?")
    return path
