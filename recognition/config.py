"""Validated configs for `facesynth train`, `eval` and `benchmark` (pydantic, unknown keys refused).

Every default is documented where it is declared; numbers taken from papers cite them.
"""
from __future__ import annotations

from typing import Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from core.config import StrictConfig

from recognition.backbones import NAMES as BACKBONES


class SourceConfig(StrictConfig):
    """One training data source. Each source gets its own block of labels (no collisions)."""
    kind: Literal["parquet", "recordio", "imagefolder"] = Field(
        description="parquet: facesynth shards (a file or a directory of *.parquet); recordio: "
                    "insightface train.rec (+ train.idx beside it, or the folder holding both); "
                    "imagefolder: one subfolder of images per identity")
    path: str
    weight: float = Field(1.0, gt=0, description="share of every batch in combine: mix (normalised over sources)")
    name: Optional[str] = Field(None, description="label for logs and tables; defaults to the path's name")


class AugmentConfig(StrictConfig):
    """Per-image augmentation. Probabilities default to DigiFace-1M's set (Bae et al., WACV 2023)."""
    enabled: bool = True
    flip: float = Field(0.5, ge=0, le=1, description="horizontal flip")
    warp: float = Field(1.0, ge=0, le=1, description="random perspective warp; DigiFace-1M warps every image")
    warp_strength: float = Field(0.06, ge=0, le=0.3, description="max corner shift, fraction of the side")
    blur: float = Field(0.05, ge=0, le=1)
    noise: float = Field(0.035, ge=0, le=1)
    motion_blur: float = Field(0.05, ge=0, le=1)
    brightness: float = Field(0.15, ge=0, le=1)
    contrast: float = Field(0.3, ge=0, le=1)
    hue: float = Field(0.1, ge=0, le=1)
    saturation: float = Field(0.1, ge=0, le=1)
    grayscale: float = Field(0.01, ge=0, le=1)
    downup: float = Field(0.01, ge=0, le=1, description="downsample then upsample")
    jpeg: float = Field(0.05, ge=0, le=1, description="JPEG re-encoding")


class DataConfig(StrictConfig):
    sources: list[SourceConfig] = Field(min_length=1)
    combine: Literal["mix", "concat"] = Field(
        "mix", description="mix: every batch holds each source in proportion to its weight, and an epoch "
                           "is one pass over the FIRST source; concat: one shuffled pool, an epoch is one "
                           "pass over all of it")
    num_workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes (decode + augment)")
    input_size: int = Field(112, ge=32, le=224, description="square input side; images are resized if needed")
    augment: AugmentConfig = AugmentConfig()

    @field_validator("input_size")
    @classmethod
    def _mult16(cls, v: int) -> int:
        if v % 16:
            raise ValueError("must be a multiple of 16 (four stride-2 stages)")
        return v

    @model_validator(mode="after")
    def _weights_only_for_mix(self):
        if self.combine == "concat" and any(s.weight != 1.0 for s in self.sources):
            raise ValueError("sources[].weight only applies to combine: mix; remove it or use mix")
        return self


class ModelConfig(StrictConfig):
    backbone: str = Field("iresnet50", description=f"one of {', '.join(BACKBONES)}")
    width: float = Field(1.0, gt=0, le=4, description="channel multiplier; 1.0 is the published network")
    embedding_size: int = Field(512, ge=8, le=4096)
    dropout: float = Field(0.0, ge=0, lt=1)
    loss: Literal["arcface", "cosface"] = "arcface"
    scale: float = Field(64.0, gt=0, description="logit scale s (ArcFace: 64)")
    margin: Optional[float] = Field(None, ge=0, le=1.5, description="default 0.5 (ArcFace) or 0.35 (CosFace)")

    @field_validator("backbone")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in BACKBONES:
            raise ValueError(f"unknown backbone; choose one of {', '.join(BACKBONES)}")
        return v


class OptimConfig(StrictConfig):
    """SGD as in arcface_torch: momentum 0.9, weight decay 5e-4, linear warmup, then poly or step."""
    lr: float = Field(0.1, gt=0, description="peak learning rate, reached after warmup")
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(5e-4, ge=0)
    warmup_epochs: float = Field(0.0, ge=0)
    schedule: Literal["poly", "step"] = "poly"
    poly_power: float = Field(2.0, gt=0, description="lr = peak * (1 - progress)^power after warmup")
    milestones: list[float] = Field(default_factory=list, description="step schedule: epochs at which lr *= gamma")
    gamma: float = Field(0.1, gt=0, le=1)
    grad_clip: Optional[float] = Field(5.0, gt=0, description="max global grad norm; null disables")


class TrainRayConfig(StrictConfig):
    enabled: bool = Field(False, description="run through Ray Train (TorchTrainer, DDP)")
    num_workers: int = Field(1, ge=1, description="training processes, one per GPU")
    use_gpu: bool = True
    cpus_per_worker: float = Field(2.0, gt=0)
    address: Optional[str] = Field(None, description="Ray cluster address; null starts a local Ray")


