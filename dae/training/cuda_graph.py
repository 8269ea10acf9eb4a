"""The training step captured once as a CUDA graph and replayed, so a GPU runs at its own pace.

At batch 64 a step of these small models is about a hundred short kernels; launched one by one
from Python, the GPU spends most of its time waiting for the next launch. A CUDA graph records
the whole step (batch gather, noise, forward, backward, Adam) once and replays it with a single
launch. What makes that possible, and keeps the maths the eager step's:

- every tensor the step reads or writes lives at a fixed address: the batch's indices are copied
  into a static buffer before each replay, the loss is read from a static output, and Adam runs
  with `capturable=True` (its step count and learning rate are device tensors: the learning rate
  schedule writes into that tensor, the graph reads it);
- the noise comes from the run's own generator, registered with the graph, so each replay draws
  fresh numbers and the generator's state (saved for --resume) moves on as in eager mode;
- the step contains no host synchronisation (noise.py keeps Python numbers as numbers);
- the warm-up steps that must run before a capture (they create Adam's state) draw their noise
  from a scratch generator, and the weights and optimizer state are put back afterwards, so
  capturing changes neither the weights nor the run's random numbers;
- the last, smaller batch of an epoch gets a graph of its own, captured when first needed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

WARMUP_STEPS = 2

Step = Callable[[Tensor, torch.Generator], Tensor]  # (clean batch, generator) -> loss, one optimisation step


def make_capturable(optimizer: torch.optim.Optimizer) -> None:
    """Turn an Adam optimizer (on CUDA, after any state was loaded) into one a graph can capture."""
    for group in optimizer.param_groups:
        group["capturable"] = True
        if not torch.is_tensor(group["lr"]):
            device = group["params"][0].device
            group["lr"] = torch.tensor(float(group["lr"]), dtype=torch.float32, device=device)


class GraphedStep:
    """`step(index)` runs one training step on `images[index]` by replaying a captured CUDA graph.

    `step_fn(clean, generator)` is the eager step (noise, forward, backward, optimizer step) that
    gets captured; it must not synchronise with the host.
    """

    def __init__(
        self,
        step_fn: Step,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        images: Tensor,
        generator: torch.Generator,
        to_float: Callable[[Tensor], Tensor],
    ) -> None:
        if images.device.type != "cuda":
            raise ValueError("CUDA graphs need the training data on a CUDA device")
        self.step_fn, self.model, self.optimizer = step_fn, model, optimizer
        self.images, self.generator, self.to_float = images, generator, to_float
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, Tensor, Tensor]] = {}
        self.replays = 0  # graph replays so far, one per step (the tests count them)

    @property
    def captures(self) -> int:
        """How many graphs were captured: one per batch size met (a partial last batch adds one)."""
        return len(self.graphs)

    def __call__(self, index: Tensor) -> Tensor:
        """Replay the step for this batch; returns the loss as a device tensor (valid until the next call)."""
        n = len(index)
        if n not in self.graphs:
            self.graphs[n] = self._capture(n)
        graph, static_index, static_loss = self.graphs[n]
        static_index.copy_(index)
        graph.replay()
        self.replays += 1
        return static_loss

    def _capture(self, batch_size: int) -> tuple[torch.cuda.CUDAGraph, Tensor, Tensor]:
        device = self.images.device
        static_index = torch.zeros(batch_size, dtype=torch.long, device=device)
        saved = _snapshot(self.model, self.optimizer)
        scratch = torch.Generator(device=device).manual_seed(0)
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):  # warm-up off the default stream, as the CUDA graph docs ask
            for _ in range(WARMUP_STEPS):
                self.step_fn(self.to_float(self.images[static_index]), scratch)
        torch.cuda.current_stream(device).wait_stream(stream)
        _restore(self.model, self.optimizer, saved)

        graph = torch.cuda.CUDAGraph()
        graph.register_generator_state(self.generator)
        self.optimizer.zero_grad(set_to_none=True)  # the captured backward allocates the gradients it writes
        with torch.cuda.graph(graph):
            static_loss = self.step_fn(self.to_float(self.images[static_index]), self.generator)
        return graph, static_index, static_loss


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[list[Tensor], dict]:
    weights = [t.detach().clone() for t in (*model.parameters(), *model.buffers())]
    state = {
        p: {k: v.clone() for k, v in s.items() if torch.is_tensor(v)} for p, s in optimizer.state.items()
    }
    return weights, state


@torch.no_grad()
def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, saved: tuple[list[Tensor], dict]) -> None:
    """Copy the saved values back into the same tensors (their addresses are what a graph captures)."""
    weights, state = saved
    for tensor, value in zip((*model.parameters(), *model.buffers()), weights):
        tensor.copy_(value)
    for param, param_state in optimizer.state.items():
        for key, value in param_state.items():
            if not torch.is_tensor(value):
                continue
            if param in state:
                value.copy_(state[param][key])
            else:
                value.zero_()  # the state was created by the warm-up: Adam's fresh state is all zeros
