"""The app launched in-process and called through gradio_client, as an API user would."""

import math

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import app
from dae.samples import load_samples


@pytest.fixture(scope="module")
def server():
    demo = app.build_demo(app.load_denoiser())
    demo.queue(default_concurrency_limit=4)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, max_file_size="10mb", quiet=True, ssr_mode=False)
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


def test_the_app_serves_the_committed_checkpoint_by_default():
    assert (app.DEFAULT_CHECKPOINT / "model.safetensors").is_file()


def test_denoise_endpoint(client, digit_png):
    noisy, recon, error, metrics = client.predict(handle_file(str(digit_png)), "gaussian", 0.5, 7, api_name="/denoise")
    for path, mode in ((noisy, "L"), (recon, "L"), (error, "RGB")):
        image = Image.open(path)
        assert image.format == "PNG" and image.size == (224, 224) and image.mode == mode
    assert set(metrics) == {"noisy", "dae"}
    assert metrics["dae"]["psnr"] > metrics["noisy"]["psnr"] + 5  # the trained model really denoises
    assert math.isclose(metrics["dae"]["psnr_gain_db"], metrics["dae"]["psnr"] - metrics["noisy"]["psnr"], abs_tol=1e-4)


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
    if "unet" not in app.load_denoiser().models:
        pytest.skip("no U-Net checkpoint")
    metrics = client.predict(handle_file(str(digit_png)), "mask", 0.5, 1, "unet", api_name="/denoise")[3]
    assert set(metrics) == {"noisy", "unet"}
    with pytest.raises(Exception, match="Unknown model"):
        client.predict(handle_file(str(digit_png)), "mask", 0.5, 1, "resnet", api_name="/denoise")


def test_only_denoise_is_public(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert list(endpoints) == ["/denoise"]


def test_a_broken_comparison_checkpoint_only_disables_the_comparison(tmp_path, capsys):
    broken = tmp_path / "unet"
    broken.mkdir()
    (broken / "config.json").write_text('{"arch": "unet"}')
    (broken / "model.safetensors").write_bytes(b"garbage")
    denoiser = app.load_denoiser(compare_checkpoint=broken)
    assert list(denoiser.models) == ["dae"]
    assert "comparison model is off" in capsys.readouterr().err


def test_app_with_a_missing_checkpoint_exits_2(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, str(app.ROOT / "app.py"), "--checkpoint", str(tmp_path / "none")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no such checkpoint folder" in r.stderr and "Traceback" not in r.stderr
