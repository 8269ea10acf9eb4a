"""The app launched in-process and called through gradio_client, as an API user would, plus its wiring."""

import os
import subprocess
import sys
import threading

import gradio as gr
import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import app
from dae import loadgen as load_test
from dae import ui
from dae.checkpoint import load_model
from dae.samples import load_samples


@pytest.fixture(scope="module")
def server():
    demo = app.build_demo(app.load_denoiser())
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True, **app.LAUNCH)
    try:
        yield demo
    finally:
        demo.close()


@pytest.fixture(scope="module")
def client(server):
    return Client(server.local_url, verbose=False)


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "seven.png"
    Image.fromarray((load_samples()[0][70] * 255).astype(np.uint8)).save(path)
    return path


def test_the_committed_checkpoints_load():
    """Loaded strictly (load_denoiser would only warn about a broken U-Net and serve without it)."""
    import torch

    x = torch.from_numpy(load_samples()[0][:4]).unsqueeze(1)
    for name in ("dae", "unet"):
        model, config = load_model(app.CHECKPOINTS[name])
        with torch.inference_mode():
            y = model.eval()(x)
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1, name
        assert ((y - x) ** 2).mean() < 0.02, name  # trained: a clean digit comes back close to itself
    assert set(app.load_denoiser().models) == {"dae", "unet"}


def blocks_of_8(path) -> bool:
    """Whether a picture is a 28 x 28 one shown 8x (nearest neighbour): every 8 x 8 block one colour."""
    pixels = np.asarray(Image.open(path))
    blocks = pixels.reshape(28, 8, 28, 8, -1)
    return bool((blocks == blocks[:, :1, :, :1]).all())


def test_denoise_endpoint(client, digit_png):
    noisy, recon, error, metrics = client.predict(handle_file(str(digit_png)), "gaussian", 0.5, 7, api_name="/denoise")
    for path, mode in ((noisy, "L"), (recon, "L"), (error, "RGB")):
        image = Image.open(path)
        assert image.format == "PNG" and image.size == (224, 224) and image.mode == mode and blocks_of_8(path)
    assert set(metrics) == {"input", "noisy", "dae"}
    assert metrics["input"]["label"] == metrics["dae"]["label"] and 0 <= metrics["noisy"]["confidence"] <= 1
    assert metrics["dae"]["psnr"] > metrics["noisy"]["psnr"] + 5  # the trained model really denoises


def test_the_api_names_its_parameters_and_outputs(client):
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/denoise"]
    assert [p["parameter_name"] for p in info["parameters"]] == ["image", "noise", "strength", "seed", "model"]
    assert [r["label"] for r in info["returns"]] == ["noisy", "reconstruction", "error_map", "metrics"]


def test_same_seed_same_answer(client, digit_png):
    a = client.predict(handle_file(str(digit_png)), "mask", 0.5, 3, api_name="/denoise")[3]
    b = client.predict(handle_file(str(digit_png)), "mask", 0.5, 3, api_name="/denoise")[3]
    assert a == b


