"""Helpers that several test files use; the fixtures are in conftest.py.

Nothing here is product code: the pictures the page would send, the requests of its controller,
the command line of train.py run as a process, and where the opt-in real MNIST is.
"""

from __future__ import annotations

import base64
import io
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from dae.data import MNIST_FILES

ROOT = Path(__file__).resolve().parents[1]

# ---- the real MNIST, for opt-in checks -------------------------------------------------------------

REAL_MNIST_SKIP = (
    "opt-in: needs the real MNIST in data/MNIST/raw (python train.py downloads it there) "
    "or in $DAE_MNIST_ROOT/MNIST/raw"
)


def real_mnist_root() -> Path | None:
    """The real MNIST for opt-in checks: $DAE_MNIST_ROOT, else the repository's own data/
    (train.py's default), when present."""
    for candidate in (os.environ.get("DAE_MNIST_ROOT"), ROOT / "data"):
        if candidate and all((Path(candidate) / "MNIST" / "raw" / f).exists() for f in MNIST_FILES):
            return Path(candidate)
    return None


# ---- pictures ----------------------------------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb() -> bytes:
    """A 200-byte PNG whose header claims 100,000 x 100,000 pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + png_chunk(b"IEND", b"")
    )


def data_url(pixels: np.ndarray) -> str:
    """uint8 pixels (grey, RGB or RGBA) as a PNG data URL, as the page sends pictures."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def decoded(uri: str) -> np.ndarray:
    """The pixels of a PNG data URL."""
    assert uri.startswith("data:image/png;base64,"), uri[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def drawing(top: float = 60, bottom: float = 260, x: float = 165, width: float = 30, side: int = 320) -> dict:
    """A render source as the page sends a drawing: one vertical pen stroke (a '1'), in canvas pixels."""
    points = [[x, y] for y in np.linspace(top, bottom, 12).tolist()]
    return {"kind": "strokes", "side": side, "strokes": [{"tool": "pen", "width": width, "points": points}]}


def pictures(markup: str) -> list[np.ndarray]:
    """Every inline PNG of some markup, decoded, in order."""
    found = re.findall(r'src="data:image/png;base64,([^"]+)"', markup)
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u)))) for u in found]


def uint8(image: np.ndarray) -> np.ndarray:
    """A [0, 1] float image as the page's PNGs hold it."""
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def request(source, noise="gaussian", strength=0.5, seed=0, compare=None, views=()) -> dict:
    """A render request as the page's controller sends it (webapp/static/controller.js): `compare` is the
    name of the model beside the DAE ("unet", "plain-ae", ...) or None."""
    return {
        "source": source,
        "noise": noise,
        "strength": strength,
        "seed": seed,
        "compare": compare,
        "views": list(views),
    }


# ---- digits: pictures of them, and what an MNIST-style digit looks like ---------------------------------


def save(image: Image.Image, tmp_path: Path, name: str = "digit.png", **kwargs) -> Path:
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


def stroke_canvas(size: int = 320, box=(140, 40, 170, 200)) -> np.ndarray:
    """Alpha of a thick vertical stroke, like a '1' drawn on the canvas; box is (x0, y0, x1, y1)."""
    alpha = np.zeros((size, size), dtype=np.uint8)
    x0, y0, x1, y1 = box
    alpha[y0:y1, x0:x1] = 255
    return alpha


def drawing_png(alpha: np.ndarray, ink=(37, 99, 235), under=(0, 0, 0)) -> bytes:
    """The page's canvas as PNG bytes: transparent but for the ink, whose alpha is `alpha`.

    `under` is the colour of the fully transparent pixels (a browser writes black; it must not matter).
    """
    layer = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    layer[..., :3] = np.where(alpha[..., None] > 0, ink, under)
    layer[..., 3] = alpha
    buffer = io.BytesIO()
    Image.fromarray(layer).save(buffer, format="png")
    return buffer.getvalue()


def centre_of_mass(digit: np.ndarray) -> tuple[float, float]:
    digit = digit.astype(np.float64)
    rows = (digit.sum(1) * np.arange(28)).sum() / digit.sum()
    return rows, (digit.sum(0) * np.arange(28)).sum() / digit.sum()


def assert_mnist_like(digit: np.ndarray, tall: bool = True) -> None:
    assert digit.shape == (28, 28) and digit.dtype == np.float32
    assert 0 <= digit.min() and digit.max() <= 1
    rows, cols = np.nonzero(digit > 0.05)
    if tall:
        assert (
            19 <= rows.max() - rows.min() + 1 <= 21
        )  # longest side 20 px (anti-aliasing may touch one more)
    cy, cx = centre_of_mass(digit)
    # MNIST's centre of mass: pixel (14, 14), whole-pixel moves
    assert abs(cy - 14) <= 0.5 + 1e-6 and abs(cx - 14) <= 0.5 + 1e-6


def middle_row_width(digit: np.ndarray) -> float:
    """Width of a vertical stroke: the ink summed across its middle row (a second measure, not
    `stroke_width`)."""
    return float(digit[14].sum())


# ---- train.py as a process ------------------------------------------------------------------------------


def run_train(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        **kwargs,
    )


def one_line_error(r: subprocess.CompletedProcess) -> str:
    """The error of a refused command: exit status 2, no traceback, one line saying why."""
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(lines) == 1, r.stderr
    return lines[0]
