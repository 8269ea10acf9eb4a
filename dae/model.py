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

import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

LATENT_DIM = 256


class DAE(nn.Module, PyTorchModelHubMixin, library_name="dae", repo_url=None, tags=["mnist", "denoising-autoencoder"]):
    """The specified convolutional denoising autoencoder.

    The linear layers: `l1` has no activation, so the 256-d code is an unconstrained real
    vector. A ReLU there would zero every negative coordinate, leave units that never fire
    ("dead" latent dimensions) and fold the space the latent-interpolation view walks through.
    `l2` is followed by a ReLU because its output is reshaped into a (64, 4, 4) feature map
    that plays the role of conv3's output, and every feature map in this network is a
    post-ReLU, non-negative one.
    """

    arch = "dae"

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, stride=2, padding=2)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, stride=2, padding=1)
        self.l1 = nn.Linear(1024, LATENT_DIM)
        self.l2 = nn.Linear(LATENT_DIM, 1024)
        self.conv4 = nn.ConvTranspose2d(64, 32, 3, stride=3, padding=2)
        self.conv5 = nn.ConvTranspose2d(32, 16, 3, stride=3, padding=4)
        self.conv6 = nn.ConvTranspose2d(16, 1, 3, stride=2, padding=3, output_padding=1)

    def encode(self, x: Tensor) -> Tensor:
        """(m, 1, 28, 28) images in [0, 1] -> (m, 256) codes."""
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        return self.l1(x.flatten(1))

    def decode(self, z: Tensor) -> Tensor:
        """(m, 256) codes -> (m, 1, 28, 28) images in (0, 1)."""
        x = F.relu(self.l2(z)).view(-1, 64, 4, 4)
        x = F.relu(self.conv4(x))
        x = F.relu(self.conv5(x))
        return torch.sigmoid(self.conv6(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))


ARCHITECTURES: dict[str, type[nn.Module]] = {"dae": DAE}
