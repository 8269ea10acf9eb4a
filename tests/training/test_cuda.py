"""CUDA-only: the steady-state step never waits for the host, and the CUDA graph does the eager step's maths.

Skipped where there is no GPU (CI has none); run them on a GPU with `python -m pytest
tests/training/test_cuda.py`.
"""

import pytest
import torch

import dae.training.loop
from dae.architectures import ARCHITECTURES
from dae.data import load_mnist, shuffled_batches
from dae.noise import add_noise, blind_noise
from dae.training.config import TrainConfig, default_config
from dae.training.cuda_graph import GraphedStep
from dae.training.loop import make_optimizer, make_step, set_lr, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def images(tiny_mnist):
    return load_mnist(tiny_mnist, train=True)[0].cuda()  # 512 synthetic digits


@pytest.fixture
def graphs(monkeypatch):
    """Every GraphedStep that train() makes, to count its captures and replays."""
    made = []

    class Recorded(GraphedStep):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(dae.training.loop, "GraphedStep", Recorded)
    return made


def run_steps(images, config, graphed, steps, seed=0, labels=None):
    torch.manual_seed(seed)
    model = ARCHITECTURES[config.arch]().cuda()
    optimizer = make_optimizer(model, config)
    generator = torch.Generator(device="cuda").manual_seed(seed)
    step = make_step(model, optimizer, images, config, generator, graphed, labels=labels)
    assert isinstance(step, GraphedStep) == graphed
    losses = torch.zeros(steps, device="cuda")
    done = 0
    while done < steps:
        for index in shuffled_batches(len(images), config.batch_size, generator, "cuda"):
            if done == steps:
                break
            losses[done] = step(index)
            done += 1
    if graphed:  # one graph for every step: 512 images make full batches of 64 only
        assert step.captures == 1 and step.replays == steps
    return model, losses


@pytest.mark.parametrize("graphed", [False, True], ids=["eager", "graph"])
@pytest.mark.parametrize("noise", ["blind", "gaussian"])
def test_no_host_sync_in_the_steady_state(images, graphed, noise):
    config = TrainConfig(
        batch_size=64, noise=noise, strength=None if noise == "blind" else 0.5, lr_schedule="cosine"
    )
    torch.manual_seed(0)
    model = ARCHITECTURES["dae"]().cuda()
    optimizer = make_optimizer(model, config)
    generator = torch.Generator(device="cuda").manual_seed(0)
    step = make_step(model, optimizer, images, config, generator, graphed)
    losses = torch.zeros(300, device="cuda")
    orders = [torch.randperm(len(images), generator=generator, device="cuda") for _ in range(40)]
    step(orders[0][:64])  # first call: capture (graph) or first allocations (eager)
    step(orders[0][64:128])
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for i in range(300):
            set_lr(optimizer, 1e-3 * (1 - i / 300))
            losses[i] = step(orders[i // 8][(i % 8) * 64 : (i % 8 + 1) * 64])
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(losses).all()
    if graphed:  # the 302 steps were replays of the one graph captured by the first call
        assert step.captures == 1 and step.replays == 302


def test_noise_functions_do_not_sync():
    x = torch.rand(64, 1, 28, 28, device="cuda")
    g = torch.Generator(device="cuda").manual_seed(0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        blind_noise(x, g)
        for kind in ("gaussian", "mask", "salt_pepper"):
            add_noise(x, kind, 0.3, g)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("arch", ["dae", "unet"])
def test_graph_does_the_eager_maths(images, arch):
    """Same seed, same batches, same noise generator: the graph's losses follow the eager ones."""
    config = TrainConfig(arch=arch, batch_size=64)
    steps = 3 * 8 + 1  # three epochs of 512 = 8 x 64, and one more
    eager_model, eager = run_steps(images, config, graphed=False, steps=steps)
    graph_model, graphed = run_steps(images, config, graphed=True, steps=steps)
    assert torch.allclose(eager, graphed, rtol=1e-3, atol=1e-5), (eager, graphed)
    for a, b in zip(eager_model.parameters(), graph_model.parameters()):
        assert torch.allclose(a, b, rtol=1e-3, atol=1e-4)


def test_the_classifier_graph_does_the_eager_maths(images, tiny_mnist):
    """The classifier's step replayed from a graph (its data: the batch's indices) follows the eager step."""
    labels = load_mnist(tiny_mnist, train=True)[1].cuda()
    config = default_config(arch="classifier", batch_size=64)
    eager_model, eager = run_steps(images, config, graphed=False, steps=17, labels=labels)
    graph_model, graphed = run_steps(images, config, graphed=True, steps=17, labels=labels)
    assert torch.allclose(eager, graphed, rtol=1e-3, atol=1e-5), (eager, graphed)
    for a, b in zip(eager_model.state_dict().values(), graph_model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4)


def test_partial_last_batch_gets_its_own_graph(tiny_mnist, tmp_path, graphs):
    config = TrainConfig(
        data_dir=str(tiny_mnist), out=str(tmp_path / "g"), limit=100, batch_size=64, epochs=2, device="cuda"
    )
    graph = train(config)  # 100 = 64 + 36: two graphs, each replayed once an epoch
    assert len(graphs) == 1 and graphs[0].captures == 2 and graphs[0].replays == 4
    eager = train(TrainConfig(**{**config.__dict__, "out": str(tmp_path / "e"), "cuda_graph": False}))
    assert len(graphs) == 1, "--no-cuda-graph makes no graph"
    assert graph["test_loss"] == pytest.approx(eager["test_loss"], rel=1e-3)


def test_graph_run_resumes_exactly(tiny_mnist, tmp_path, graphs):
    """Stopped after one epoch and resumed: the generator registered with the graph continues where it was."""
    common = dict(data_dir=str(tiny_mnist), batch_size=32, limit=160, device="cuda")
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=3, **common))
    train(TrainConfig(out=str(tmp_path / "split"), epochs=1, **common))
    resumed = train(TrainConfig(out=str(tmp_path / "split"), epochs=3, resume=True, **common))
    # 160 = 5 x 32: one graph per run, replayed for every step (15, 5, then the 10 of the resumed epochs)
    assert [(g.captures, g.replays) for g in graphs] == [(1, 15), (1, 5), (1, 10)]
    assert resumed["test_loss"] == pytest.approx(full["test_loss"], rel=1e-5)
