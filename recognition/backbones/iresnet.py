"""ArcFace's improved ResNet (iResNet) for 112x112 aligned faces.

Layout follows Deng et al., "ArcFace" (CVPR 2019) and insightface's arcface_torch: a
stride-1 3x3 stem, BN-Conv-BN-PReLU-Conv-BN residual units whose first unit in each stage
downsamples, and the "E" output block BN-Dropout-FC-BN giving the embedding.
`width` scales every channel count so tiny variants run in tests on CPU.
"""
from __future__ import annotations

import torch
from torch import nn

# Units per stage (ArcFace paper, Table 1 / arcface_torch).
LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 14, 3), 100: (3, 13, 30, 3)}


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class IBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = _conv3x3(cin, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = _conv3x3(cout, cout, stride)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        identity = x if self.downsample is None else self.downsample(x)
        return out + identity


class IResNet(nn.Module):
    def __init__(self, depth: int = 50, embedding_size: int = 512, width: float = 1.0,
                 dropout: float = 0.0, input_size: int = 112):
        super().__init__()
        if depth not in LAYERS:
            raise ValueError(f"iresnet depth must be one of {sorted(LAYERS)}")
        chans = [max(8, int(round(c * width))) for c in (64, 64, 128, 256, 512)]
        self.conv1 = _conv3x3(3, chans[0])
        self.bn1 = nn.BatchNorm2d(chans[0], eps=1e-5)
        self.prelu = nn.PReLU(chans[0])
        stages, cin = [], chans[0]
        for n, cout in zip(LAYERS[depth], chans[1:]):
            blocks = [IBasicBlock(cin, cout, 2)] + [IBasicBlock(cout, cout, 1) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        side = input_size // 16  # four stride-2 stages
        # Output block "E" (ArcFace paper, Sec. 3.2): BN-Dropout-FC-BN.
        self.bn2 = nn.BatchNorm2d(cin, eps=1e-5)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(cin * side * side, embedding_size)
        self.features = nn.BatchNorm1d(embedding_size, eps=1e-5)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False  # as in arcface_torch: a fixed-scale BN
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0, 0.1)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        # Zero the last BN of each residual branch so every unit starts as the identity.
        for m in self.modules():
            if isinstance(m, IBasicBlock):
                nn.init.constant_(m.bn3.weight, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        # The head runs in fp32 under AMP: the embedding BN is sensitive to fp16 range.
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.features(self.fc(x.float()))
