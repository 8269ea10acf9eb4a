"""The app served in this process and called through gradio_client, as an API user would: the /denoise
endpoint, its errors, and the serving limits (queue, picture slots, cache) around it."""

import os
import threading
import time

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

import webapp.api
import webapp.page
from dae.samples import load_samples
from tools.loadgen import PageSession, app_in_process, slider_page
from webapp.errors import InputError
from webapp.page import build_demo
from webapp.serving import HEAVY, QUEUE_SIZE, launch


@pytest.fixture(scope="module")
def server(served):
    """The app's URL."""
    with app_in_process(served) as url:
        yield url


@pytest.fixture(scope="module")
def client(server):
    return Client(server, verbose=False)


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "seven.png"
    Image.fromarray((load_samples()[0][70] * 255).astype(np.uint8)).save(path)
    return path


def blocks_of_8(path) -> bool:
    """Whether a picture is a 28 x 28 one shown 8x (nearest neighbour): every 8 x 8 block one colour."""
    pixels = np.asarray(Image.open(path))
    blocks = pixels.reshape(28, 8, 28, 8, -1)
    return bool((blocks == blocks[:, :1, :, :1]).all())


def test_denoise_endpoint(client, digit_png):
    noisy, recon, error, metrics = client.predict(
        handle_file(str(digit_png)), "gaussian", 0.5, 7, api_name="/denoise"
    )
    for path, mode in ((noisy, "L"), (recon, "L"), (error, "RGB")):
        image = Image.open(path)
        assert image.format == "PNG" and image.size == (224, 224) and image.mode == mode and blocks_of_8(path)
    assert set(metrics) == {"input", "noisy", "dae"}
    assert metrics["input"]["label"] == metrics["dae"]["label"] and 0 <= metrics["noisy"]["confidence"] <= 1
    assert metrics["dae"]["psnr"] > metrics["noisy"]["psnr"] + 5  # the trained model really denoises


def test_the_api_names_its_parameters_and_outputs(client):
    info = client.view_api(print_info=False, return_format="dict")["named_endpoints"]["/denoise"]
    assert [p["parameter_name"] for p in info["parameters"]] == [
        "image",
        "noise",
        "strength",
        "seed",
        "model",
    ]
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
        ((handle_file(str(digit_png)), "mask", 5.0, 0), "from 0 to 0.9"),
        ((handle_file(str(digit_png)), "gaussian", 0.5, -3), "whole number"),
    ]
    for args, message in cases:
        with pytest.raises(Exception, match=message):
            client.predict(*args, api_name="/denoise")
    assert (
        client.predict(handle_file(str(digit_png)), "gaussian", 0.2, 0, api_name="/denoise")[3]["dae"]["psnr"]
        > 15
    )


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
    read_upload = webapp.api.read_upload

    def slow_read(path):
        started.release()
        release.wait(120)
        return read_upload(path)

    monkeypatch.setattr(webapp.api, "read_upload", slow_read)
    uploads = [
        threading.Thread(
            target=lambda: Client(server, verbose=False).predict(
                handle_file(str(digit_png)), "gaussian", 0.5, 0, api_name="/denoise"
            )
        )
        for _ in range(HEAVY["concurrency_limit"] + 2)
    ]
    for t in uploads:
        t.start()
    try:
        for _ in range(HEAVY["concurrency_limit"]):
            assert started.acquire(
                timeout=120
            )  # every picture slot is taken, and more uploads wait behind them
        page, move = slider_page(server)
        move(
            1
        )  # raises if the slider's event fails; would wait for `release` if it queued behind the uploads
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
        raise InputError("released")

    monkeypatch.setattr(webapp.api, "read_upload", held)
    page = PageSession(server)
    denoise = next(d["id"] for d in page.config["dependencies"] if d.get("api_name") == "denoise")
    uploaded = page.http.post(
        "gradio_api/upload", files={"files": ("d.png", digit_png.read_bytes(), "image/png")}
    ).json()[0]
    data = [{"path": uploaded, "meta": {"_type": "gradio.FileData"}}, "gaussian", 0.5, 0, "dae"]
    try:
        statuses = [
            page.join(denoise, data).status_code for _ in range(QUEUE_SIZE + HEAVY["concurrency_limit"] + 5)
        ]
        assert statuses.count(503) >= 5 and set(statuses) == {200, 503}
        assert statuses.index(503) <= QUEUE_SIZE + HEAVY["concurrency_limit"]
    finally:
        release.set()
        page.close()


def test_the_cache_cleans_itself(served, digit_png, monkeypatch):
    """Result images and uploads are deleted once older than CACHE_CLEANUP's age (here 10 s, checked every
    second)."""
    monkeypatch.setattr(webapp.page, "CACHE_CLEANUP", (1, 10))  # long enough for the request itself to finish
    demo = build_demo(served)
    launch(demo, prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    try:
        before = {f for files in demo.temp_file_sets for f in files}  # the page's own pictures (kept)
        Client(demo.local_url, verbose=False).predict(
            handle_file(str(digit_png)), "gaussian", 0.5, 7, api_name="/denoise"
        )
        made = {f for files in demo.temp_file_sets for f in files} - before
        assert len(made) == 4  # the upload and three results
        deadline = time.monotonic() + 60
        while any(os.path.exists(f) for f in made) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(os.path.exists(f) for f in made)
    finally:
        demo.close()
