"""The code map (dae.code_map): a PCA of the DAE's codes, kept beside the weights it belongs to.

Expected values come from a second computation: codes made to lie on a known plane.
"""

import pytest
import safetensors
import safetensors.torch
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


# ---- a 2-number code: its map is its plane ----------------------------------------------------------------


def test_two_number_codes_give_the_identity_map():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(300, 2, generator=g) * torch.tensor([5.0, 0.5]) + torch.tensor(
        [3.0, -7.0]
    )  # off-centre
    m = fit(codes, torch.arange(300) % 10)
    assert m.code_size == 2 and m.exact and m.explained == 1.0
    assert torch.equal(m.mean, torch.zeros(2)) and torch.equal(
        m.directions, torch.eye(2)
    )  # no PCA: the plane
    assert torch.equal(m.points, codes) and m.labels.dtype == torch.uint8
    positions = torch.randn(50, 2, generator=g) * 10
    assert torch.equal(m.project(codes), codes) and torch.equal(
        m.lift(positions), positions
    )  # exact both ways
    assert torch.equal(m.lift(m.project(codes)), codes) and torch.equal(
        m.project(m.lift(positions)), positions
    )


def test_a_larger_code_is_projected_not_exact():
    codes, *_ = planar_codes(60)
    m = fit(codes.float(), torch.arange(60) % 10)
    assert m.code_size == 256 and not m.exact
    m16 = fit(torch.randn(100, 16), torch.arange(100) % 10)
    assert m16.code_size == 16 and not m16.exact and m16.directions.shape == (2, 16)


# ---- how far apart codes typically are ---------------------------------------------------------------------


def clusters(centres: list[list[float]], per_class: int = 200, jitter: float = 1e-3, seed: int = 0):
    """`per_class` codes of each class around its centre, the classes in turn: (codes, labels)."""
    g = torch.Generator().manual_seed(seed)
    centre = torch.tensor(centres, dtype=torch.float64)
    labels = torch.arange(len(centres)).repeat(per_class)
    codes = centre[labels] + jitter * torch.randn(
        len(labels), centre.shape[1], generator=g, dtype=torch.float64
    )
    return codes.float(), labels


def test_distances_of_two_tight_clusters_far_apart():
    codes, labels = clusters([[0.0, 0.0], [6.0, 8.0]])  # 10 apart, each class within about 0.001
    d = fit(codes, labels).distances
    assert set(d) == {"same", "different"}
    assert 0 < d["same"] < 0.01 and d["different"] == pytest.approx(10, abs=0.01)


def test_distances_are_medians_over_pairs_of_classes():
    # classes at 0, 3 and 7 on one line of a 256-number code: different classes lie 3, 4 or 7 apart, each
    # pair of classes as often as the others: the median is 4
    centres = [[0.0] * 256, [3.0] + [0.0] * 255, [7.0] + [0.0] * 255]
    codes, labels = clusters(centres, jitter=1e-4)
    d = fit(codes, labels).distances
    assert d["different"] == pytest.approx(4, abs=0.01) and 0 < d["same"] < 0.01
    codes2, labels2 = clusters([[0.0, 0.0], [3.0, 0.0], [7.0, 0.0]], jitter=1e-4)  # the same with 2 numbers
    assert fit(codes2, labels2).distances["different"] == pytest.approx(4, abs=0.01)


def test_the_same_class_distance_never_pairs_a_code_with_itself():
    # two codes per class, 1 apart: any pair of one class is either the same code (0) or 1 apart
    codes = torch.tensor([[0.0, 0.0], [0.0, 1.0], [5.0, 0.0], [5.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    assert code_map.typical_distances(codes, labels)["same"] == 1.0


# ---- kept on disk -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 16, 256])
def test_a_map_of_any_code_size_and_its_distances_survive_a_round_trip(tmp_path, size):
    (tmp_path / "model.safetensors").write_bytes(b"these weights")
    centres = [[float(k)] * size for k in range(3)]
    codes, labels = clusters(centres, per_class=40, jitter=0.05)
    m = fit(codes, labels)
    code_map.save(m, tmp_path)
    read = code_map.load(tmp_path)
    assert read.code_size == size and read.exact == (size == 2)
    assert read.distances == m.distances and read.explained == m.explained
    assert torch.equal(read.mean, m.mean) and torch.equal(read.directions, m.directions)
    assert torch.allclose(read.points, m.points, rtol=1e-3, atol=1e-3)  # kept as float16
    assert torch.equal(read.labels, m.labels)


def rewrite(folder, metadata_change=None, tensors_change=None) -> None:
    """The map file written again with its metadata and its tensors changed."""
    path = folder / code_map.CODE_MAP
    with safetensors.safe_open(str(path), "pt") as f:
        metadata, tensors = f.metadata(), {k: f.get_tensor(k) for k in f.keys()}
    (metadata_change or (lambda m: None))(metadata)
    (tensors_change or (lambda t: None))(tensors)
    safetensors.torch.save_file(tensors, str(path), metadata=metadata)


@pytest.fixture
def saved_map(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"these weights")
    codes, labels = clusters([[0.0] * 16, [1.0] * 16], per_class=30, jitter=0.1)
    code_map.save(fit(codes, labels), tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "distances",
    [
        '{"same": -1.0, "different": 2.0}',
        '{"same": 0, "different": 2.0}',
        '{"same": 1.0}',
        '{"same": "1", "different": 2.0}',
        '{"same": NaN, "different": 2.0}',
        '{"same": null, "different": 2.0}',
        "[1.0, 2.0]",
        '"far"',
        "{broken",
    ],
)
def test_a_damaged_distances_entry_is_refused(saved_map, distances):
    rewrite(saved_map, lambda m: m.update(distances=distances))
    with pytest.raises(CheckpointError, match="not a readable code map"):
        code_map.load(saved_map)


@pytest.mark.parametrize(
    "distances", ['{"same": Infinity, "different": 2.0}', '{"same": true, "different": 2.0}']
)
def test_a_distance_that_is_not_a_finite_number_is_refused(saved_map, distances):
    rewrite(saved_map, lambda m: m.update(distances=distances))
    with pytest.raises(CheckpointError, match="not a readable code map"):
        code_map.load(saved_map)


def test_a_map_without_distances_still_loads(saved_map):
    rewrite(saved_map, lambda m: m.pop("distances"))  # a map made before the distances were kept
    assert code_map.load(saved_map).distances is None
    rewrite(saved_map, lambda m: m.update(distances="null"))
    assert code_map.load(saved_map).distances is None


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.update(directions=torch.zeros(2, 15)),  # directions of another code size
        lambda t: t.update(mean=torch.zeros(1), directions=torch.zeros(2, 1)),  # a 1-number code: no plane
        lambda t: t.update(points=torch.zeros(5, 2).half()),  # not one point per label
        lambda t: t.update(mean=torch.zeros(16, 1)),  # not a code
        lambda t: t.pop("labels"),
    ],
    ids=["directions", "one number", "points", "mean", "no labels"],
)
def test_a_map_whose_tensors_are_not_a_maps_is_refused(saved_map, change):
    rewrite(saved_map, tensors_change=change)
    with pytest.raises(CheckpointError, match="code map"):
        code_map.load(saved_map)
