"""`python app.py` as a person starts it: a missing checkpoint is one line and exit status 2; the start-up
lines name our --share flag, not Gradio's."""

import os
import subprocess
import sys

from tests.support import ROOT
from tools.loadgen import free_port


def test_app_with_a_missing_checkpoint_exits_2(tmp_path):
    r = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--checkpoint", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "no such checkpoint folder" in r.stderr and "Traceback" not in r.stderr


def test_start_up_names_our_share_flag_not_gradios():
    """Gradio's own hint says "set `share=True` in `launch()`", which a user of app.py cannot do."""
    port = free_port()
    env = os.environ | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:  # until the app says it serves (or exits)
            lines.append(line)
            if "Serving" in line:
                lines.append(process.stdout.readline())
                break
    finally:
        process.terminate()
        process.wait(30)
    output = "".join(lines)
    assert f"Serving the demo at http://127.0.0.1:{port}/" in output and "python app.py --share" in output, (
        output
    )
    assert "share=True" not in output, output
