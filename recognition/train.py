"""`facesynth train`: ArcFace/CosFace training on one process (CPU or one GPU) or per Ray worker.

`run(cfg, ctx)` is the whole loop; ray_train.py calls it inside each TorchTrainer worker with
that worker's rank. Everything a step sees is a pure function of (seed, step), and checkpoints
hold optimiser, scaler and RNG state, so a resumed run matches an uninterrupted one.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import torch
from torch.utils.data import DataLoader

from core.errors import FacesynthError, first_line
from recognition import checkpoint as ckpt
from recognition.backbones import build_backbone
from recognition.config import TrainConfig
from recognition.data import mixed
from recognition.losses import MarginHead

# Keys that change the result; everything else (paths, logging, workers) may differ on resume.
_FINGERPRINT = {"seed", "epochs", "steps", "batch_size", "model", "optim", "init_from"}


@dataclass
class Context:
    rank: int = 0
    world: int = 1
    device: torch.device | None = None


def fingerprint(cfg: TrainConfig) -> dict:
    d = cfg.model_dump(mode="json", include=_FINGERPRINT)
    d["data"] = cfg.data.model_dump(mode="json", include={"sources", "combine", "input_size", "augment"})
    return d


def pick_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise FacesynthError("device: cuda requested but no CUDA GPU is visible; use device: auto or cpu")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def lr_at(step: int, total: int, steps_per_epoch: int, cfg) -> float:
    """Linear warmup to cfg.lr, then poly decay to 0 or step decay at epoch milestones."""
    warm = int(round(cfg.warmup_epochs * steps_per_epoch))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    if cfg.schedule == "poly":
        return cfg.lr * (1.0 - (step - warm) / max(1, total - warm)) ** cfg.poly_power
    passed = sum(step >= m * steps_per_epoch for m in cfg.milestones)
    return cfg.lr * cfg.gamma ** passed


def _log(msg: str, rank: int) -> None:
    if rank == 0:
        print(msg, file=sys.stderr, flush=True)


def _data_error(e: BaseException) -> FacesynthError:
    return FacesynthError(f"training data: {first_line(e, 200)}; check the sources (`facesynth verify DATASET` "
                          "for facesynth datasets) and rerun")


def _build_data(cfg: TrainConfig):
    """The training set and its batch plan. facesynth datasets are verified against their
    checksums first, so a damaged shard stops training here with one line."""
    from cluster.dataset import open_dataset
    from cluster.storage import MANIFEST
    for src in cfg.data.sources:
        if src.kind == "parquet" and (Path(src.path) / MANIFEST).is_file():
            open_dataset(src.path, verify=True)
    try:
        return mixed.build(cfg.data, cfg.batch_size, cfg.seed)
    except (OSError, ValueError, pa.ArrowException) as e:
        raise _data_error(e) from e


def _batches(loader):
    """The loader's batches; a damaged file met while reading is one line, not a traceback."""
    it = iter(loader)
    while True:
        try:
            yield next(it)
        except StopIteration:
            return
        except FacesynthError:
            raise
        except (OSError, ValueError, pa.ArrowException) as e:
            raise _data_error(e) from e


