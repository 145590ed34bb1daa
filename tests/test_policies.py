"""Tests of the policy heads and the value network (reference/policies.py).

Statistical tests use a fixed ``torch.Generator`` seed, so they are deterministic; their
tolerances are stated in standard errors computed from the sample, with the false-alarm rate
a fresh seed would have (normal approximation, Bonferroni over the coordinates compared).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Categorical, Normal

from drlspec.distributions import categorical_kl, gaussian_kl
from drlspec.policies import CategoricalPolicy, GaussianPolicy, ValueNetwork

# Normal two-sided tail at 5: 5.7e-7 per coordinate; at most ~100 coordinates per test.
STANDARD_ERRORS = 5.0


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small kernels: torch's thread pool only adds latency (log_softmax of [100, 4] takes
    milliseconds with 2 threads on a loaded machine, microseconds with 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _observations(batch: int, obs_dim: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, obs_dim, generator=torch.Generator().manual_seed(seed)).double()


def _categorical(obs_dim: int = 3, n_actions: int = 4, hidden=(8,), seed: int = 0):
    torch.manual_seed(seed)
    return CategoricalPolicy(obs_dim, n_actions, hidden).double()


def _gaussian(obs_dim: int = 3, action_dim: int = 2, hidden=(8,), log_std_init=-0.5, seed=0):
    torch.manual_seed(seed)
    return GaussianPolicy(obs_dim, action_dim, hidden, log_std_init=log_std_init).double()


def _flat_grad(output: torch.Tensor, module: torch.nn.Module, **kwargs) -> torch.Tensor:
    grads = torch.autograd.grad(output, list(module.parameters()), **kwargs)
    return torch.cat([g.reshape(-1) for g in grads])


# ---------------------------------------------------------------- categorical policy


def test_categorical_shapes_and_dtypes():
    policy, obs = _categorical(), _observations(5, 3)
    actions = policy.sample(obs, torch.Generator().manual_seed(1))
    assert policy(obs).shape == (5, 4)
    assert actions.shape == (5,) and actions.dtype == torch.long
    assert bool(((actions >= 0) & (actions < 4)).all())
    assert policy.log_prob(obs, actions).shape == (5,)
    assert policy.entropy(obs).shape == (5,)
    assert policy.kl(obs, policy.frozen_outputs(obs)).shape == (5,)


def test_categorical_log_prob_is_normalised_log_softmax():
    """exp(log_prob) over all actions sums to 1 in every state, and equals the softmax."""
    policy, obs = _categorical(n_actions=5), _observations(6, 3)
    table = torch.stack(
        [policy.log_prob(obs, torch.full((6,), a, dtype=torch.long)) for a in range(5)], dim=1
    )
    expected = Categorical(logits=policy(obs)).logits  # normalised log-probabilities
    torch.testing.assert_close(table, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(
        table.exp().sum(dim=1), torch.ones(6, dtype=torch.float64), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8])
def test_categorical_log_prob_accepts_integer_actions(dtype):
    policy, obs = _categorical(), _observations(3, 3)
    actions = torch.tensor([0, 3, 1], dtype=dtype)
    expected = torch.log_softmax(policy(obs), dim=1)[torch.arange(3), actions.long()]
    torch.testing.assert_close(policy.log_prob(obs, actions), expected, rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bool])
def test_categorical_log_prob_rejects_non_integer_actions(dtype):
    """The seed's REINFORCE/Actor-Critic build actions with dtype=torch.float: a TypeError."""
    policy, obs = _categorical(), _observations(3, 3)
    with pytest.raises(TypeError, match="actions"):
        policy.log_prob(obs, torch.tensor([0, 1, 1]).to(dtype))


def test_categorical_log_prob_rejects_column_of_actions_and_out_of_range():
    policy, obs = _categorical(), _observations(3, 3)
    with pytest.raises(ValueError, match=r"actions must have shape \[3\]"):
        policy.log_prob(obs, torch.tensor([[0], [1], [2]]))  # the seed's .view(-1, 1)
    with pytest.raises(ValueError, match=r"actions must lie in \[0, 4\)"):
        policy.log_prob(obs, torch.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"actions must lie"):
        policy.log_prob(obs, torch.tensor([0, -1, 1]))


def test_categorical_rejects_bad_observations():
    policy = _categorical()
    with pytest.raises(ValueError, match="observations"):
        policy(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="observations"):
        policy(torch.zeros(2, 3, dtype=torch.long))


