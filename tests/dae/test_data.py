import gzip
import shutil

import pytest
import torch

from dae.data import (
    MNIST_FILES,
    DataError,
    download_mnist,
    have_mnist,
    load_mnist,
    shuffled_batches,
    to_float,
)
from tools.synthetic import TRAIN_SEED, synthetic_digits, write_idx, write_mnist_split_files


def test_reads_idx_files(tiny_mnist):
    images, labels = load_mnist(tiny_mnist, train=True, download=False)
    written_images, written_labels = synthetic_digits(512, TRAIN_SEED)  # what conftest wrote
    assert images.dtype == torch.uint8 and torch.equal(images, written_images)
    assert labels.dtype == torch.int64 and torch.equal(labels, written_labels)
    test_images, _ = load_mnist(tiny_mnist, train=False, download=False)
    assert test_images.shape == (128, 28, 28)


def test_missing_files_give_one_clear_message(tmp_path):
    with pytest.raises(DataError) as e:
        load_mnist(tmp_path, train=True, download=False)
    message = str(e.value)
    for name in MNIST_FILES:
        assert str(tmp_path / "MNIST" / "raw" / name) in message


@pytest.fixture
def copy_of(tiny_mnist, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(tiny_mnist, root)
    return root


IMAGES, LABELS = MNIST_FILES[0], MNIST_FILES[1]


@pytest.mark.parametrize(
    "name, damage, message",
    [
        (
            IMAGES,
            lambda b: b[:1000],
            r"1,000 bytes where its header \(512 images\) needs 401,424 \(truncated\)",
        ),
        (IMAGES, lambda b: b + b"\x00", r"401,425 bytes .* needs 401,424 \(trailing bytes\)"),
        (
            IMAGES,
            lambda b: b"not an idx file at all",
            r"not an IDX file of MNIST images \(it starts with 6e 6f 74 20",
        ),
        (IMAGES, lambda b: b"", r"not an IDX file of MNIST images \(it starts with nothing"),
        (LABELS, lambda b: b[:-1], r"519 bytes where its header \(512 labels\) needs 520 \(truncated\)"),
        # "garb" read as the count: 0x67617262 = 1,734,439,522 labels need 8 more bytes of header
        (
            LABELS,
            lambda b: b"\x00\x00\x08\x01garbage",
            r"11 bytes where its header \(1,734,439,522 labels\) needs 1,734,439,530",
        ),
        (LABELS, lambda b: b"\x00\x00\x08\x03" + b[4:], r"not an IDX file of MNIST labels"),
    ],
)
def test_a_damaged_file_is_named_as_corrupt(copy_of, name, damage, message):
    file = copy_of / "MNIST" / "raw" / name
    file.write_bytes(damage(file.read_bytes()))
    with pytest.raises(DataError, match=message) as e:
        load_mnist(copy_of, train=True, download=False)
    assert str(e.value).startswith(f"{file} is corrupt") and "\n" not in str(e.value)
    load_mnist(copy_of, train=False, download=False)  # the other split is still fine


def test_images_of_another_size_and_counts_that_disagree(tmp_path):
    images, labels = synthetic_digits(8, seed=0)
    write_mnist_split_files(tmp_path, (torch.zeros(8, 32, 32), labels), (images, labels))
    with pytest.raises(DataError, match="holds 32 x 32 images, MNIST's are 28 x 28"):
        load_mnist(tmp_path, train=True, download=False)
    write_mnist_split_files(tmp_path, (images, labels[:7]), (images, labels))
    with pytest.raises(DataError, match="holds 8 images but .* holds 7 labels"):
        load_mnist(tmp_path, train=True, download=False)
    write_idx(tmp_path / "MNIST" / "raw" / LABELS, torch.full((8,), 11))
    with pytest.raises(DataError, match=f"{LABELS} is corrupt: it holds labels outside 0-9"):
        load_mnist(tmp_path, train=True, download=False)


def test_reads_the_gz_archives_when_the_files_are_not_extracted(tiny_mnist, tmp_path):
    """Any gzip of the right IDX bytes will do (the shared copy's archives are not byte-identical to the
    originals)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        (raw / f"{name}.gz").write_bytes(
            gzip.compress((tiny_mnist / "MNIST" / "raw" / name).read_bytes(), compresslevel=1)
        )
    images, labels = load_mnist(tmp_path, train=True, download=False)
    written_images, written_labels = synthetic_digits(512, TRAIN_SEED)
    assert torch.equal(images, written_images) and torch.equal(labels, written_labels)
    assert sorted(p.name for p in raw.iterdir()) == sorted(
        f"{name}.gz" for name in MNIST_FILES
    )  # nothing written


@pytest.mark.parametrize(
    "content, message",
    [
        (gzip.compress(b"\x00\x00\x08\x03 not the MNIST images"), "is corrupt: it holds"),
        (b"\x1f\x8b but then not gzip at all", "is corrupt: not a readable gzip archive"),
        (gzip.compress(b"\x00" * 100)[:-12], "is corrupt: not a readable gzip archive"),  # cut short
    ],
)
def test_a_damaged_archive_is_named_as_corrupt(tiny_mnist, tmp_path, content, message):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / LABELS).write_bytes((tiny_mnist / "MNIST" / "raw" / LABELS).read_bytes())
    (raw / f"{IMAGES}.gz").write_bytes(content)
    with pytest.raises(DataError, match=f"{IMAGES}.gz {message}"):
        load_mnist(tmp_path, train=True, download=False)


def test_shuffled_batches_cover_the_split_once():
    batches = shuffled_batches(10, 4, torch.Generator().manual_seed(0))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).tolist()) == list(range(10))
    again = shuffled_batches(10, 4, torch.Generator().manual_seed(0))
    other = shuffled_batches(10, 4, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))  # the generator decides the order
    assert not all(torch.equal(a, b) for a, b in zip(batches, other))


def test_to_float_range():
    x = to_float(torch.tensor([[[0, 51, 255]]], dtype=torch.uint8))
    assert x.shape == (1, 1, 1, 3) and x.flatten().tolist() == pytest.approx([0.0, 0.2, 1.0], abs=1e-7)


# ---- download_mnist, with the network replaced by a table of mirrors and their files ---------------------


@pytest.fixture
def mirrors(tiny_mnist, monkeypatch):
    """Two fake mirrors serving the tiny set's four .gz archives (MD5s made here); `served[url] = bytes`
    changes what a URL answers, a missing URL raises as an unreachable host does."""
    import hashlib
    import io
    import urllib.error
    import urllib.request

    from torchvision.datasets import MNIST

    archives = {
        f"{name}.gz": gzip.compress((tiny_mnist / "MNIST" / "raw" / name).read_bytes())
        for name in MNIST_FILES
    }
    monkeypatch.setattr(MNIST, "resources", [(n, hashlib.md5(b).hexdigest()) for n, b in archives.items()])
    monkeypatch.setattr(MNIST, "mirrors", ["http://one.invalid/", "http://two.invalid/"])
    served = {m + n: b for m in MNIST.mirrors for n, b in archives.items()}

    def urlopen(url, timeout=None):
        if url not in served:
            raise urllib.error.URLError("unreachable")
        return io.BytesIO(served[url])

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return served, archives


def test_download_writes_the_four_archives_and_says_how_far_it_is(mirrors, tmp_path):
    _, archives = mirrors
    seen = []
    assert not have_mnist(tmp_path)
    download_mnist(tmp_path, lambda done, total: seen.append(done))
    assert have_mnist(tmp_path)
    for name, data in archives.items():
        assert (tmp_path / "MNIST" / "raw" / name).read_bytes() == data
    assert seen == sorted(seen) and seen[-1] == sum(map(len, archives.values()))
    images, labels = load_mnist(tmp_path, train=False, download=False)
    assert len(images) == len(labels) == 128


def test_a_damaged_download_is_never_kept_and_the_next_mirror_is_tried(mirrors, tmp_path):
    served, archives = mirrors
    name = "t10k-labels-idx1-ubyte.gz"
    served["http://one.invalid/" + name] = b"\x1f\x8b not the archive"
    download_mnist(tmp_path)
    assert (tmp_path / "MNIST" / "raw" / name).read_bytes() == archives[name]  # from the second mirror


def test_no_mirror_no_files_and_one_message(mirrors, tmp_path):
    served, _ = mirrors
    name = "train-images-idx3-ubyte.gz"
    served.pop("http://one.invalid/" + name)
    served["http://two.invalid/" + name] = b"truncated"
    with pytest.raises(DataError, match="MNIST could not be downloaded") as e:
        download_mnist(tmp_path)
    assert "one.invalid" in str(e.value) and "arrived damaged" in str(e.value)
    raw = tmp_path / "MNIST" / "raw"
    assert list(raw.iterdir()) == [] and not have_mnist(
        tmp_path
    )  # the first archive failed: nothing, not even a part