def test_bad_requests_get_a_clear_error_and_the_server_keeps_answering(client, digit_png, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    cases = [
        ((handle_file(str(fake)), "gaussian", 0.5, 0), "not an image"),
        ((handle_file(str(digit_png)), "speckle", 0.5, 0), "Unknown noise kind"),
        ((handle_file(str(digit_png)), "mask", 5.0, 0), "between 0 and 0.9"),
        ((handle_file(str(digit_png)), "gaussian", 0.5, -3), "whole number"),
    ]
    for args, message in cases:
        with pytest.raises(Exception, match=message):
            client.predict(*args, api_name="/denoise")
    assert client.predict(handle_file(str(digit_png)), "gaussian", 0.2, 0, api_name="/denoise")[3]["dae"]["psnr"] > 15


def test_model_choice(client, digit_png):
    metrics = client.predict(handle_file(str(digit_png)), "mask", 0.5, 1, "unet", api_name="/denoise")[3]
    assert set(metrics) == {"input", "noisy", "unet"}
    with pytest.raises(Exception, match="Unknown model"):
        client.predict(handle_file(str(digit_png)), "mask", 0.5, 1, "resnet", api_name="/denoise")


def test_only_denoise_is_public(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/denoise"]


def test_a_slider_answers_while_every_picture_slot_is_busy(server, digit_png, monkeypatch):
    """The queue: uploads that take forever (here: held until released) never stall anyone's slider."""
    release, started = threading.Event(), threading.Semaphore(0)
    read_upload = ui.read_upload

    def slow_read(path):
        started.release()
        release.wait(120)
        return read_upload(path)

    monkeypatch.setattr(ui, "read_upload", slow_read)
    uploads = [threading.Thread(target=lambda: Client(server.local_url, verbose=False).predict(
        handle_file(str(digit_png)), "gaussian", 0.5, 0, api_name="/denoise")) for _ in range(app.HEAVY["concurrency_limit"] + 2)]
    for t in uploads:
        t.start()
    try:
        for _ in range(app.HEAVY["concurrency_limit"]):
            assert started.acquire(timeout=120)  # every picture slot is taken, and more uploads wait behind them
        page, move = load_test.slider_page(server.local_url)
        move(1)  # raises if the slider's event fails; would wait for `release` if it queued behind the uploads
        assert not release.is_set() and all(t.is_alive() for t in uploads)
        page.close()
    finally:
        release.set()
        for t in uploads:
            t.join(120)


def test_the_queue_is_bounded(server, digit_png, monkeypatch):
    """More waiting requests than QUEUE_SIZE are refused at once (503) instead of piling up."""
    release, started = threading.Event(), threading.Semaphore(0)

    def held(path):
        started.release()
        release.wait(120)
        raise ui.InputError("released")

    monkeypatch.setattr(ui, "read_upload", held)
    page = load_test.PageSession(server.local_url)
    denoise = next(d["id"] for d in page.config["dependencies"] if d.get("api_name") == "denoise")
    uploaded = page.http.post("gradio_api/upload", files={"files": ("d.png", digit_png.read_bytes(), "image/png")}).json()[0]
    data = [{"path": uploaded, "meta": {"_type": "gradio.FileData"}}, "gaussian", 0.5, 0, "dae"]
    try:
        statuses = [page.join(denoise, data).status_code for _ in range(app.QUEUE_SIZE + app.HEAVY["concurrency_limit"] + 5)]
        assert statuses.count(503) >= 5 and set(statuses) == {200, 503}
        assert statuses.index(503) <= app.QUEUE_SIZE + app.HEAVY["concurrency_limit"]
    finally:
        release.set()
        page.close()


def test_the_cache_cleans_itself(digit_png, monkeypatch):
    """Result images and uploads are deleted once older than CACHE_CLEANUP's age (here 10 s, checked every second)."""
    import time

    monkeypatch.setattr(app, "CACHE_CLEANUP", (1, 10))  # long enough for the request itself to finish
    demo = app.build_demo(app.load_denoiser())
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **app.LAUNCH)
    try:
        before = {f for files in demo.temp_file_sets for f in files}  # the page's own pictures (kept)
        Client(demo.local_url, verbose=False).predict(handle_file(str(digit_png)), "gaussian", 0.5, 7, api_name="/denoise")
        made = {f for files in demo.temp_file_sets for f in files} - before
        assert len(made) == 4  # the upload and three results
        deadline = time.monotonic() + 60
        while any(os.path.exists(f) for f in made) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(os.path.exists(f) for f in made)
    finally:
        demo.close()


def test_each_result_image_is_a_file_of_its_own():
    """Gradio rewrites a shared cache file in place for byte-identical images (a client reading it
    meanwhile gets a truncated file); app.own_file gives every result its own file."""
    image = gr.Image(format="png")
    picture = np.zeros((224, 224), dtype=np.uint8)
    assert image.postprocess(picture).path == image.postprocess(picture).path  # what Gradio does alone
    a, b = image.postprocess(app.own_file(picture)), image.postprocess(app.own_file(picture))
    assert a.path != b.path and np.array_equal(np.asarray(Image.open(a.path)), picture)


def test_a_broken_comparison_checkpoint_only_disables_the_comparison(tmp_path, capsys):
    broken = tmp_path / "unet"
    broken.mkdir()
    (broken / "config.json").write_text('{"arch": "unet"}')
    (broken / "model.safetensors").write_bytes(b"garbage")
    denoiser = app.load_denoiser(compare_checkpoint=broken)
    assert list(denoiser.models) == ["dae"]
    assert "comparison model is off" in capsys.readouterr().err


def test_app_with_a_missing_checkpoint_exits_2(tmp_path):
    r = subprocess.run([sys.executable, str(app.ROOT / "app.py"), "--checkpoint", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no such checkpoint folder" in r.stderr and "Traceback" not in r.stderr


def test_start_up_names_our_share_flag_not_gradios():
    """Gradio's own hint says "set `share=True` in `launch()`", which a user of app.py cannot do."""
    port = load_test.free_port()
    env = os.environ | {"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    process = subprocess.Popen([sys.executable, str(app.ROOT / "app.py")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    assert f"Serving the demo at http://127.0.0.1:{port}/" in output and "python app.py --share" in output, output
    assert "share=True" not in output, output
