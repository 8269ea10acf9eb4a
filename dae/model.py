"""The denoising autoencoders.

`DAE` is the project's specified model, layer for layer. Read it top to bottom:

    input (m, 1, 28, 28)
    conv1  Conv2d(1, 16, 3, stride 2, padding 2)      -> (m, 16, 15, 15)  ReLU
    conv2  Conv2d(16, 32, 3, stride 2, padding 1)     -> (m, 32, 8, 8)    ReLU
    conv3  Conv2d(32, 64, 3, stride 2, padding 1)     -> (m, 64, 4, 4)    ReLU
    l1     Linear(1024, 256)                          -> (m, 256)         (no activation)
    l2     Linear(256, 1024), reshaped to (64, 4, 4)  -> (m, 1024)        ReLU
    conv4  ConvTranspose2d(64, 32, 3, stride 3, padding 2)  -> (m, 32, 8, 8)    ReLU
    conv5  ConvTranspose2d(32, 16, 3, stride 3, padding 4)  -> (m, 16, 16, 16)  ReLU
    conv6  ConvTranspose2d(16, 1, 3, stride 2, padding 3, output_padding 1)
                                                      -> (m, 1, 28, 28)   sigmoid

572,097 parameters, most of them (525,568) in the two linear layers.

Checkpoints are folders holding `model.safetensors` and `config.json`, written and read by
`huggingface_hub.PyTorchModelHubMixin`: `DAE.from_pretrained("checkpoints/dae")` or a Hub repo
id. Nothing is unpickled. `dae.checkpoint` wraps this with clear errors for bad folders.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

LATENT_DIM = 256
MNIST_MEAN = 0.1307  # mean pixel of the 60,000 training digits (tests check it on the real data)


class MatmulConv2d(nn.Conv2d):
    """A Conv2d computed as unfold + one matrix product: the same sums, in another order.

    Used for conv1 only: with one input channel, PyTorch's CPU convolution (oneDNN) is slow in the
    weight-gradient pass, and unfold + matmul ran about 2.5x faster forward + backward.
    (docs/training.md)
    It is still an nn.Conv2d: same parameters, checkpoint keys and hooks.
    """

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        (k, _), (s, _), (p, _) = self.kernel_size, self.stride, self.padding
        out_h, out_w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        columns = F.unfold(x, k, padding=p, stride=s)  # (n, in_channels * k * k, out_h * out_w)
        y = self.weight.view(self.out_channels, -1) @ columns + self.bias.view(1, -1, 1)
        return y.view(n, self.out_channels, out_h, out_w)


@torch.no_grad()
def he_init_(layer: nn.Conv2d | nn.ConvTranspose2d | nn.Linear, relu_after: bool) -> None:
    """Weights with variance gain / fan-in (gain 2 before a ReLU, else 1), bias 0.

    The fan-in is what one output actually sums over. For a transposed convolution that is
    in_channels * k * k / stride**2 input positions on average (PyTorch's own init reads it from
    the wrong weight axis).
    """
    if isinstance(layer, nn.ConvTranspose2d):
        (k, _), (s, _) = layer.kernel_size, layer.stride
        fan_in = layer.in_channels * k * k / (s * s)
    else:
        fan_in = layer.weight[0].numel()
    layer.weight.normal_(0.0, math.sqrt((2.0 if relu_after else 1.0) / fan_in))
    layer.bias.zero_()


class DAE(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="dae",
    repo_url=None,
    tags=["mnist", "denoising-autoencoder"],
):
    """The specified convolutional denoising autoencoder.

    The linear layers: `l1` has no activation, so the 256-d code is an unconstrained real
    vector. A ReLU there would zero every negative coordinate, leave units that never fire
    ("dead" latent dimensions) and fold the space the latent-interpolation view walks through.
    `l2` is followed by a ReLU because its output is reshaped into a (64, 4, 4) feature map
    that plays the role of conv3's output, and every feature map in this network is a
    post-ReLU, non-negative one.
    """

    arch = "dae"

    def __init__(self, code_size: int = LATENT_DIM) -> None:
        super().__init__()
        self.code_size = code_size
        self.conv1 = MatmulConv2d(1, 16, 3, stride=2, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.l1 = nn.Linear(1024, code_size)
        self.l2 = nn.Linear(code_size, 1024)
        self.conv4 = nn.ConvTranspose2d(64, 32, 3, stride=3, padding=2)
        self.conv5 = nn.ConvTranspose2d(32, 16, 3, stride=3, padding=4)
        self.conv6 = nn.ConvTranspose2d(16, 1, 3, stride=2, padding=3, output_padding=1)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """He initialisation with each layer's true fan-in, and an output that starts at the mean digit.

        PyTorch's default (uniform, variance 1/(3 fan_in)) shrinks the signal behind ReLUs and takes
        ConvTranspose2d's fan-in from the wrong weight axis, so the untrained output hardly depends on
        the input. Here each weight has variance gain / fan_in (gain 2 before a ReLU, 1 before none or
        the sigmoid), biases start at 0, and conv6's bias at logit(mean pixel): the test loss after one
        epoch is 0.0183 instead of 0.0255, and the end of training about +0.2 dB.
        (docs/training.md)
        """
        relu_after = {
            "conv1": True,
            "conv2": True,
            "conv3": True,
            "l1": False,
            "l2": True,
            "conv4": True,
            "conv5": True,
            "conv6": False,
        }
        for name, relu in relu_after.items():
            he_init_(getattr(self, name), relu)
        self.conv6.bias.fill_(math.log(MNIST_MEAN / (1 - MNIST_MEAN)))

    def encode(self, x: Tensor) -> Tensor:
        """(m, 1, 28, 28) images in [0, 1] -> (m, code_size) codes (256 in the specification)."""
        x = F.relu(self.conv1(x))  # (m, 16, 15, 15)
        x = F.relu(self.conv2(x))  # (m, 32, 8, 8)
        x = F.relu(self.conv3(x))  # (m, 64, 4, 4)
        return self.l1(x.flatten(1))  # (m, 1024) -> (m, code_size)

    def decode(self, z: Tensor) -> Tensor:
        """(m, code_size) codes -> (m, 1, 28, 28) images in (0, 1)."""
        x = F.relu(self.l2(z)).view(-1, 64, 4, 4)  # (m, 1024) -> (m, 64, 4, 4)
        x = F.relu(self.conv4(x))  # (m, 32, 8, 8)
        x = F.relu(self.conv5(x))  # (m, 16, 16, 16)
        return torch.sigmoid(self.conv6(x))  # (m, 1, 28, 28)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


def conv_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.ReLU(inplace=True))


class GlobalContext(nn.Module):
    """A small fully connected bottleneck beside the U-Net's 4 x 4 level, added back to it.

    Convolutions see a neighbourhood; at heavy noise what a pixel should be depends on which digit
    this is and how it is drawn, which only the whole image tells. Like the DAE's `l1`/`l2`, this
    squeezes the 4 x 4 map into one code and paints a map back from it. Its last layer starts at
    zero, so the block starts as the identity.

    In the committed checkpoints/unet the block went unused: its code is 0 for every test digit, so it
    adds the same map to every digit, and the skip paths carry the task.
    (docs/training.md)
    """

    def __init__(self, channels: int, squeezed: int = 32, code: int = 256) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(channels, squeezed, 1)
        self.l1 = nn.Linear(squeezed * 16, code)
        self.l2 = nn.Linear(code, squeezed * 16)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        z = F.relu(self.l1(F.relu(self.squeeze(x)).flatten(1)))
        context = self.expand(F.relu(self.l2(z)).view(-1, self.squeeze.out_channels, 4, 4))
        return x + context


class UNet(
    nn.Module, PyTorchModelHubMixin, library_name="dae", repo_url=None, tags=["mnist", "denoising", "unet"]
):
    """A small residual U-Net with a global bottleneck: the stronger denoiser the app compares the DAE with.

    Not part of the specification. It differs from `DAE` exactly where the DAE's quality is
    capped: every stage keeps a spatial map (28, 14, 7, 4 px), skip connections hand the decoder
    the input's fine detail, and the output is residual, so the network predicts a correction
    to the noisy image rather than redrawing the digit from a 256-number code. At the bottom, a
    fully connected bottleneck (`GlobalContext`) gives it what the DAE's code is good at: a view
    of the whole digit, which is what decides a pixel when the noise is heavy.

        enc1   2 x conv 3x3, 16 ch                     28 x 28  ───────────────────────┐
        enc2   conv 3x3 stride 2 + conv 3x3, 32 ch     14 x 14  ─────────────────┐     │
        enc3   conv 3x3 stride 2 + conv 3x3, 64 ch      7 x 7   ───────────┐     │     │
        mid    conv 3x3 stride 2 + conv 3x3, 128 ch     4 x 4              │     │     │
        context  1x1 -> 32 ch, linear 512 -> 256 -> 512, 1x1 -> 128 ch, added to mid │     │
        up3    conv-transpose 3x3 -> 64,  concat enc3, conv 3x3   7 x 7  ──┘     │     │
        up2    conv-transpose 2x2 -> 32,  concat enc2, conv 3x3  14 x 14  ───────┘     │
        up1    conv-transpose 2x2 -> 16,  concat enc1, conv 3x3  28 x 28  ─────────────┘
        out    conv 1x1 -> 1; output = clamp(noisy + correction, 0, 1)
    """

    arch = "unet"

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Sequential(conv_relu(1, 16), conv_relu(16, 16))
        self.enc2 = nn.Sequential(conv_relu(16, 32, stride=2), conv_relu(32, 32))
        self.enc3 = nn.Sequential(conv_relu(32, 64, stride=2), conv_relu(64, 64))
        self.mid = nn.Sequential(conv_relu(64, 128, stride=2), conv_relu(128, 128))
        self.context = GlobalContext(128)
        self.up3 = nn.ConvTranspose2d(128, 64, 3, stride=2, padding=1)  # 4 -> 7
        self.dec3 = conv_relu(128, 64)
        self.up2 = nn.ConvTranspose2d(64, 32, 2, stride=2)  # 7 -> 14
        self.dec2 = conv_relu(64, 32)
        self.up1 = nn.ConvTranspose2d(32, 16, 2, stride=2)  # 14 -> 28
        self.dec1 = conv_relu(32, 16)
        self.out = nn.Conv2d(16, 1, 1)
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """He initialisation as in `DAE.init_weights`; the layers that end a residual branch start at zero.

        Every convolution and linear layer but the transposed ones (which feed a concatenation)
        is followed by a ReLU. With `out` and the context's `expand` at zero, the untrained network
        returns its input unchanged and training only has to learn the correction.
        """
        for layer in self.modules():
            if isinstance(layer, nn.ConvTranspose2d):
                he_init_(layer, relu_after=False)
            elif isinstance(layer, (nn.Conv2d, nn.Linear)):
                he_init_(layer, relu_after=True)
        self.out.weight.zero_()
        self.context.expand.weight.zero_()

    def forward(self, x: Tensor) -> Tensor:
        e1 = self.enc1(x)  # (m, 16, 28, 28)
        e2 = self.enc2(e1)  # (m, 32, 14, 14)
        e3 = self.enc3(e2)  # (m, 64, 7, 7)
        m = self.context(self.mid(e3))  # (m, 128, 4, 4)
        d3 = self.dec3(torch.cat([self.up3(m), e3], dim=1))  # (m, 64 + 64, 7, 7) -> (m, 64, 7, 7)
        d2 = self.dec2(torch.cat([self.up2(d3), e2], dim=1))  # (m, 32 + 32, 14, 14) -> (m, 32, 14, 14)
        d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))  # (m, 16 + 16, 28, 28) -> (m, 16, 28, 28)
        return (x + self.out(d1)).clamp(0.0, 1.0)  # (m, 1, 28, 28)