def _set_logits(policy: CategoricalPolicy, logits: list[float]) -> None:
    """Make the policy output ``logits`` in every state (zero last layer, bias = logits)."""
    last = policy.logits_net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(torch.tensor(logits, dtype=last.bias.dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_categorical_extreme_logits_stay_finite(dtype):
    """A probability of e^-1000 underflows to 0, yet its log-probability is exactly -1000 and
    the entropy is finite: log_softmax, never log(prob)."""
    torch.manual_seed(0)
    policy = CategoricalPolicy(3, 3, (8,)).to(dtype)
    _set_logits(policy, [0.0, -1000.0, -1000.0])
    obs = torch.zeros(2, 3, dtype=dtype)
    log_probs = policy.log_prob(obs, torch.tensor([1, 0]))
    torch.testing.assert_close(
        log_probs, torch.tensor([-1000.0, 0.0], dtype=dtype), rtol=1e-6, atol=1e-6
    )
    entropy = policy.entropy(obs)
    assert bool(torch.isfinite(entropy).all()) and bool((entropy >= 0).all())


def test_categorical_entropy_matches_definition_and_uniform_maximum():
    policy, obs = _categorical(n_actions=6), _observations(4, 3)
    torch.testing.assert_close(policy.entropy(obs), Categorical(logits=policy(obs)).entropy())
    _set_logits(policy, [0.25] * 6)
    torch.testing.assert_close(
        policy.entropy(obs), torch.full((4,), math.log(6), dtype=torch.float64)
    )


def test_categorical_sample_reproducible_and_distributed_as_softmax():
    """Frequencies of 40000 draws in one state lie within 5 standard errors of softmax(logits)."""
    policy = _categorical(n_actions=4)
    obs = _observations(1, 3).expand(40_000, 3)
    first = policy.sample(obs, torch.Generator().manual_seed(7))
    again = policy.sample(obs, torch.Generator().manual_seed(7))
    assert torch.equal(first, again)
    probabilities = torch.softmax(policy(obs[:1]), dim=1)[0].detach()
    frequencies = torch.bincount(first, minlength=4).double() / first.numel()
    standard_errors = (probabilities * (1 - probabilities) / first.numel()).sqrt()
    assert bool(((frequencies - probabilities).abs() <= STANDARD_ERRORS * standard_errors).all())


def test_categorical_kl_is_the_contract_and_differentiable():
    """policy.kl(obs, old) = categorical_kl(old logits, current logits), zero at the frozen
    parameters, with a graph to the current parameters only."""
    policy, obs = _categorical(), _observations(6, 3)
    old = policy.frozen_outputs(obs)
    assert not old.requires_grad
    kl = policy.kl(obs, old)
    torch.testing.assert_close(kl, torch.zeros(6, dtype=torch.float64), rtol=0, atol=1e-12)
    with torch.no_grad():
        for parameter in policy.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    kl = policy.kl(obs, old)
    torch.testing.assert_close(kl, categorical_kl(old, policy(obs)))
    assert bool((kl > 0).all())
    gradient = _flat_grad(kl.mean(), policy)
    assert bool(torch.isfinite(gradient).all()) and gradient.abs().max() > 0


def _fisher_categorical(policy: CategoricalPolicy, obs: torch.Tensor) -> torch.Tensor:
    """E_s E_{a~pi} [g g^T], g = grad log pi(a|s), by enumerating the actions."""
    probabilities = torch.softmax(policy(obs), dim=1).detach()
    size = sum(p.numel() for p in policy.parameters())
    fisher = torch.zeros(size, size, dtype=torch.float64)
    for state in range(obs.shape[0]):
        for action in range(policy.n_actions):
            log_prob = policy.log_prob(obs[state : state + 1], torch.tensor([action]))
            g = _flat_grad(log_prob.sum(), policy)
            fisher += probabilities[state, action] * torch.outer(g, g)
    return fisher / obs.shape[0]


def _kl_hessian_vector(policy, obs, old, vector: torch.Tensor) -> torch.Tensor:
    """H v of the mean KL(old || current), by double backward (TRPO's Fisher-vector product)."""
    gradient = _flat_grad(policy.kl(obs, old).mean(), policy, create_graph=True)
    return _flat_grad(gradient @ vector, policy)


def test_kl_hessian_at_old_parameters_is_the_fisher_matrix():
    """At the frozen parameters, the Hessian of the mean KL equals the Fisher information
    E[grad log pi grad log pi^T]: what TRPO's conjugate gradient relies on."""
    policy, obs = _categorical(hidden=(5,)), _observations(4, 3)
    old = policy.frozen_outputs(obs)
    fisher = _fisher_categorical(policy, obs)
    generator = torch.Generator().manual_seed(3)
    for _ in range(3):
        vector = torch.randn(fisher.shape[0], generator=generator, dtype=torch.float64)
        torch.testing.assert_close(
            _kl_hessian_vector(policy, obs, old, vector), fisher @ vector, rtol=1e-9, atol=1e-12
        )
    # and the gradient of the KL vanishes there (the old parameters minimise it)
    gradient = _flat_grad(policy.kl(obs, old).mean(), policy)
    assert gradient.abs().max() < 1e-14


# ---------------------------------------------------------------- gaussian policy


def test_gaussian_shapes_and_state_independent_std():
    policy, obs = _gaussian(log_std_init=-0.7), _observations(5, 3)
    mean, std = policy(obs)
    assert mean.shape == std.shape == (5, 2)
    torch.testing.assert_close(std, torch.full((5, 2), math.exp(-0.7), dtype=torch.float64))
    assert isinstance(policy.log_std, torch.nn.Parameter) and policy.log_std.shape == (2,)
    actions = policy.sample(obs)
    assert actions.shape == (5, 2) and actions.dtype == torch.float64
    assert policy.log_prob(obs, actions).shape == (5,)
    assert policy.entropy(obs).shape == (5,)


def test_gaussian_log_prob_and_entropy_match_normal():
    policy, obs = _gaussian(), _observations(5, 3)
    actions = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    mean, std = policy(obs)
    torch.testing.assert_close(
        policy.log_prob(obs, actions), Normal(mean, std).log_prob(actions).sum(dim=1)
    )
    expected_entropy = (0.5 * math.log(2 * math.pi * math.e) + policy.log_std).sum()
    torch.testing.assert_close(policy.entropy(obs), expected_entropy.expand(5))


def test_gaussian_log_prob_finite_for_tiny_std():
    """std = e^-30: the density of an action 1 away is 0 in floating point, its log is not."""
    policy = _gaussian(action_dim=1, log_std_init=-30.0)
    obs = _observations(2, 3)
    mean, _ = policy(obs)
    log_prob = policy.log_prob(obs, mean.detach() + 1.0)
    expected = -0.5 * math.exp(60.0) + 30.0 - 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(log_prob, torch.full((2,), expected, dtype=torch.float64))


def test_gaussian_rejects_bad_actions_and_arguments():
    policy, obs = _gaussian(), _observations(3, 3)
    with pytest.raises(ValueError, match="actions"):
        policy.log_prob(obs, torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="actions"):
        policy.log_prob(obs, torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="log_std_init"):
        GaussianPolicy(3, 2, log_std_init=float("nan"))
    with pytest.raises(ValueError, match="action_dim"):
        GaussianPolicy(3, 0)


def test_gaussian_sample_reproducible_with_right_moments():
    """Sample mean and standard deviation of 40000 draws are within 5 standard errors."""
    policy = _gaussian(log_std_init=0.3)
    obs = _observations(1, 3).expand(40_000, 3)
    first = policy.sample(obs, torch.Generator().manual_seed(5))
    assert torch.equal(first, policy.sample(obs, torch.Generator().manual_seed(5)))
    mean, std = (x[0].detach() for x in policy(obs[:1]))
    n = first.shape[0]
    assert bool(((first.mean(dim=0) - mean).abs() <= STANDARD_ERRORS * std / math.sqrt(n)).all())
    # the sample std of normal data has standard error std / sqrt(2 n)
    assert bool(((first.std(dim=0) - std).abs() <= STANDARD_ERRORS * std / math.sqrt(2 * n)).all())


def test_gaussian_kl_is_the_contract_and_differentiable():
    policy, obs = _gaussian(), _observations(6, 3)
    old = policy.frozen_outputs(obs)
    assert not old[0].requires_grad and not old[1].requires_grad
    torch.testing.assert_close(
        policy.kl(obs, old), torch.zeros(6, dtype=torch.float64), rtol=0, atol=1e-12
    )
    with torch.no_grad():
        policy.log_std.add_(0.4)
    mean, std = policy(obs)
    kl = policy.kl(obs, old)
    torch.testing.assert_close(kl, gaussian_kl(old[0], old[1], mean, std))
    # only the std moved: per dimension log(s'/s) + s^2/(2 s'^2) - 1/2 with s'/s = e^0.4
    per_dim = 0.4 + 0.5 * math.exp(-0.8) - 0.5
    torch.testing.assert_close(kl, torch.full((6,), 2 * per_dim, dtype=torch.float64))
    gradient = torch.autograd.grad(kl.mean(), policy.log_std)[0]
    torch.testing.assert_close(
        gradient, torch.full((2,), 1.0 - math.exp(-0.8), dtype=torch.float64)
    )


# ---------------------------------------------------------------- value network


def test_value_network_returns_one_value_per_state():
    torch.manual_seed(0)
    network = ValueNetwork(3, (8, 8)).double()
    values = network(_observations(7, 3))
    assert values.shape == (7,)
    with pytest.raises(ValueError, match="observations"):
        network(torch.zeros(7, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="obs_dim"):
        ValueNetwork(0)


# ---------------------------------------------------------------- score-function identity


def _mean_score_statistics(policy, obs, actions, log_prob) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard error of grad log pi(a|s) over the sample, from batch means.

    The sample is split into 200 batches; each batch's mean score is one backward pass of the
    policy's own log_prob, and the 200 batch means are independent and identically
    distributed, so their spread gives the standard error without per-sample gradients.
    """
    batch_means = []
    for obs_batch, action_batch in zip(obs.chunk(200), actions.chunk(200), strict=True):
        batch_means.append(_flat_grad(log_prob(obs_batch, action_batch).mean(), policy))
    stacked = torch.stack(batch_means)
    return stacked.mean(dim=0), stacked.std(dim=0) / math.sqrt(stacked.shape[0])


def _states_repeated(count: int, obs_dim: int) -> torch.Tensor:
    """Four distinct states, each repeated: the identity holds state by state."""
    return _observations(4, obs_dim, seed=11).repeat(count // 4, 1)


def test_score_function_has_zero_mean_categorical():
    """E_{a~pi}[grad log pi(a|s)] = 0 (the identity behind baselines): for 20000 sampled
    actions every coordinate of the mean score is within 5 standard errors of 0, whereas a
    log-probability that skips the normalisation (raw logits) is caught by the same test."""
    policy = _categorical(n_actions=4, hidden=(6,))
    obs = _states_repeated(20_000, 3)
    actions = policy.sample(obs, torch.Generator().manual_seed(13))
    mean, error = _mean_score_statistics(policy, obs, actions, policy.log_prob)
    assert bool((mean.abs() <= STANDARD_ERRORS * error).all()), (mean / error).abs().max()

    def unnormalised(o, a):
        return policy(o).gather(1, a.unsqueeze(1)).squeeze(1)

    mean, error = _mean_score_statistics(policy, obs, actions, unnormalised)
    assert bool((mean.abs() > STANDARD_ERRORS * error).any())  # the test has teeth


def test_score_function_has_zero_mean_gaussian():
    """The same identity for the Gaussian head (mean network and log_std); dropping the
    -log(std) normaliser of the density makes the log_std score's mean 1, and is caught."""
    policy = _gaussian(action_dim=2, hidden=(6,), log_std_init=-0.3)
    obs = _states_repeated(20_000, 3)
    actions = policy.sample(obs, torch.Generator().manual_seed(17))
    mean, error = _mean_score_statistics(policy, obs, actions, policy.log_prob)
    assert bool((mean.abs() <= STANDARD_ERRORS * error).all()), (mean / error).abs().max()

    def unnormalised(o, a):
        mu, std = policy(o)
        return (-0.5 * ((a - mu) / std) ** 2).sum(dim=1)

    mean, error = _mean_score_statistics(policy, obs, actions, unnormalised)
    assert bool((mean.abs() > STANDARD_ERRORS * error).any())


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sample_with_log_prob_is_sample_then_log_prob_to_the_bit(kind, dtype):
    """The collectors' one-forward ``sample_with_log_prob`` gives exactly what ``sample`` and
    then ``log_prob`` give (the same draws from the same generator, the same bits), so that the
    stored behaviour log-probabilities, hence training, do not depend on which is called."""
    policy = (_categorical() if kind == "categorical" else _gaussian()).to(dtype)
    obs = _observations(257, 3).to(dtype)
    actions, log_probs = policy.sample_with_log_prob(obs, torch.Generator().manual_seed(11))
    expected = policy.sample(obs, torch.Generator().manual_seed(11))
    assert torch.equal(actions, expected) and actions.dtype == expected.dtype
    assert torch.equal(log_probs, policy.log_prob(obs, expected).detach())
    assert not log_probs.requires_grad and log_probs.shape == (257,)
