"""Each agent's Config range-checks the fields it declares (after the base class's own)."""

from __future__ import annotations

import dataclasses

import pytest

from drlspec.agents import actor_critic, dqn, ppo, reinforce, trpo
from drlspec.agents.config import BaseConfig, ConfigError, apply_overrides

CONFIGS = [dqn.Config, reinforce.Config, actor_critic.Config, trpo.Config, ppo.Config]


@pytest.mark.parametrize("config_class", CONFIGS)
def test_base_fields_are_checked_for_every_agent(config_class):
    """The base class's fields keep their rules in every subclass; the seed is one that numpy,
    torch and gymnasium all take: an integer in [0, 2**64 - 1]."""
    with pytest.raises(ConfigError, match=r"total_steps must be > 0, got 0"):
        config_class(total_steps=0)
    with pytest.raises(ConfigError, match=r"eval_interval must be >= 0, got -1"):
        config_class(eval_interval=-1)
    with pytest.raises(ConfigError, match=r"seed must lie in \[0, 2\*\*64 - 1\], got -3"):
        config_class(seed=-3)
    with pytest.raises(
        ConfigError, match=r"seed must lie in \[0, 2\*\*64 - 1\], got 18446744073709551616 "
    ):
        config_class(seed=2**64)
    with pytest.raises(ConfigError, match=r"seed must be an integer, got '1'"):
        config_class(seed="1")
    with pytest.raises(ConfigError, match=r"seed must be an integer, got True"):
        config_class(seed=True)
    assert config_class(seed=0).seed == 0
    assert config_class(seed=2**64 - 1).seed == 2**64 - 1
    assert config_class(eval_interval=0).eval_interval == 0


@pytest.mark.parametrize(
    ("config_class", "field", "value", "message"),
    [
        (dqn.Config, "gamma", 1.5, r"gamma must lie in \[0, 1\], got 1.5"),
        (dqn.Config, "per_eps", -1.0, r"per_eps must be >= 0, got -1.0"),
        (dqn.Config, "batch_size", 0, r"batch_size must be > 0, got 0"),
        (dqn.Config, "tau", 0.0, r"tau must be > 0 \(tau = 0 never updates the target network\)"),
        (dqn.Config, "hidden_sizes", (64, 0), r"hidden_sizes must be positive widths"),
        (reinforce.Config, "value_lr", 0.0, r"value_lr must be > 0, got 0.0"),
        (actor_critic.Config, "max_grad_norm", -0.5, r"max_grad_norm must be >= 0, got -0.5"),
        (trpo.Config, "backtrack", 2.0, r"backtrack must lie in \[0, 1\], got 2.0"),
        (trpo.Config, "damping", -0.1, r"damping must be >= 0, got -0.1"),
        (ppo.Config, "gae_lambda", -0.1, r"gae_lambda must lie in \[0, 1\], got -0.1"),
        (ppo.Config, "clip_eps", -0.2, r"clip_eps must be >= 0, got -0.2"),
        (ppo.Config, "target_kl", 0.0, r"target_kl must be > 0, got 0.0"),
    ],
)
def test_each_agent_checks_its_own_fields(config_class, field, value, message):
    with pytest.raises(ConfigError, match=message):
        config_class(**{field: value})


@pytest.mark.parametrize("config_class", [reinforce.Config, actor_critic.Config, ppo.Config])
def test_log_std_init_may_be_any_number(config_class):
    assert config_class(log_std_init=-2.0).log_std_init == -2.0


def test_the_first_bad_field_in_field_order_is_reported():
    """The base fields are checked before the agent's own, each group in declaration order."""
    with pytest.raises(ConfigError, match=r"^checkpoint_interval must be > 0"):
        ppo.Config(checkpoint_interval=0, gamma=2.0)
    with pytest.raises(ConfigError, match=r"^gamma must lie in"):
        ppo.Config(gamma=2.0, clip_eps=-1.0)
    with pytest.raises(ConfigError, match=r"^gamma must lie in"):
        dqn.Config(gamma=2.0, tau=0.0)


def test_the_base_class_does_not_check_fields_it_does_not_declare():
    """A subclass field without a check of its own is not checked by the base class."""

    @dataclasses.dataclass
    class Unchecked(BaseConfig):
        gamma: float = 5.0

    assert Unchecked().gamma == 5.0


@pytest.mark.parametrize(
    ("config_class", "values", "message"),
    [
        (dqn.Config, {"batch_size": 65, "buffer_size": 64}, r"^batch_size \(65\) is larger than"),
        (
            dqn.Config,
            {"total_steps": 1000, "learning_starts": 1000},
            r"^learning_starts \(1000\) must be below total_steps \(1000\)",
        ),
        (
            dqn.Config,
            {"total_steps": 1003, "learning_starts": 1000},
            r"^no gradient step within total_steps \(1003\).*i\.e\. step 1004$",
        ),
        (
            ppo.Config,
            {"num_envs": 2, "num_steps": 8, "minibatch_size": 17},
            r"^minibatch_size \(17\) is larger than one rollout \(num_envs 2 x num_steps 8 = 16",
        ),
        (
            trpo.Config,
            {"num_envs": 2, "num_steps": 8, "minibatch_size": 17},
            r"^minibatch_size \(17\) is larger than one rollout",
        ),
    ],
)
def test_combinations_that_cannot_learn_are_refused(config_class, values, message):
    """Checked after every field's own range, on the values as a whole."""
    with pytest.raises(ConfigError, match=message):
        config_class(**values)


def test_a_field_out_of_range_is_reported_before_a_combination():
    """train_frequency = 0 is named as such, not as a combination that never updates."""
    with pytest.raises(ConfigError, match=r"^train_frequency must be > 0"):
        dqn.Config(train_frequency=0, total_steps=10)
    with pytest.raises(ConfigError, match=r"^minibatch_size must be > 0"):
        ppo.Config(minibatch_size=0)


def test_dqn_first_update_step_is_where_the_loop_first_learns():
    """first_update_step: past learning_starts, a full batch stored, a train_frequency tick."""
    assert dqn.first_update_step(dqn.Config()) == 1004
    assert dqn.first_update_step(dqn.Config(learning_starts=0, batch_size=1)) == 4
    config = dqn.Config(learning_starts=10, batch_size=200, train_frequency=8)
    assert dqn.first_update_step(config) == 200


def test_apply_overrides_applies_changes_and_assignments_at_once():
    """Neither a change alone (total_steps=240 against learning_starts=1000) nor the default
    is checked: only the result."""
    config = apply_overrides(dqn.Config(), ["learning_starts=200"], total_steps=240)
    assert (config.total_steps, config.learning_starts) == (240, 200)
    assert apply_overrides(dqn.Config(), ["total_steps=5000"], total_steps=240).total_steps == 5000
