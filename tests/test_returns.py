"""Unit tests of reference/returns.py beyond the contract: input validation, dtypes, purity.

The contracts' meaning is pinned by properties/test_{discounted_returns,td_target,gae}.py;
this module pins the reference's own promise that a bad argument raises a
``TypeError``/``ValueError`` naming it, and that nothing is broadcast.
"""

import numpy as np
import pytest
import torch

from drlspec.returns import discounted_returns, gae, td_target

T, N = 5, 3


def _gae_args(**changes):
    args = {
        "rewards": torch.zeros(T, N),
        "values": torch.zeros(T, N),
        "next_values": torch.zeros(T, N),
        "terminated": torch.zeros(T, N, dtype=torch.bool),
        "truncated": torch.zeros(T, N),
        "gamma": 0.9,
        "lam": 0.95,
    }
    args.update(changes)
    return args


def _returns_args(**changes):
    args = {
        "rewards": torch.zeros(T, N),
        "dones": torch.zeros(T, N, dtype=torch.bool),
        "gamma": 0.9,
    }
    args.update(changes)
    return args


def _td_args(**changes):
    args = {
        "rewards": torch.zeros(T),
        "next_values": torch.zeros(T),
        "terminated": torch.zeros(T, dtype=torch.bool),
        "gamma": 0.9,
    }
    args.update(changes)
    return args


KERNELS = {
    "discounted_returns": (discounted_returns, _returns_args),
    "gae": (gae, _gae_args),
    "td_target": (td_target, _td_args),
}


def _call(kernel: str, **changes):
    function, arguments = KERNELS[kernel]
    return function(**arguments(**changes))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("gamma", [-0.1, 1.0 + 1e-9, 2, float("nan"), float("inf")])
def test_gamma_outside_unit_interval_is_rejected(kernel, gamma):
    with pytest.raises(ValueError, match="gamma"):
        _call(kernel, gamma=gamma)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("gamma", ["0.9", None, True, torch.tensor([0.9])])
def test_gamma_of_wrong_type_is_rejected(kernel, gamma):
    with pytest.raises(TypeError, match="gamma"):
        _call(kernel, gamma=gamma)


@pytest.mark.parametrize("lam", [-0.5, 1.5, float("nan")])
def test_gae_lam_outside_unit_interval_is_rejected(lam):
    with pytest.raises(ValueError, match="lam"):
        _call("gae", lam=lam)


@pytest.mark.parametrize("lam", ["1", None, False])
def test_gae_lam_of_wrong_type_is_rejected(lam):
    with pytest.raises(TypeError, match="lam"):
        _call("gae", lam=lam)


@pytest.mark.parametrize("kernel", KERNELS)
def test_exact_zero_and_one_and_scalar_tensors_are_accepted(kernel):
    for gamma in (0, 1, 0.0, 1.0, torch.tensor(0.5)):
        _call(kernel, gamma=gamma)
    if kernel == "gae":
        for lam in (0, 1, torch.tensor(1.0)):
            _call(kernel, lam=lam)


@pytest.mark.parametrize(
    ("kernel", "name"),
    [
        ("discounted_returns", "rewards"),
        ("gae", "rewards"),
        ("gae", "values"),
        ("gae", "next_values"),
        ("td_target", "rewards"),
        ("td_target", "next_values"),
    ],
)
def test_non_tensor_and_integer_arrays_are_rejected(kernel, name):
    good = KERNELS[kernel][1]()[name]
    with pytest.raises(TypeError, match=name):
        _call(kernel, **{name: good.tolist()})
    with pytest.raises(TypeError, match=name):
        _call(kernel, **{name: good.to(torch.long)})


FLAG_ARGUMENTS = [("discounted_returns", "dones"), ("gae", "terminated"), ("gae", "truncated")]
FLAG_ARGUMENTS += [("td_target", "terminated")]


@pytest.mark.parametrize(("kernel", "name"), FLAG_ARGUMENTS)
def test_flags_must_be_bool_or_zero_one(kernel, name):
    shape = KERNELS[kernel][1]()[name].shape
    with pytest.raises(ValueError, match=name):
        _call(kernel, **{name: torch.full(shape, 0.5)})
    with pytest.raises(ValueError, match=name):
        _call(kernel, **{name: torch.full(shape, 2.0)})
    with pytest.raises(TypeError, match=name):
        _call(kernel, **{name: torch.zeros(shape, dtype=torch.long)})
    with pytest.raises(TypeError, match=name):
        _call(kernel, **{name: torch.zeros(shape).numpy()})


@pytest.mark.parametrize(("kernel", "name"), FLAG_ARGUMENTS)
def test_bool_and_float_flags_agree(kernel, name):
    shape = KERNELS[kernel][1]()[name].shape
    flags = torch.arange(torch.Size(shape).numel()).reshape(shape) % 3 == 0
    ones = torch.ones(shape)
    as_bool = _call(kernel, rewards=ones, **{name: flags})
    as_float = _call(kernel, rewards=ones, **{name: flags.double()})
    torch.testing.assert_close(as_float, as_bool, rtol=0, atol=0)


GAE_ARRAYS = ["values", "next_values", "terminated", "truncated"]


