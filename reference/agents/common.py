"""The former home of what every agent shares, kept as re-exports of the modules it was split
into: :mod:`~drlspec.agents.config`, :mod:`~drlspec.agents.seeding`,
:mod:`~drlspec.agents.environments`, :mod:`~drlspec.agents.guards`,
:mod:`~drlspec.agents.evaluation`, :mod:`~drlspec.agents.files` and
:mod:`~drlspec.agents.run_folder`.

It stays because checkpoints written before the split pickle their ``EpisodeTracker`` as
``drlspec.agents.common.EpisodeTracker`` (resuming such a run imports this module), and because
code outside the agents (the regression conftest, the harness) imports the file helpers from
here. New code imports from the modules themselves.
"""

from drlspec.agents.config import (
    BaseConfig,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
)
from drlspec.agents.environments import (
    EpisodeTracker,
    check_spaces,
    make_vector_env,
    start_environments,
    true_next_observations,
)
from drlspec.agents.evaluation import evaluate_policy
from drlspec.agents.files import atomic_write_bytes, atomic_write_text
from drlspec.agents.guards import NonFiniteError, check_finite
from drlspec.agents.run_folder import Run
from drlspec.agents.seeding import restore_rng_state, rng_state, seed_everything

__all__ = [
    "BaseConfig",
    "ConfigError",
    "EpisodeTracker",
    "NonFiniteError",
    "Run",
    "apply_overrides",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_finite",
    "check_spaces",
    "config_from_dict",
    "config_to_dict",
    "evaluate_policy",
    "make_vector_env",
    "restore_rng_state",
    "rng_state",
    "seed_everything",
    "start_environments",
    "true_next_observations",
]
