"""MobileFaceNet (Chen et al., "MobileFaceNets", CCBR 2018) for CPU-scale training.

Stem conv + depthwise conv, inverted-residual bottlenecks (Table 1 of the paper), a 1x1
expansion to 512 channels, a global depthwise conv (GDConv) in place of pooling, and a
linear 1x1 projection to the embedding followed by BN. `width` scales channel counts.
"""
from __future__ import annotations

import torch
from torch import nn

# (expansion t, channels c, repeats n, stride s) — MobileFaceNets, Table 1.
BOTTLENECKS = ((2, 64, 5, 2), (4, 128, 1, 2), (2, 128, 6, 1), (4, 128, 1, 2), (2, 128, 2, 1))


class ConvBN(nn.Sequential):
    def __init__(self, cin, cout, k, s, p, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.PReLU(cout))
        super().__init__(*layers)


class Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, t: int, stride: int):
        super().__init__()
        hidden = cin * t
        self.residual = stride == 1 and cin == cout
        self.body = nn.Sequential(
            ConvBN(cin, hidden, 1, 1, 0),
            ConvBN(hidden, hidden, 3, stride, 1, groups=hidden),
            ConvBN(hidden, cout, 1, 1, 0, act=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


class MobileFaceNet(nn.Module):
    def __init__(self, embedding_size: int = 512, width: float = 1.0, dropout: float = 0.0,
                 input_size: int = 112):
        super().__init__()
        def ch(c: int) -> int:
            return max(8, int(round(c * width)))
        stem = ch(64)
        layers = [ConvBN(3, stem, 3, 2, 1), ConvBN(stem, stem, 3, 1, 1, groups=stem)]
        cin = stem
        for t, c, n, s in BOTTLENECKS:
            for i in range(n):
                layers.append(Bottleneck(cin, ch(c), t, s if i == 0 else 1))
                cin = ch(c)
        expand = ch(512)
        layers.append(ConvBN(cin, expand, 1, 1, 0))
        self.body = nn.Sequential(*layers)
        side = input_size // 16  # stem and three stride-2 bottlenecks
        # GDConv: a linear depthwise conv covering the whole final map (paper, Sec. 3.2).
        self.gdconv = ConvBN(expand, expand, side, 1, 0, groups=expand, act=False)
        self.dropout = nn.Dropout(p=dropout)
        self.linear = nn.Conv2d(expand, embedding_size, 1, bias=False)
        self.features = nn.BatchNorm1d(embedding_size)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.gdconv(self.body(x)))
        x = torch.flatten(self.linear(x), 1)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.features(x.float())
