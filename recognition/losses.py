"""Margin-based softmax heads: ArcFace and CosFace, each with its own class-centre matrix.

Combined margin form cos(m1*theta + m2) - m3 (insightface): ArcFace is (1, m, 0) with
s=64, m=0.5 (Deng et al., CVPR 2019); CosFace is (1, 0, m) with m=0.35 (Wang et al., CVPR 2018).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_MARGIN = {"arcface": 0.5, "cosface": 0.35}


class MarginHead(nn.Module):
    def __init__(self, embedding_size: int, num_classes: int, kind: str = "arcface",
                 scale: float = 64.0, margin: float | None = None):
        super().__init__()
        if kind not in DEFAULT_MARGIN:
            raise ValueError(f"unknown margin loss {kind!r}; use arcface or cosface")
        self.kind = kind
        self.scale = float(scale)
        self.margin = float(DEFAULT_MARGIN[kind] if margin is None else margin)
        self.weight = nn.Parameter(torch.empty(num_classes, embedding_size))
        nn.init.normal_(self.weight, std=0.01)

    def logits(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        cos = F.linear(F.normalize(embeddings.float()), F.normalize(self.weight.float()))
        cos = cos.clamp(-1.0, 1.0)
        target = cos.gather(1, labels[:, None])
        if self.kind == "arcface":
            m = self.margin
            sin = torch.sqrt((1.0 - target * target).clamp_min(1e-12))
            with_margin = target * math.cos(m) - sin * math.sin(m)
            # Past theta = pi - m, cos(theta + m) stops being monotonic in theta; fall back to
            # the CosFace-like penalty there (insightface's "easy_margin=False" branch).
            fallback = target - math.sin(math.pi - m) * m
            new_target = torch.where(target > math.cos(math.pi - m), with_margin, fallback)
        else:
            new_target = target - self.margin
        cos = cos.scatter(1, labels[:, None], new_target)
        return cos * self.scale

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=embeddings.device.type, enabled=False):
            return F.cross_entropy(self.logits(embeddings, labels), labels)
