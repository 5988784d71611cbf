"""Face embedding backbones by name."""
from __future__ import annotations

from torch import nn

from recognition.backbones.iresnet import IResNet
from recognition.backbones.mobilefacenet import MobileFaceNet

NAMES = ("iresnet18", "iresnet34", "iresnet50", "iresnet100", "mobilefacenet")


def build_backbone(name: str, embedding_size: int = 512, width: float = 1.0,
                   dropout: float = 0.0, input_size: int = 112) -> nn.Module:
    if name == "mobilefacenet":
        return MobileFaceNet(embedding_size, width, dropout, input_size)
    if name.startswith("iresnet") and name[7:].isdigit():
        return IResNet(int(name[7:]), embedding_size, width, dropout, input_size)
    raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(NAMES)}")
