"""Load test of the app, against a local server only.

    python -m benchmarks.load_test [--clients 50] [--requests 10] [--sequential 2000]
    python -m benchmarks.load_test --burst 20 --side 6000      # big uploads and the slider

Starts `python app.py` on a free localhost port, then
1. `--clients` concurrent gradio_client clients each send `--requests` requests to /denoise
   (varied noise kinds, strengths and seeds): successes, failures, p50/p95 latency, requests/s;
2. `--sequential` requests one after another, measuring the server process's resident memory
   (RSS) before and after: the growth should stay under 50 MB;
3. with `--burst N`: N clients at once each upload a `--side` x `--side` PNG (a few tens of KB
   that decode to tens of megapixels) to /denoise, while one page moves the strength slider
   over the queue as the browser does. Reports the server's RSS before, at its peak (sampled
   every 20 ms) and after, and the slider's latency during the burst against without it.
Every loop is bounded in count; the server is stopped at the end. The phases are in tools/loadgen.py;
the test suite runs small versions of them (tests/e2e/test_reliability.py).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from tools.loadgen import app_server, burst_phase, concurrent_phase, digit_file, sequential_phase


def run(clients: int, requests: int, sequential: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, app_server() as (url, process):
        image = digit_file(Path(tmp))
        return {
            "concurrent": concurrent_phase(url, image, clients, requests),
            "sequential": sequential_phase(url, image, process, sequential),
        }


def print_burst(b: dict) -> None:
    print(
        f"burst: {b['uploads']} uploads at once of a {b['side']} x {b['side']} PNG ({b['png_kb']:.0f} KB): "
        f"{b['succeeded']} succeeded in {b['wall_s']:.1f} s (each {b['upload_p50_s'] or 0:.1f} s p50, "
        f"{b['upload_max_s'] or 0:.1f} s max, queue included)"
    )
    for error in b["errors"]:
        print(f"  error: {error}")
    print(
        f"  server RSS: {b['rss_before_mb']:.0f} MB before, {b['rss_peak_mb']:.0f} MB at peak, "
        f"{b['rss_after_mb']:.0f} MB after"
    )
    print(
        f"  strength slider (over the queue, as the page): {b['slider_quiet_ms']:.0f} ms p50 alone, "
        f"{b['slider_busy_ms'] or 0:.0f} ms p50 / {b['slider_busy_max_ms'] or 0:.0f} ms max during the burst "
        f"({b['slider_busy_moves']} moves)"
    )
    print(
        f"  a small /denoise: {b['small_quiet_ms']:.0f} ms alone, "
        f"{b['small_busy_ms']:.0f} ms sent just after the burst"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=10, help="requests per concurrent client")
    p.add_argument("--sequential", type=int, default=2000)
    p.add_argument("--burst", type=int, default=0, help="only the burst: this many big uploads at once")
    p.add_argument("--side", type=int, default=6000, help="side of the burst's PNG in pixels")
    args = p.parse_args()
    if args.burst:
        with tempfile.TemporaryDirectory() as tmp, app_server() as (url, process):
            print_burst(burst_phase(url, process, Path(tmp), args.burst, args.side))
        return
    result = run(args.clients, args.requests, args.sequential)
    c, s = result["concurrent"], result["sequential"]
    print(
        f"concurrent: {c['clients']} clients x {args.requests} requests: {c['successes']} succeeded, "
        f"{c['failures']} failed; p50 {c['p50_ms']:.0f} ms, p95 {c['p95_ms']:.0f} ms, "
        f"{c['requests_per_s']:.1f} requests/s ({c['wall_s']:.1f} s)"
    )
    for example in c["failure_examples"]:
        print(f"  failure: {example}")
    print(
        f"sequential: {s['requests']} requests, {s['failures']} failed, "
        f"{s['requests_per_s']:.1f} requests/s; server RSS {s['rss_before_mb']:.0f} MB -> "
        f"{s['rss_after_mb']:.0f} MB (growth {s['rss_growth_mb']:+.1f} MB)"
    )


if __name__ == "__main__":
    main()