class TrainSettings(StrictConfig):
    """How to train, whatever the data: shared by TrainConfig and the benchmark's train template."""
    epochs: Optional[float] = Field(None, gt=0, description="training length (see data.combine for the epoch)")
    steps: Optional[int] = Field(None, gt=0, description="training length in optimiser steps; overrides epochs")
    batch_size: int = Field(128, ge=2, description="global batch (split over Ray workers)")
    model: ModelConfig = ModelConfig()
    optim: OptimConfig = OptimConfig()
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: bool = Field(True, description="fp16 autocast + GradScaler, GPU only")
    channels_last: bool = Field(True, description="channels_last memory format, GPU only")
    threads: Optional[int] = Field(None, ge=1, description="torch CPU threads; null keeps torch's default")
    log_every: int = Field(20, ge=1, description="steps between log lines")
    checkpoint_every: int = Field(0, ge=0, description="steps between checkpoints; 0 saves only the final one")
    keep_checkpoints: int = Field(2, ge=1, description="intermediate checkpoints kept")
    ray: TrainRayConfig = TrainRayConfig()

    @model_validator(mode="after")
    def _length(self):
        if self.epochs is None and self.steps is None:
            raise ValueError("set epochs or steps")
        if self.optim.schedule == "step" and self.optim.milestones != sorted(self.optim.milestones):
            raise ValueError("optim.milestones must be increasing")
        return self


class TrainConfig(TrainSettings):
    """One training run: the settings plus its data, output and seed."""
    seed: int = Field(0, ge=0)
    out: str = Field(description="output directory (checkpoints, log.jsonl)")
    data: DataConfig
    init_from: Optional[str] = Field(None, description="checkpoint whose backbone weights start this run")


class TrainTemplate(TrainSettings):
    """The benchmark's training settings: TrainSettings plus the data loading it applies to every run
    (the benchmark fills in sources, output and seed)."""
    num_workers: int = Field(2, ge=0, le=64, description="DataLoader worker processes (data.num_workers)")
    input_size: int = Field(112, ge=32, le=224, description="square input side (data.input_size)")
    augment: AugmentConfig = AugmentConfig()


class SyntheticConfig(StrictConfig):
    """Where the synthetic training set comes from: existing shards, or generated by a cluster job."""
    shards: Optional[str] = Field(None, description="existing directory of facesynth Parquet shards")
    job: Optional[Union[str, dict]] = Field(
        None, description="cluster JobConfig (YAML path, or the mapping inline) to generate from with cluster.job.generate")
    identities: Optional[int] = Field(None, ge=2, description="override the job's identity count")
    images_per_identity: Optional[int] = Field(None, ge=1, description="override the job's images per identity")
    workers: Optional[int] = Field(None, ge=1, description="render workers for generation")

    @model_validator(mode="after")
    def _one(self):
        if (self.shards is None) == (self.job is None):
            raise ValueError("set exactly one of shards or job")
        return self


def _even_pairs(cls, v: int) -> int:
    """Verification folds are half positive, half negative."""
    if v % 2:
        raise ValueError("must be even (half positive, half negative)")
    return v


class HeldoutConfig(StrictConfig):
    """Synthetic frontal-vs-profile verification set from identities never used in training."""
    enabled: bool = True
    bin: Optional[str] = Field(None, description="use this existing held-out .bin instead of rendering one")
    job: Optional[Union[str, dict]] = Field(None, description="JobConfig (path or mapping) to render with; defaults to synthetic.job")
    identities: int = Field(60, ge=20, description="held-out identities (split over the 10 folds)")
    frontal_per_identity: int = Field(1, ge=1)
    profile_per_identity: int = Field(2, ge=1)
    profile_min_yaw: float = Field(60.0, ge=0, le=90, description="profile images have |yaw| >= this")
    frontal_max_yaw: float = Field(10.0, ge=0, le=45, description="frontal images have |yaw| <= this")
    pairs_per_fold: int = Field(60, ge=2, description="pairs in each of the 10 folds, half positive")
    identity_offset: int = Field(1_000_000, ge=0, description="identity_start of the held-out identities")
    workers: Optional[int] = Field(None, ge=1)

    _even = field_validator("pairs_per_fold")(_even_pairs)


_Negatives = Literal["gap", "matched", "any"]


