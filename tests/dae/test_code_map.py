"""The code map (dae.code_map): a PCA of the DAE's codes, kept beside the weights it belongs to.

Expected values come from a second computation: codes made to lie on a known plane.
"""

import pytest
import torch

from dae import code_map
from dae.checkpoint import CheckpointError
from dae.code_map import fit
from tests.support import ROOT


def planar_codes(
    n: int = 400, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codes that lie on a plane of the 256-D space: mean + 3a·u + b·v, u and v orthonormal."""
    g = torch.Generator().manual_seed(seed)
    basis, _ = torch.linalg.qr(torch.randn(256, 2, generator=g, dtype=torch.float64))
    u, v = basis[:, 0], basis[:, 1]
    mean = torch.randn(256, generator=g, dtype=torch.float64)
    a, b = (
        torch.randn(n, 1, generator=g, dtype=torch.float64),
        torch.randn(n, 1, generator=g, dtype=torch.float64),
    )
    a, b = a - a.mean(), b - b.mean()
    b = (
        b - (a * b).sum() / (a * a).sum() * a
    )  # uncorrelated with a: the principal directions are exactly u and v
    return mean + 3 * a * u + b * v, u, v, mean


def test_pca_of_codes_on_a_plane_finds_the_plane():
    codes, u, v, mean = planar_codes()
    m = fit(codes.float(), torch.arange(len(codes)) % 10)
    assert m.explained == pytest.approx(1.0, abs=1e-5)  # two directions hold all of it
    first, second = m.directions.double()
    assert abs(float(first @ u)) == pytest.approx(1, abs=1e-4) and abs(float(second @ v)) == pytest.approx(
        1, abs=1e-4
    )  # larger variance first
    for seed in range(
        6
    ):  # each direction signed so that its largest loading is positive, whatever the SVD returned
        for codes_ in (planar_codes(seed=seed)[0], -planar_codes(seed=seed)[0]):
            for d in fit(codes_.float(), torch.zeros(len(codes_))).directions:
                assert float(d[d.abs().argmax()]) > 0
    assert torch.allclose(m.mean.double(), codes.mean(0), atol=1e-5)
    assert torch.allclose(
        m.lift(m.project(codes.float())).double(), codes, atol=1e-4
    )  # on the plane, lift undoes project
    assert torch.allclose(m.points, m.project(codes.float()), atol=1e-4)


def test_a_code_map_is_kept_beside_its_weights_and_refused_for_others(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"these weights")
    codes, *_ = planar_codes(50)
    code_map.save(fit(codes.float(), torch.arange(50) % 10), tmp_path)
    read = code_map.load(tmp_path)
    assert read.points.shape == (50, 2) and read.labels.tolist() == [i % 10 for i in range(50)]
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(CheckpointError, match="other weights"):
        code_map.load(tmp_path)
    (tmp_path / code_map.CODE_MAP).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken")
    with pytest.raises(CheckpointError, match="not a readable code map"):
        code_map.load(tmp_path)
    assert code_map.load(tmp_path / "elsewhere") is None  # no map: no view, no error


def test_the_committed_code_map_belongs_to_the_committed_dae():
    m = code_map.load(ROOT / "checkpoints" / "dae")  # refused (CheckpointError) if it were another model's
    assert m is not None and m.points.shape == (10_000, 2) and 0 < m.explained < 1
    assert torch.allclose(m.directions @ m.directions.T, torch.eye(2), atol=1e-4)  # orthonormal