@pytest.mark.parametrize(
    ("kernel", "name"),
    [("discounted_returns", "dones"), ("td_target", "next_values"), ("td_target", "terminated")]
    + [("gae", name) for name in GAE_ARRAYS],
)
@pytest.mark.parametrize("shape_change", ["column", "transposed", "longer", "flat"])
def test_shapes_must_match_rewards_exactly(kernel, name, shape_change):
    """Nothing is broadcast: ``[T, 1]`` against ``[T, N]`` is an error, not a copy."""
    good = KERNELS[kernel][1]()[name]
    if good.dim() == 1:
        shapes = {"column": (T, 1), "transposed": (1, T), "longer": (T + 1,), "flat": ()}
    else:
        shapes = {"column": (T, 1), "transposed": (N, T), "longer": (T + 1, N), "flat": (T * N,)}
    bad = torch.zeros(shapes[shape_change], dtype=good.dtype)
    with pytest.raises(ValueError, match=name):
        _call(kernel, **{name: bad})


@pytest.mark.parametrize("kernel", ["discounted_returns", "gae"])
@pytest.mark.parametrize("shape", [(T,), (T, N, 1), ()])
def test_rewards_must_be_a_matrix(kernel, shape):
    with pytest.raises(ValueError, match="rewards"):
        _call(kernel, rewards=torch.zeros(shape))


def test_td_target_rewards_must_be_a_vector():
    with pytest.raises(ValueError, match="rewards"):
        _call("td_target", rewards=torch.zeros(T, 1))


@pytest.mark.parametrize(
    ("kernel", "name"),
    [
        ("discounted_returns", "rewards"),
        ("gae", "values"),
        ("gae", "next_values"),
        ("td_target", "next_values"),
    ],
)
def test_arguments_on_different_devices_are_rejected(kernel, name):
    """A meta tensor stands in for a second device, so the check needs no GPU."""
    shape = KERNELS[kernel][1]()[name].shape
    with pytest.raises(ValueError, match=f"{name} on meta"):
        _call(kernel, **{name: torch.zeros(shape, device="meta")})


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_output_has_the_rewards_dtype_and_shape(kernel, dtype):
    args = KERNELS[kernel][1]()
    rewards = torch.ones_like(args["rewards"], dtype=dtype)
    out = _call(kernel, rewards=rewards)
    assert out.dtype == dtype
    assert out.shape == rewards.shape


@pytest.mark.parametrize("kernel", KERNELS)
def test_inputs_are_not_modified(kernel):
    generator = torch.Generator().manual_seed(0)
    args = KERNELS[kernel][1]()
    for name, value in args.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            if name in ("dones", "terminated", "truncated"):
                args[name] = (torch.rand(value.shape, generator=generator) < 0.3).to(value.dtype)
            else:
                args[name] = torch.randn(value.shape, generator=generator)
    copies = {k: v.clone() for k, v in args.items() if isinstance(v, torch.Tensor)}
    KERNELS[kernel][0](**args)
    for name, copy in copies.items():
        assert torch.equal(args[name], copy), f"{kernel} modified {name}"


def test_mixed_float_dtypes_follow_rewards():
    """float64 values with float32 rewards: the result is float32, as for td_target."""
    out = _call("gae", values=torch.ones(T, N, dtype=torch.float64))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[-1], torch.full((N,), -1.0))


@pytest.mark.parametrize("kernel", ["discounted_returns", "gae"])
@pytest.mark.parametrize("envs", [0, 1, N])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_empty_rollout_gives_an_empty_result(kernel, envs, dtype):
    """T = 0: no steps, no returns or advantages ([0, N]), rather than an IndexError."""
    empty = torch.zeros(0, envs, dtype=dtype)
    flags = torch.zeros(0, envs, dtype=torch.bool)
    if kernel == "gae":
        result = gae(empty, empty, empty, flags, flags, 0.9, 0.95)
    else:
        result = discounted_returns(empty, flags, 0.9)
    assert result.shape == (0, envs)
    assert result.dtype == dtype


def test_td_target_empty_batch_gives_an_empty_result():
    result = td_target(torch.zeros(0), torch.zeros(0), torch.zeros(0, dtype=torch.bool), 0.9)
    assert result.shape == (0,)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("gamma", [np.float32(0.9), np.float16(0.5), np.array(0.9), np.int64(1)])
def test_numpy_scalars_are_numbers(kernel, gamma):
    """A float32 gamma is as good as a Python float (it was refused while float64 passed)."""
    assert torch.equal(_call(kernel, gamma=gamma), _call(kernel, gamma=float(gamma)))
    if kernel == "gae":
        assert torch.equal(_call(kernel, lam=gamma), _call(kernel, lam=float(gamma)))


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("gamma", [np.bool_(True), np.complex64(0.5), np.str_("0.9")])
def test_numpy_bools_complex_and_strings_are_refused(kernel, gamma):
    with pytest.raises(TypeError, match="gamma"):
        _call(kernel, gamma=gamma)


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("gamma", [np.float32(1.5), np.float32("nan"), np.float64(-0.1)])
def test_numpy_scalars_outside_unit_interval_are_rejected(kernel, gamma):
    with pytest.raises(ValueError, match="gamma must be in"):
        _call(kernel, gamma=gamma)
