"""Each agent's Config range-checks the fields it declares (after the base class's own)."""

from __future__ import annotations

import dataclasses

import pytest

from drlspec.agents import actor_critic, dqn, ppo, reinforce, trpo
from drlspec.agents.config import BaseConfig, ConfigError

CONFIGS = [dqn.Config, reinforce.Config, actor_critic.Config, trpo.Config, ppo.Config]


@pytest.mark.parametrize("config_class", CONFIGS)
def test_base_fields_are_checked_for_every_agent(config_class):
    """The base class's fields keep their rules in every subclass; seed may be any integer."""
    with pytest.raises(ConfigError, match=r"total_steps must be > 0, got 0"):
        config_class(total_steps=0)
    with pytest.raises(ConfigError, match=r"eval_interval must be >= 0, got -1"):
        config_class(eval_interval=-1)
    assert config_class(seed=-3).seed == -3
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
