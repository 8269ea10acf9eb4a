"""Shared fixtures. Tests run on CPU, offline, without the real MNIST: they build their own data
(tools.synthetic). Helpers that several test files use are in tests/support.py."""

import os

# Before anything imports gradio or huggingface_hub: no analytics, no telemetry, no network.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from pathlib import Path

import pytest
import torch

from tools.synthetic import write_synthetic_mnist


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory) -> Path:
    """512 training and 128 test digits, synthetic, in MNIST's own files."""
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), 512, 128)


@pytest.fixture(scope="module")
def served():
    """What the app serves, from the committed checkpoints, loaded strictly: the handlers are tested with
    these models."""
    from webapp.served import load_served

    return load_served()


@pytest.fixture(scope="module")
def denoiser(served):
    return served.denoiser


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield
