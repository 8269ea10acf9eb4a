import math

import torch

from dae.model import DAE, LATENT_DIM, MNIST_MEAN

EXPECTED_SHAPES = {
    "conv1": (16, 15, 15),
    "conv2": (32, 8, 8),
    "conv3": (64, 4, 4),
    "l1": (256,),
    "l2": (1024,),
    "conv4": (32, 8, 8),
    "conv5": (16, 16, 16),
    "conv6": (1, 28, 28),
}


def test_parameter_count():
    assert sum(p.numel() for p in DAE().parameters()) == 572_097


def test_activation_shapes():
    model, shapes = DAE(), {}
    for name in EXPECTED_SHAPES:
        getattr(model, name).register_forward_hook(
            lambda mod, inp, out, name=name: shapes.__setitem__(name, tuple(out.shape))
        )
    model(torch.rand(5, 1, 28, 28))
    assert shapes == {name: (5, *shape) for name, shape in EXPECTED_SHAPES.items()}


def test_layers_match_the_specification():
    m = DAE()
    conv = lambda c: (c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding)  # noqa: E731
    assert conv(m.conv1) == (1, 16, (3, 3), (2, 2), (2, 2))
    assert conv(m.conv2) == (16, 32, (3, 3), (2, 2), (1, 1))
    assert conv(m.conv3) == (32, 64, (3, 3), (2, 2), (1, 1))
    assert conv(m.conv4) == (64, 32, (3, 3), (3, 3), (2, 2))
    assert conv(m.conv5) == (32, 16, (3, 3), (3, 3), (4, 4))
    assert conv(m.conv6) == (16, 1, (3, 3), (2, 2), (3, 3)) and m.conv6.output_padding == (1, 1)
    assert (m.l1.in_features, m.l1.out_features, m.l2.in_features, m.l2.out_features) == (
        1024,
        256,
        256,
        1024,
    )


def test_encode_decode_and_output_range():
    m = DAE().eval()
    x = torch.rand(3, 1, 28, 28)
    z = m.encode(x)
    assert z.shape == (3, LATENT_DIM)
    y = m.decode(z)
    assert y.shape == (3, 1, 28, 28)
    assert torch.equal(y, m(x))
    assert (y > 0).all() and (y < 1).all()
    assert (z < 0).any(), "the latent code is linear (no ReLU on l1), so it takes negative values"


def test_conv1_as_matmul_equals_the_convolution_and_its_gradients():
    import torch.nn.functional as F

    conv1 = DAE().conv1
    x = torch.rand(8, 1, 28, 28)
    plain = lambda: F.conv2d(x, conv1.weight, conv1.bias, stride=2, padding=2)  # noqa: E731
    a, b = plain(), conv1(x)
    assert torch.allclose(a, b, atol=1e-6)
    g = torch.randn_like(a)
    (ga,) = torch.autograd.grad(plain(), conv1.weight, g)
    (gb,) = torch.autograd.grad(conv1(x), conv1.weight, g)
    assert torch.allclose(ga, gb, atol=1e-4)


def test_unet_shapes_and_range():
    from dae.model import UNet

    m = UNet().eval()
    x = torch.rand(3, 1, 28, 28)
    y = m(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    # 474,209 in the convolutions, plus the global context: 128*32+32, 512*256+256, 256*512+512, 32*128+128
    assert sum(p.numel() for p in m.parameters()) == 474_209 + 4_128 + 131_328 + 131_584 + 4_224


def test_unet_is_residual():
    """With the last layer zeroed the U-Net returns its input: it learns a correction."""
    from dae.model import UNet

    m = UNet().eval()
    torch.nn.init.normal_(m.context.expand.weight)  # whatever the rest computes...
    torch.nn.init.zeros_(m.out.weight)
    torch.nn.init.zeros_(m.out.bias)
    x = torch.rand(2, 1, 28, 28)
    assert torch.equal(m(x), x)  # ...the output is the input plus out(...) = the input


def test_unet_context_sees_the_whole_digit():
    """The global bottleneck: one code from the whole 4 x 4 map, added back to every position."""
    from dae.model import GlobalContext

    torch.manual_seed(0)
    block = GlobalContext(8).eval()
    torch.nn.init.normal_(block.expand.weight)
    x = torch.rand(1, 8, 4, 4)
    y = x.clone()
    y[..., 0, 0] += 1.0  # change one corner only
    with torch.no_grad():
        delta = (block(y) - y) - (block(x) - x)  # the context's contribution, with the residual taken out
    assert delta[..., 3, 3].abs().max() > 0  # reaches the opposite corner: a 1x1 conv alone could not
    torch.nn.init.zeros_(block.expand.weight)
    torch.nn.init.zeros_(block.expand.bias)
    with torch.no_grad():
        assert torch.equal(block(x), x)  # starts as the identity


def test_initialisation_uses_each_layers_true_fan_in():
    torch.manual_seed(0)
    m = DAE()
    # (fan-in, gain): conv4/conv5 have stride = kernel, so each output pixel sees one input position
    # per channel; conv6 (kernel 3, stride 2) sees 9/4 on average.
    expected = {
        "conv1": (9, 2),
        "conv2": (144, 2),
        "conv3": (288, 2),
        "l1": (1024, 1),
        "l2": (256, 2),
        "conv4": (64, 2),
        "conv5": (32, 2),
        "conv6": (16 * 9 / 4, 1),
    }
    for name, (fan_in, gain) in expected.items():
        w = getattr(m, name).weight
        assert math.isclose(
            w.std().item(), math.sqrt(gain / fan_in), rel_tol=0.25 if w.numel() < 500 else 0.05
        ), name
    assert all((getattr(m, n).bias == 0).all() for n in expected if n != "conv6")
    assert math.isclose(torch.sigmoid(m.conv6.bias).item(), MNIST_MEAN, rel_tol=1e-5)


def test_untrained_output_starts_near_the_mean_digit_and_depends_on_the_input():
    """The point of the initialisation: the signal reaches the output instead of fading to a constant."""
    torch.manual_seed(0)
    m = DAE().eval()
    x = (torch.rand(64, 1, 28, 28) < 0.15).float()
    with torch.no_grad():
        y = m(x)
        logits = torch.logit(y)
    assert abs(y.mean().item() - MNIST_MEAN) < 0.1
    assert logits.std(dim=0).mean().item() > 0.05  # about 0.14 here; PyTorch's default init gives 0.0002


def test_loading_a_checkpoint_replaces_the_initialisation(tmp_path):
    torch.manual_seed(1)
    trained = DAE()
    with torch.no_grad():
        trained.conv6.bias.fill_(0.25)
    trained.save_pretrained(tmp_path)
    loaded = DAE.from_pretrained(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(trained.state_dict().values(), loaded.state_dict().values()))


def test_untrained_unet_returns_its_input():
    """Its output layer starts at zero: training learns only the correction to the noisy image."""
    from dae.model import UNet

    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(UNet().eval()(x), x)