def run(cfg: TrainConfig, ctx: Context | None = None, stop_at: int | None = None,
        progress: bool = True) -> Path:
    """Train to the end (or to step `stop_at`, checkpointing there). Returns the last checkpoint."""
    ctx = ctx or Context()
    device = ctx.device or pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if cfg.init_from and not Path(cfg.init_from).is_file():
        raise FacesynthError(f"init_from: {cfg.init_from} not found; point it at a checkpoint from facesynth train")
    dataset, plan = _build_data(cfg)
    out.mkdir(parents=True, exist_ok=True)  # only once the inputs are known to be good
    spe = plan.steps_per_epoch
    total = cfg.steps or max(1, math.ceil(cfg.epochs * spe))
    if cfg.batch_size % ctx.world:
        raise FacesynthError(f"batch_size {cfg.batch_size} is not divisible by {ctx.world} Ray workers; change either")

    torch.manual_seed(cfg.seed)
    m = cfg.model
    model = build_backbone(m.backbone, m.embedding_size, m.width, m.dropout, cfg.data.input_size)
    head = MarginHead(m.embedding_size, dataset.num_classes, m.loss, m.scale, m.margin)
    if cfg.init_from:
        try:
            model.load_state_dict(ckpt.load(cfg.init_from)["backbone"])
        except (KeyError, RuntimeError, TypeError):
            raise FacesynthError(f"init_from: {cfg.init_from} holds a different backbone than model: "
                                 f"{m.backbone} x{m.width}, {m.embedding_size}-D; match the model config") from None
    use_amp = cfg.amp and device.type == "cuda"
    mem = torch.channels_last if (cfg.channels_last and device.type == "cuda") else torch.contiguous_format
    model.to(device, memory_format=mem)
    head.to(device)
    params = [p for p in list(model.parameters()) + list(head.parameters()) if p.requires_grad]
    opt = torch.optim.SGD(params, lr=cfg.optim.lr, momentum=cfg.optim.momentum,
                          weight_decay=cfg.optim.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    start = 0
    found = ckpt.latest(out)
    if found is not None:
        state = ckpt.load(found)
        if state.get("fingerprint") != fingerprint(cfg):
            raise FacesynthError(f"{found}: this output directory holds a run with a different config; "
                                 "use a new out directory or delete the old checkpoints")
        try:
            model.load_state_dict(state["backbone"])
            head.load_state_dict(state["head"])
            opt.load_state_dict(state["optimizer"])
            scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["rng_cpu"])
            if device.type == "cuda" and state.get("rng_cuda") is not None:
                torch.cuda.set_rng_state(state["rng_cuda"], device)
            start = int(state["step"])
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            raise FacesynthError(f"{found}: damaged checkpoint ({type(e).__name__}: {first_line(e, 160)}); "
                                 "move it away to resume from an earlier one") from e
        _log(f"resuming from {found} at step {start}/{total}", ctx.rank)
    stop = total if stop_at is None else min(total, stop_at)

    def save(step: int) -> Path:
        path = ckpt.final_path(out) if step >= total else ckpt.step_path(out, step)
        if ctx.rank == 0:
            ckpt.save(path, {
                "step": step, "total_steps": total, "config": cfg.model_dump(mode="json"),
                "fingerprint": fingerprint(cfg), "model": m.model_dump(mode="json"),
                "input_size": cfg.data.input_size, "num_classes": dataset.num_classes,
                "backbone": model.state_dict(), "head": head.state_dict(), "optimizer": opt.state_dict(),
                "scaler": scaler.state_dict(), "rng_cpu": torch.get_rng_state(),
                "rng_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None})
            ckpt.prune(out, cfg.keep_checkpoints)
        return path

    if start >= stop:
        return found
    train_model, train_head = model, head
    if ctx.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        ids = [device.index] if device.type == "cuda" else None
        train_model, train_head = DDP(model, device_ids=ids), DDP(head, device_ids=ids)
    loader = DataLoader(dataset, batch_sampler=mixed.PlanSampler(plan, start, stop, ctx.rank, ctx.world),
                        num_workers=cfg.data.num_workers, pin_memory=device.type == "cuda",
                        persistent_workers=False,
                        # Its own generator: the loader must not draw from the global RNG that dropout
                        # uses, or a resumed run would see different dropout masks.
                        generator=torch.Generator().manual_seed(cfg.seed))
    _log(f"training {m.backbone} x{m.width} on {len(dataset)} images, {dataset.num_classes} identities, "
         f"{total} steps ({spe} per epoch), device {device}, world {ctx.world}", ctx.rank)
    model.train()
    head.train()
    bar = None
    if progress and ctx.rank == 0:
        from tqdm import tqdm
        bar = tqdm(total=stop - start, desc="train", unit="step", file=sys.stderr, leave=False)
    log_f = open(out / "log.jsonl", "a") if ctx.rank == 0 else None
    step, t0, seen, path = start, time.perf_counter(), 0, None
    try:
        for images, labels in _batches(loader):
            lr = lr_at(step, total, spe, cfg.optim)
            for g in opt.param_groups:
                g["lr"] = lr
            images = images.to(device, non_blocking=True, memory_format=mem)
            labels = labels.to(device, non_blocking=True)
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                loss = train_head(train_model(images), labels)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.optim.grad_clip:
                scaler.unscale_(opt)
                torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
            scaler.step(opt)
            scaler.update()
            step += 1
            seen += images.shape[0] * ctx.world
            if bar is not None:
                bar.update(1)
            if step % cfg.log_every == 0 or step == stop:
                dt = time.perf_counter() - t0
                rec = {"step": step, "epoch": round(step / spe, 3), "loss": round(float(loss.detach()), 4),
                       "lr": lr, "images_per_s": round(seen / dt, 1) if dt > 0 else None}
                if log_f:
                    log_f.write(json.dumps(rec) + "\n")
                    log_f.flush()
                if bar is not None:
                    bar.set_postfix(loss=rec["loss"], lr=f"{lr:.4g}", ips=rec["images_per_s"])
                t0, seen = time.perf_counter(), 0
            if step == stop or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0):
                path = save(step)
    finally:
        if bar is not None:
            bar.close()
        if log_f:
            log_f.close()
    if step < stop:
        raise FacesynthError(f"training stopped at step {step} of {stop}: the data loader ended early")
    return path
