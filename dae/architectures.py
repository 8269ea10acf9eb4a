"""Every architecture a checkpoint folder may hold, by the name its config.json gives.

The two denoisers (dae.model) and the digit classifier that judges them (dae.classifier).
`make_model` builds one with the constructor options config.json keeps under "model".
"""

from __future__ import annotations

from torch import nn

from .classifier import Classifier
from .model import DAE, UNet

ARCHITECTURES: dict[str, type[nn.Module]] = {"dae": DAE, "unet": UNet, "classifier": Classifier}
# The constructor options an architecture takes, with their bounds (whole numbers, inclusive).
MODEL_OPTIONS: dict[str, dict[str, tuple[int, int]]] = {"dae": {"code_size": (1, 1024)}}


def make_model(arch: str, options: dict | None = None) -> nn.Module:
    """A fresh model of `arch` built with its options (e.g. {"code_size": 2} for a DAE)."""
    return ARCHITECTURES[arch](**(options or {}))
