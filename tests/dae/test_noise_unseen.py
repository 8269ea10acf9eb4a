"""The corruptions no model was trained on (dae.noise.UNSEEN_KINDS: blur, shift, rotate, block), checked
against hand-made cases and second methods: numpy's rot90 and slicing, scipy's Gaussian filter, counted
pixels. test_noise.py has the first checks of each; these go further."""

import math

import numpy as np
import pytest
import torch
from scipy import ndimage

from dae.noise import UNSEEN_KINDS, add_noise

RANDOM_KINDS = ("shift", "rotate", "block")  # blur has no randomness


def image(seed: int = 0, batch: int = 1) -> torch.Tensor:
    """Random pixels in [0.1, 1): every pixel is ink, so a hidden or emptied pixel (0) stands out."""
    return 0.1 + 0.9 * torch.rand(batch, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


def dot(row: int = 14, col: int = 14) -> torch.Tensor:
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, row, col] = 1.0
    return x


def blob(centre=(13.5, 13.5), radius: float = 4.0) -> torch.Tensor:
    """A round, soft blob, symmetric about `centre`."""
    yy, xx = np.mgrid[0:28, 0:28].astype(np.float64)
    r2 = (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2
    return torch.from_numpy(np.exp(-r2 / (2 * radius**2))).float().view(1, 1, 28, 28)


def centre_of_mass(x: torch.Tensor) -> tuple[float, float]:
    a = x[0, 0].double().numpy()
    return ndimage.center_of_mass(a)


# ---- every unseen kind ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(UNSEEN_KINDS))
def test_strength_zero_is_the_identity_for_a_whole_batch_and_a_new_tensor(kind):
    x = image(1, batch=3)
    out = add_noise(x, kind, 0.0, 9)
    assert torch.equal(out, x) and out is not x
    out[0, 0, 0, 0] = 0.0  # a caller may change what it got without changing its input
    assert x[0, 0, 0, 0] > 0


@pytest.mark.parametrize("kind", list(UNSEEN_KINDS))
def test_the_input_is_never_changed(kind):
    x = image(2, batch=2)
    before = x.clone()
    add_noise(x, kind, UNSEEN_KINDS[kind].max_strength, 3)
    assert torch.equal(x, before)


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_a_generator_and_its_integer_seed_give_the_same_corruption(kind):
    x, level = image(3), UNSEEN_KINDS[kind].default_strength
    assert torch.equal(
        add_noise(x, kind, level, torch.Generator().manual_seed(12)), add_noise(x, kind, level, 12)
    )


@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_different_seeds_give_different_corruptions(kind):
    x, level = image(4), UNSEEN_KINDS[kind].default_strength
    outs = [add_noise(x, kind, level, seed) for seed in range(8)]
    distinct = {tuple(o.flatten().tolist()) for o in outs}
    assert len(distinct) >= 2, kind  # shift and block: >= 4 in fact; rotate has two directions
    assert all(torch.equal(o, add_noise(x, kind, level, s)) for s, o in enumerate(outs))  # and each repeats


@pytest.mark.parametrize("kind", list(UNSEEN_KINDS))
def test_one_corruption_for_the_whole_batch(kind):
    """One strength and one draw for the batch (the app's use): two copies of a digit come out alike."""
    x = image(5).expand(2, 1, 28, 28).contiguous()
    out = add_noise(x, kind, UNSEEN_KINDS[kind].default_strength, 6)
    assert torch.equal(out[0], out[1]) and not torch.equal(out[0], x[0])


# ---- shift -----------------------------------------------------------------------------------------------


def displacement(pixels: float, seed: int) -> tuple[int, int]:
    """Where a lone dot at (14, 14) lands, as (rows, cols) moved."""
    moved = add_noise(dot(), "shift", pixels, seed)[0, 0]
    found = torch.nonzero(moved)
    assert len(found) == 1 and moved.sum() == 1, "the dot arrives whole, once"
    row, col = found[0].tolist()
    return row - 14, col - 14


@pytest.mark.parametrize("pixels", [1, 2, 4, 8])
def test_a_shift_moves_a_dot_by_its_length_in_whole_pixels(pixels):
    moves = {displacement(pixels, seed) for seed in range(12)}
    for dy, dx in moves:
        assert abs(dy) <= pixels and abs(dx) <= pixels
        # each component rounded: at most half a pixel off each, so the length within √0.5 of `pixels`
        assert abs(math.hypot(dy, dx) - pixels) <= math.sqrt(0.5) + 1e-9, (dy, dx)
    if pixels >= 4:
        assert len(moves) >= 4  # the direction is drawn: the seeds point several ways


@pytest.mark.parametrize("seed", [0, 1, 5])
def test_a_shift_moves_the_whole_image_and_lets_background_in(seed):
    dy, dx = displacement(6, seed)
    x = image(7)
    out = add_noise(x, "shift", 6, seed)[0, 0].numpy()
    a = x[0, 0].numpy()
    expected = np.zeros_like(a)
    for r in range(28):
        for c in range(28):
            if 0 <= r - dy < 28 and 0 <= c - dx < 28:
                expected[r, c] = a[r - dy, c - dx]
    assert np.array_equal(out, expected)
    assert (out == 0).sum() == 28 * 28 - (28 - abs(dy)) * (28 - abs(dx))  # exactly the strip that came in


def test_a_shift_past_the_edge_leaves_nothing():
    out = [add_noise(image(8), "shift", 60, s) for s in range(4)]  # 60 px: at least 42 px along one axis
    assert all(o.abs().sum() == 0 for o in out)


# ---- rotate ----------------------------------------------------------------------------------------------


def asymmetric() -> torch.Tensor:
    """No symmetry at all: a random image (any turn of it is told apart from any other)."""
    return torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(11))


