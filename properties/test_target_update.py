"""Properties of ``target_update``: ``target <- tau * online + (1 - tau) * target``, in place.

For every parameter; floating-point buffers (batch-norm statistics) are either averaged with
the same ``tau`` or copied (stable-baselines3's DQN copies them at every soft update: both are
accepted, buffer by buffer); integer buffers (``num_batches_tracked``) are copied or left as
they were (batch norm in eval mode never reads the counter). ``tau = 1``
is the hard copy, exact to the bit. The online network is not modified, and afterwards the
networks share no storage.

Spec: Update contracts. Seed: 1、DQN / 目标网络 (``θ⁻ ← θ`` every C steps).

Inputs (properties/update_strategies.py): two float64 tanh MLPs of one architecture with
independent weights, half of them behind a batch norm whose statistics differ; tau at 1, at
0.5, at 0.005 (SB3's default soft update) and anywhere in (0, 1]. Tolerance: each element
is ``tau o + (1 - tau) t`` within ``FLOAT32_RTOL (|o| + |t|)`` (lerp and the two-product
form round differently; float32 arithmetic is accepted as for the kernels).
"""

from __future__ import annotations

import copy

import torch
from hypothesis import given
from hypothesis import strategies as st

from drlspec.properties.assertions import FLOAT32_RTOL, assert_close
from drlspec.properties.update_strategies import network_pairs

CONTRACT = "target_update"

_TAUS = st.one_of(
    st.sampled_from([1.0, 0.5, 0.005]),
    st.floats(0.0, 1.0, exclude_min=True),
)


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, copied to the CPU."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def _tensors(module: torch.nn.Module) -> list[tuple[str, torch.Tensor]]:
    return list(module.named_parameters()) + list(module.named_buffers())


def _update(impl, pair: dict, tau: float, device: str) -> tuple[torch.nn.Module, ...]:
    online = copy.deepcopy(pair["online"]).to(device)
    target = copy.deepcopy(pair["target"]).to(device)
    impl(online, target, tau)
    return online, target


def _expected(pair: dict, tau: float) -> dict[str, torch.Tensor]:
    online, target = _state(pair["online"]), _state(pair["target"])
    out = {}
    for name, t in target.items():
        o = online[name]
        if not t.is_floating_point():
            out[name] = o.clone()
        else:
            out[name] = tau * o.double() + (1.0 - tau) * t.double()
    return out


def _float_buffers(module: torch.nn.Module) -> set[str]:
    """Names of the floating-point buffers (may be averaged or copied)."""
    return {name for name, b in module.named_buffers() if b.is_floating_point()}


@given(pair=network_pairs(buffers=None), tau=_TAUS)
def test_matches_definition(impl, device, pair, tau):
    """The target becomes tau*online + (1-tau)*target, parameters and float buffers.

    A float buffer may instead become the online one (a copy, stable-baselines3's rule for
    batch-norm statistics); integer buffers (num_batches_tracked) become the online network's."""
    _, target = _update(impl, pair, tau, device)
    after = _state(target)
    online, before = _state(pair["online"]), _state(pair["target"])
    copied_ok = _float_buffers(pair["target"])
    for name, want in _expected(pair, tau).items():
        if not want.is_floating_point():
            # A counter (num_batches_tracked) is copied or left alone: batch norm in eval mode,
            # as a target network is used, never reads it (stable-baselines3 leaves it).
            assert torch.equal(after[name], want) or torch.equal(after[name], before[name]), (
                f"target buffer {name} is neither the online one nor its own old value"
            )
            continue
        if name in copied_ok and torch.equal(after[name], online[name]):
            continue
        tolerance = FLOAT32_RTOL * (online[name].double().abs() + before[name].double().abs())
        assert_close(
            after[name],
            want,
            what=f"target.{name} after target_update(tau={tau!r})",
            tolerance=tolerance + 2.0**-1000,
        )


@given(pair=network_pairs(buffers=None))
def test_hard_copy_is_exact(impl, device, pair):
    """tau = 1 copies every parameter and buffer exactly (bit for bit).

    An integer buffer (a batch-norm counter) may instead keep its own value."""
    _, target = _update(impl, pair, 1.0, device)
    after, online = _state(target), _state(pair["online"])
    before = _state(pair["target"])
    for name, value in online.items():
        kept_counter = not value.is_floating_point() and torch.equal(after[name], before[name])
        if not torch.equal(after[name], value) and not kept_counter:
            diff = (after[name].double() - value.double()).abs().max().item()
            raise AssertionError(
                f"target.{name} after a hard copy differs from online.{name} (largest "
                f"difference {diff:.3g}): tau = 1 must copy exactly"
            )


@given(pair=network_pairs(buffers=None), tau=_TAUS)
def test_online_network_unchanged(impl, device, pair, tau):
    """The online network's parameters and buffers are not modified."""
    online, _ = _update(impl, pair, tau, device)
    after, before = _state(online), _state(pair["online"])
    for name, value in before.items():
        assert torch.equal(after[name], value), f"target_update modified online.{name}"


@given(pair=network_pairs(buffers=None), tau=_TAUS)
def test_no_shared_storage_afterwards(impl, device, pair, tau):
    """Afterwards the networks share no storage: changing one never changes the other.

    ``target_param.data = param.data`` would make them share it."""
    online, target = _update(impl, pair, tau, device)
    before_online = _state(online)
    before_target = _state(target)
    with torch.no_grad():
        for _, tensor in _tensors(target):
            tensor.add_(1)
    for name, value in _state(online).items():
        assert torch.equal(value, before_online[name]), (
            f"changing the target network changed online.{name}: the two share storage"
        )
    with torch.no_grad():
        for _, tensor in _tensors(online):
            tensor.add_(1)
    after_target = _state(target)
    for name, value in before_target.items():
        assert torch.equal(after_target[name], value + 1), (
            f"changing the online network changed target.{name}: the two share storage"
        )


@given(pair=network_pairs(buffers=None), tau=st.floats(0.0, 1.0, exclude_min=True))
def test_repeated_updates_converge_geometrically(impl, device, pair, tau):
    """Two updates leave (1 - tau)**2 of the distance to the online values.

    The target keeps its own tensors between calls."""
    online = copy.deepcopy(pair["online"]).to(device)
    target = copy.deepcopy(pair["target"]).to(device)
    impl(online, target, tau)
    impl(online, target, tau)
    after, start, goal = _state(target), _state(pair["target"]), _state(pair["online"])
    keep = (1.0 - tau) ** 2
    copied_ok = _float_buffers(pair["target"])
    for name, t in start.items():
        if not t.is_floating_point():
            continue
        if name in copied_ok and torch.equal(after[name], goal[name]):
            continue
        want = goal[name].double() + keep * (t.double() - goal[name].double())
        tolerance = 2 * FLOAT32_RTOL * (goal[name].double().abs() + t.double().abs())
        assert_close(
            after[name],
            want,
            what=f"target.{name} after two updates with tau={tau!r}",
            tolerance=tolerance + 2.0**-1000,
        )
