"""The bundled MNIST test digits (dae.samples) the app offers."""

import numpy as np

from dae.samples import load_samples, load_test_indices


def test_bundled_samples():
    images, labels = load_samples()
    assert images.shape == (100, 28, 28) and images.dtype == np.float32
    assert list(np.bincount(labels)) == [10] * 10
    assert 0 <= images.min() and images.max() <= 1 and images.mean() > 0.05


def test_each_sample_has_its_place_in_the_test_set():
    indices = load_test_indices()
    assert indices.shape == (100,) and len(set(indices.tolist())) == 100
    assert 0 <= indices.min() and indices.max() < 10_000
