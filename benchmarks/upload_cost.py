"""What one upload costs the server: time and extra peak memory of `read_upload`, per picture.

    python -m benchmarks.upload_cost

Each picture is read in a fresh Python process (so one case's memory cannot hide another's):
the process imports the package, reads a small picture once (so code paths are warm), resets
the kernel's peak-RSS mark (/proc/self/clear_refs), reads the picture, and reports the time and
the peak RSS above the RSS just before.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
from webapp.digits.upload import read_upload
read_upload(sys.argv[2])

def rss_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field))

with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets VmHWM, the peak RSS, to the current RSS
before = rss_kb("VmRSS:")
start = time.perf_counter()
read_upload(sys.argv[1])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "extra_mb": (rss_kb("VmHWM:") - before) / 1024}))
"""


def pictures(folder: Path) -> tuple[dict[str, Path], Path]:
    """Large PNGs (black, one white bar, tens of KB on disk; greyscale, RGB, RGBA) and a 12 MP phone photo."""
    out = {}
    for side, mode in ((6000, "L"), (6320, "L"), (6000, "RGB"), (6000, "RGBA")):
        image = Image.new(mode, (side, side), 0)
        image.paste((255,) * len(mode), (side // 3, side // 6, side // 3 + side // 10, side - side // 6))
        out[f"{side} x {side} PNG ({mode})"] = folder / f"{side}_{mode}.png"
        image.save(out[f"{side} x {side} PNG ({mode})"], optimize=True)
    rng = np.random.default_rng(0)
    photo = np.full((3000, 4000, 3), 235, np.uint8) + rng.integers(0, 12, (3000, 4000, 3), dtype=np.uint8)
    photo[800:2300, 1800:2000] = (30, 40, 110)  # a blue "1"
    out["4000 x 3000 JPEG photo (12 MP)"] = folder / "photo.jpg"
    Image.fromarray(photo).save(out["4000 x 3000 JPEG photo (12 MP)"], quality=90)
    small = folder / "small.png"
    warm = Image.new("L", (64, 64), 0)
    warm.paste(255, (28, 8, 36, 56))
    warm.save(small)
    return out, small


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cases, warm = pictures(Path(tmp))
        for name, path in cases.items():
            result = subprocess.run(
                [sys.executable, "-c", CHILD, str(path), str(warm)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            )
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            print(
                f"{name:34s} {path.stat().st_size / 1024:8.0f} KB on disk   "
                f"{figures['seconds'] * 1000:6.0f} ms   +{figures['extra_mb']:6.1f} MB peak RSS"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
