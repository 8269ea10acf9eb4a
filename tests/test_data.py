import shutil

import pytest
import torch

from dae.data import MNIST_FILES, DataError, load_mnist, random_batches, to_float


def test_reads_idx_files_through_torchvision(tiny_mnist):
    images, labels = load_mnist(tiny_mnist, train=True, download=False)
    assert images.shape == (512, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (512,) and 0 <= labels.min() and labels.max() <= 9
    test_images, _ = load_mnist(tiny_mnist, train=False, download=False)
    assert test_images.shape == (128, 28, 28)


def test_missing_files_give_one_clear_message(tmp_path):
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path, train=True, download=False)
    message = str(e.value)
    for name in MNIST_FILES:
        assert str(tmp_path / "MNIST" / "raw" / name) in message


def test_corrupted_files_give_one_clear_message(tiny_mnist, tmp_path):
    root = tmp_path / "bad"
    shutil.copytree(tiny_mnist, root)
    image_file = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    image_file.write_bytes(image_file.read_bytes()[:1000])  # truncated
    with pytest.raises(DataError, match="could not be found"):
        load_mnist(root, train=True, download=False)
    image_file.write_bytes(b"not an idx file at all")
    with pytest.raises(DataError):
        load_mnist(root, train=True, download=False)


def test_random_batches_cover_the_split_once():
    images = torch.arange(10, dtype=torch.uint8).view(10, 1, 1).expand(10, 28, 28).contiguous()
    batches = list(random_batches(images, 4, torch.Generator().manual_seed(0)))
    assert [len(b) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[:, 0, 0, 0] for b in batches]) * 255
    assert sorted(seen.round().long().tolist()) == list(range(10))
    assert batches[0].shape[1:] == (1, 28, 28) and batches[0].dtype == torch.float32


def test_to_float_range():
    x = to_float(torch.tensor([[[0, 255]]], dtype=torch.uint8))
    assert x.shape == (1, 1, 1, 2) and x.min() == 0 and x.max() == 1
