"""The digit classifier that judges the denoisers: does a reconstruction still read as its digit?

It is trained on the clean training digits only (no noise, no reconstructions, no augmentation),
so it knows what MNIST digits look like and nothing about any denoiser's output. Its accuracy
on a model's reconstructions (`python -m dae.evaluate --classifier ...`) then measures whether
the digit's identity survived the noise and the model, which PSNR does not tell.

    input (m, 1, 28, 28) in [0, 1]
    conv 3x3, 16 ch, BatchNorm, ReLU, max-pool 2   -> (m, 16, 14, 14)
    conv 3x3, 32 ch, BatchNorm, ReLU, max-pool 2   -> (m, 32, 7, 7)
    conv 3x3, 64 ch, BatchNorm, ReLU, max-pool 2   -> (m, 64, 3, 3)
    linear 576 -> 128, ReLU, linear 128 -> 10 logits

No dropout: it would draw from torch's global random generator, which the training state does
not keep, so `--resume` would no longer continue a run exactly (and a CUDA graph's warm-up steps
would move that generator on). Measured without augmentation or dropout it still reaches the
accuracy it needs (ARCH_DEFAULTS in dae/training/config.py).

98,554 parameters (a 0.4 MB checkpoint). Made by `python train.py --arch classifier`.
"""

from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import Tensor, nn

NUM_CLASSES = 10
CLASSIFIER = "classifier"  # the architecture's name in config.json: trained on labels, not on noisy images


def conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    # no bias: the BatchNorm's shift plays its part
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class Classifier(
    nn.Module, PyTorchModelHubMixin, library_name="dae", repo_url=None, tags=["mnist", "classifier"]
):
    """A small CNN: (m, 1, 28, 28) images in [0, 1] -> (m, 10) logits, one per digit."""

    arch = CLASSIFIER

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn_relu(1, 16),
            nn.MaxPool2d(2),  # 28 -> 14
            *conv_bn_relu(16, 32),
            nn.MaxPool2d(2),  # 14 -> 7
            *conv_bn_relu(32, 64),
            nn.MaxPool2d(2),  # 7 -> 3
        )
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64 * 3 * 3, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, NUM_CLASSES),
        )
        # Channels-last weights: PyTorch's CPU convolutions and max-pool ran 1.6x faster in training
        # and 1.7x in inference here (2 cores, batch 128 / 1000; the same results). It sticks through
        # load_state_dict and .to(device); the saved tensors are plain contiguous ones.
        self.to(memory_format=torch.channels_last)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))