class HeldoutCrossAgeConfig(StrictConfig):
    """Synthetic AgeDB-30-like verification set: held-out identities rendered with aging on, each
    at `stages` ages over `span` years; positive pairs are >= min_age_gap years apart (AgeDB-30:
    Moschoglou et al., CVPR-W 2017, pairs 30 years apart)."""
    enabled: bool = True
    bin: Optional[Union[str, list[str]]] = Field(
        None, description="use this existing cross-age .bin instead of rendering one (a list: one per kind of "
                          "`negatives`, in the same order)")
    job: Optional[Union[str, dict]] = Field(
        None, description="JobConfig (path or mapping) to render with; defaults to heldout.job, then synthetic.job")
    identities: int = Field(200, ge=20, description="held-out identities (split over the 10 folds)")
    min_age: float = Field(18.0, ge=0, le=110, description="youngest age any held-out image may show, years")
    max_age: float = Field(85.0, ge=0, le=110, description="oldest age any held-out image may show, years")
    span: float = Field(45.0, ge=0, le=80, description="years between each identity's youngest and oldest image")
    stages: int = Field(4, ge=2, le=8, description="ages per identity, evenly over the span (4 over 45: 15 apart)")
    images_per_stage: int = Field(1, ge=1, le=16, description="images rendered at each age")
    max_yaw: float = Field(20.0, ge=0, le=90, description="|yaw| limit, degrees: near-frontal, like AgeDB's "
                                                          "photos, so age rather than pose is what varies")
    min_age_gap: float = Field(30.0, gt=0, description="positive pairs are at least this many years apart")
    negatives: Union[_Negatives, list[_Negatives]] = Field(
        "gap", description="gap: negative pairs are also >= min_age_gap apart, so the gap says nothing about "
                           "the label; matched: within matched_max_gap years of each other (the hardest for a "
                           "model that links faces by apparent age); any: no age condition. A list makes one "
                           ".bin per kind from the same renders, each its own column: heldout_cross_age.bin for "
                           "gap, heldout_cross_age_<kind>.bin for the others")
    matched_max_gap: float = Field(5.0, ge=0, description="negatives: matched: largest age gap of a negative pair")
    pairs_per_fold: int = Field(80, ge=2, description="pairs in each of the 10 folds, half positive")
    identity_offset: int = Field(2_000_000, ge=0, description="identity_start of these identities (apart from "
                                                              "heldout's and every training one)")
    workers: Optional[int] = Field(None, ge=1)

    _even = field_validator("pairs_per_fold")(_even_pairs)

    @property
    def kinds(self) -> list[str]:
        """The kinds of negatives, one .bin and one column each."""
        return [self.negatives] if isinstance(self.negatives, str) else list(self.negatives)

    @property
    def bins(self) -> list[str] | None:
        return None if self.bin is None else ([self.bin] if isinstance(self.bin, str) else list(self.bin))

    @model_validator(mode="after")
    def _ages(self):
        kinds = self.kinds
        if not kinds or len(set(kinds)) != len(kinds):
            raise ValueError(f"negatives {kinds}: give each kind once (gap, matched, any)")
        if self.bin is not None and len(self.bins) != len(kinds):
            raise ValueError(f"bin: {len(self.bins)} file(s) for {len(kinds)} kind(s) of negatives {kinds}; "
                             "give one .bin per kind, in the same order")
        if self.span < self.min_age_gap:
            raise ValueError(f"span {self.span} < min_age_gap {self.min_age_gap}: no pair of one identity "
                             "could be that far apart; widen span")
        if self.max_age - self.min_age < self.span:
            raise ValueError(f"max_age - min_age ({self.max_age - self.min_age}) must be >= span ({self.span})")
        return self


class BenchmarkConfig(StrictConfig):
    out: str = Field("out/benchmark", description="working directory: data, checkpoints, results")
    real: list[SourceConfig] = Field(default_factory=list, description="real training sources; empty = synthetic only")
    real_name: str = Field("Real", description="row label for the real data, e.g. CASIA-WebFace")
    synthetic: Optional[SyntheticConfig] = None
    synthetic_name: str = Field("Synthetic", description="row label for the synthetic data")
    combine: Literal["mix", "concat", "pretrain"] = Field(
        "mix", description="mix: synthetic_ratio of every batch is synthetic, with as many real-image passes as "
                           "the real-only run; concat: one pool; pretrain: train on synthetic, fine-tune on real")
    synthetic_ratio: float = Field(0.5, gt=0, lt=1)
    pretrain_epochs: Optional[float] = Field(None, gt=0, description="pretrain: epochs on synthetic (default train.epochs)")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1, description="one run per seed; mean ± std")
    train: TrainTemplate
    bins: list[str] = Field(default_factory=list, description="insightface .bin verification files (cfp_fp.bin, ...)")
    heldout: HeldoutConfig = HeldoutConfig()
    heldout_cross_age: HeldoutCrossAgeConfig = HeldoutCrossAgeConfig()
    eval_batch_size: int = Field(64, ge=1)

    @model_validator(mode="after")
    def _data(self):
        if not self.real and self.synthetic is None:
            raise ValueError("configure real sources, synthetic data, or both")
        if not self.bins and not self.heldout.enabled and not self.heldout_cross_age.enabled:
            raise ValueError("nothing to evaluate: add bins or enable heldout or heldout_cross_age")
        h = self.heldout
        if h.enabled and h.bin is None and h.job is None and (self.synthetic is None or self.synthetic.job is None):
            raise ValueError("heldout needs heldout.bin, heldout.job or synthetic.job to render from")
        a = self.heldout_cross_age
        if (a.enabled and a.bin is None and a.job is None and h.job is None
                and (self.synthetic is None or self.synthetic.job is None)):
            raise ValueError("heldout_cross_age needs heldout_cross_age.bin or a job to render from "
                             "(heldout_cross_age.job, heldout.job or synthetic.job); or set enabled: false")
        return self