@pytest.mark.parametrize("seed", range(6))
def test_a_quarter_turn_is_numpy_s_rot90_one_way_or_the_other(seed):
    x = asymmetric()
    turned = add_noise(x, "rotate", 90, seed)[0, 0].numpy()
    a = x[0, 0].numpy()
    errors = [np.abs(turned - np.rot90(a, k)).max() for k in (1, -1)]
    assert min(errors) < 1e-4 and max(errors) > 0.5  # exactly one of the two quarter turns


def test_the_seed_picks_the_direction_and_both_occur():
    x = asymmetric()
    a = x[0, 0].numpy()
    ways = {
        int(
            np.argmin(
                [np.abs(add_noise(x, "rotate", 90, s)[0, 0].numpy() - np.rot90(a, k)).max() for k in (1, -1)]
            )
        )
        for s in range(10)
    }
    assert ways == {0, 1}


@pytest.mark.parametrize("seed", [0, 1])
def test_a_half_turn_is_the_same_either_way_and_a_whole_turn_changes_nothing(seed):
    x = asymmetric()
    a = x[0, 0].numpy()
    assert np.abs(add_noise(x, "rotate", 180, seed)[0, 0].numpy() - np.rot90(a, 2)).max() < 1e-4
    assert np.abs(add_noise(x, "rotate", 360, seed)[0, 0].numpy() - a).max() < 1e-4


@pytest.mark.parametrize("degrees", [15, 30, 45, 72])
def test_a_turn_keeps_a_centred_blob_centred_and_its_ink(degrees):
    x = blob()
    turned = add_noise(x, "rotate", degrees, 3)
    cy, cx = centre_of_mass(turned)
    assert abs(cy - 13.5) < 0.05 and abs(cx - 13.5) < 0.05  # the turn is about the image's centre
    assert abs(turned.sum().item() - x.sum().item()) < 0.02 * x.sum().item()


def test_a_turn_moves_an_off_centre_dot_around_the_centre():
    """A blob 8 px right of the centre, turned 90°, lands 8 px above or below it (a circle about the
    centre)."""
    x = blob(centre=(13.5, 21.5), radius=1.5)
    cy, cx = centre_of_mass(add_noise(x, "rotate", 90, 0))
    assert abs(cx - 13.5) < 0.1 and abs(abs(cy - 13.5) - 8) < 0.1


# ---- blur ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [1.0, 2.0])
def test_a_blur_is_scipy_s_gaussian_filter_with_the_border_extended(sigma):
    """A second method: scipy.ndimage.gaussian_filter, 'nearest' border (the edge pixel repeated), cut at
    3 σ."""
    x = asymmetric()
    ours = add_noise(x, "blur", sigma, 0)[0, 0].numpy()
    theirs = ndimage.gaussian_filter(x[0, 0].double().numpy(), sigma, mode="nearest", truncate=3.0)
    assert np.abs(ours - theirs).max() < 1e-5


def test_a_blur_keeps_the_ink_and_lowers_the_peak_more_as_it_grows():
    x = blob(radius=1.5)
    peaks = []
    for sigma in (0.5, 1.0, 2.0, 3.0):
        blurred = add_noise(x, "blur", sigma, 0)
        assert abs(blurred.sum().item() - x.sum().item()) < 1e-3 * x.sum().item()  # far from the border
        peaks.append(blurred.max().item())
    assert x.max().item() > peaks[0] > peaks[1] > peaks[2] > peaks[3]


def test_a_blur_leaves_an_even_grey_as_it_is_and_ignores_the_seed():
    grey = torch.full((1, 1, 28, 28), 0.3)
    assert torch.allclose(add_noise(grey, "blur", 3.0, 0), grey, atol=1e-6)  # border extended: no dark rim
    x = asymmetric()
    assert torch.equal(add_noise(x, "blur", 1.5, 1), add_noise(x, "blur", 1.5, 2))


# ---- block -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [0.1, 0.3, 0.45, 0.6])
def test_a_block_hides_a_square_whose_side_is_that_fraction_of_the_image(side):
    x = image(9)
    for seed in range(5):
        out = add_noise(x, "block", side, seed)[0, 0]
        hidden = out == 0
        n = round(side * 28)
        assert int(hidden.sum()) == n * n
        assert abs(hidden.float().mean().item() - side**2) < 0.02  # the share hidden: the side squared
        rows, cols = torch.nonzero(hidden).T
        assert int(rows.min()) >= 0 and int(rows.max()) <= 27 and int(cols.max()) <= 27
        assert torch.equal(out[~hidden], x[0, 0][~hidden])  # the rest untouched


def test_a_block_is_placed_near_the_middle_where_the_seed_says():
    x = torch.ones(1, 1, 28, 28)
    places = set()
    for seed in range(10):
        rows, cols = torch.nonzero(add_noise(x, "block", 0.3, seed)[0, 0] == 0).T
        cy, cx = rows.float().mean().item(), cols.float().mean().item()
        assert abs(cy - 13.5) <= 6.5 and abs(cx - 13.5) <= 6.5  # its centre within 6 px of the middle
        places.add((int(rows.min()), int(cols.min())))
    assert len(places) >= 5
