import torch
from PIL import Image
from torchvision.utils import make_grid

from dae.plots import image_rows, loss_plot, samples_plot


def test_image_rows_draws_what_torchvision_make_grid_draws():
    """The second method: torchvision's own grid of the same images, 3 rows of 5."""
    rows = [torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(i)) for i in range(3)]
    expected = make_grid(torch.cat(rows), nrow=5, padding=2, pad_value=0.5)[0]
    assert torch.equal(image_rows(rows), expected)


def test_figures_are_written_as_pngs(tmp_path):
    images = torch.rand(4, 1, 28, 28)
    samples_plot(
        tmp_path / "samples.png",
        [("a", {"clean": images, "noisy": images}), ("b", {"clean": images, "noisy": images})],
        "title",
    )
    loss_plot(tmp_path / "loss.png", [0.1, 0.05, 0.04, 0.03], [0.06, 0.035], 2, "title")
    for name in ("samples.png", "loss.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.width > 200
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "loss.png",
        "samples.png",
    ]  # no temporary files left
