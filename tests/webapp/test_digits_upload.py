"""An uploaded file (webapp.digits.upload.read_upload): its digit and a small preview of the picture, from one
decode."""

import numpy as np
from PIL import Image

from dae.samples import load_samples
from tests.support import save
from tools.synthetic import agreement, make_photo
from webapp.digits.upload import PREVIEW_SIDE, read_upload


def test_read_upload_gives_the_digit_and_a_small_preview(tmp_path, monkeypatch):
    """The preview is the picture itself, small (compared with PIL's own thumbnail), from one decode."""
    rng = np.random.default_rng(0)
    photo = make_photo(load_samples()[0][40], rng, side_range=(1000, 1400))
    path = tmp_path / "photo.jpg"
    path.write_bytes(photo.jpeg)
    opened = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    upload = read_upload(path)
    assert len(opened) == 1
    assert upload.digit.shape == (28, 28) and upload.digit.dtype == np.float32
    assert agreement(upload.digit, photo.digit) >= 15
    h, w, c = upload.preview.shape
    assert c == 3 and upload.preview.dtype == np.uint8 and max(h, w) <= PREVIEW_SIDE
    thumb = real_open(path).convert("RGB")
    thumb.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    assert abs(w / h - thumb.width / thumb.height) < 0.02
    reference = np.asarray(thumb.resize((w, h)), dtype=np.float32)
    assert np.abs(upload.preview.astype(np.float32) - reference).mean() < 6
    stripes = np.zeros((600, 900, 3), dtype=np.uint8)
    stripes[:, :300], stripes[:, 300:600], stripes[:, 600:] = (220, 40, 40), (40, 200, 60), (50, 60, 230)
    stripes[100:500, 440:460] = 0  # a dark '1' on the green stripe
    preview = read_upload(save(Image.fromarray(stripes), tmp_path, "stripes.jpg", format="jpeg")).preview
    assert (
        np.abs(preview[preview.shape[0] // 4, [10, -10]].astype(int) - [(220, 40, 40), (50, 60, 230)]).max()
        < 20
    )


def test_the_preview_of_a_transparent_drawing_shows_its_ink(tmp_path):
    """Dark ink on transparency over a white backdrop, light ink over a dark one: never ink on ink."""
    for ink, backdrop_is_light in (((20, 20, 20), True), ((250, 250, 250), False)):
        image = Image.new("RGBA", (200, 300), (0, 0, 0, 0))
        image.paste(ink + (255,), (90, 50, 110, 250))
        preview = read_upload(save(image, tmp_path, "t.png")).preview
        corner, stroke = preview[0, 0].mean(), preview[preview.shape[0] // 2, preview.shape[1] // 2].mean()
        assert (corner > 200) == backdrop_is_light and abs(corner - stroke) > 150
