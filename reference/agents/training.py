"""The scaffolding every agent's ``train()`` shares, written once.

:class:`Training` seeds everything, starts the environments (fresh, or those a checkpoint
pickled mid-episode), restores a checkpoint on resume, builds the checkpoint dict and plays the
periodic evaluation; :meth:`Training.tick` is the loop's once-per-iteration call into
:meth:`drlspec.agents.run_folder.Run.tick`. An agent's ``train()`` keeps only its algorithm::

    training = Training(config, run, resume, num_envs)  # seeds, then the environments
    agent = Agent(config, training.observation_space, training.action_space)
    optimizer = torch.optim.Adam(...)
    saved = training.checkpoint(agent, loop_state, optimizer=optimizer)
    step = training.start_step
    while step < config.total_steps:
        ...  # the algorithm
        training.tick(step)
    training.close()

The order is part of the contract: the seeds are set before the environments are reset and the
networks initialised, and a resumed run loads the random states *after* the networks were
built, so that it continues with exactly the numbers an uninterrupted run would draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drlspec.agents.config import BaseConfig
from drlspec.agents.environments import start_environments
from drlspec.agents.evaluation import evaluate_policy
from drlspec.agents.run_folder import Run
from drlspec.agents.seeding import restore_rng_state, rng_state, seed_everything

__all__ = ["Training"]


class Training:
    """Seeding, environments, checkpoint and resume, evaluation: around one agent's loop.

    ``resume``: a checkpoint written by the same loop (``None`` for a fresh run). ``rng`` is the
    numpy generator the loop draws from; ``envs``, ``carry`` and ``tracker`` the
    environments, where collection continues (:class:`drlspec.collection.CollectorCarry`: the
    current observations, and which episodes just ended) and the episode tracker;
    ``start_step`` the step the loop starts from (0, or the checkpoint's).
    """

    def __init__(
        self, config: BaseConfig, run: Run, resume: dict[str, Any] | None, num_envs: int
    ) -> None:
        self.config = config
        self.run = run
        self.resume = resume
        self.rng = seed_everything(config.seed)
        self.envs, self.carry, self.tracker, self.start_step = start_environments(
            config, num_envs, resume
        )
        self.agent: Any = None
        self._loop_state: Callable[[], dict[str, Any]] = dict
        self._optimizers: dict[str, Any] = {}

    @property
    def observation_space(self) -> Any:
        """One environment's observation space (what the agent is built for)."""
        return self.envs.single_observation_space

    @property
    def action_space(self) -> Any:
        """One environment's action space."""
        return self.envs.single_action_space

    def checkpoint(
        self, agent: Any, loop_state: Callable[[], dict[str, Any]], **optimizers: Any
    ) -> dict[str, Any] | None:
        """Say what a checkpoint holds; on resume, restore it.

        A checkpoint holds ``loop_state()`` (the loop's own state, stored as it is: the
        environments mid-episode, a replay buffer, counters), ``agent.state_dict()`` under
        ``"agent"``, each optimizer's ``state_dict()`` under its keyword, and every random
        state under ``"rng"``. On resume the agent, the optimizers and the random states are
        loaded, and the checkpoint is returned for the loop to take its own state back from;
        a fresh run returns ``None``.
        """
        self.agent = agent
        self._loop_state = loop_state
        self._optimizers = optimizers
        if self.resume is None:
            return None
        agent.load_state_dict(self.resume["agent"])
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(self.resume[name])
        restore_rng_state(self.rng, self.resume["rng"])
        # An evaluation that Ctrl-C stopped at the checkpoint's step is played now, with the
        # agent of that step, as the uninterrupted run played it (it draws no random number).
        self.run.catch_up(self.resume, self.evaluate)
        return self.resume

    def snapshot(self) -> dict[str, Any]:
        """The checkpoint dict: everything needed to continue exactly (see :meth:`checkpoint`)."""
        return {
            **self._loop_state(),
            "agent": self.agent.state_dict(),
            **{name: optimizer.state_dict() for name, optimizer in self._optimizers.items()},
            "rng": rng_state(self.rng),
        }

    def evaluate(self) -> list[float]:
        """Returns of ``eval_episodes`` deterministic episodes, seeded apart from training's;
        a Ctrl-C abandons it (``KeyboardInterrupt``)."""
        config = self.config
        return evaluate_policy(
            self.agent.act,
            config.env_id,
            config.eval_episodes,
            config.seed + 10_000,
            stop=lambda: self.run.interrupt_requested,
        )

    def tick(self, step: int) -> None:
        """Once per loop iteration, at a consistent point: checkpoint, evaluation, progress."""
        self.run.tick(step, self.snapshot, self.evaluate)

    def close(self) -> None:
        """Checkpoint the last step (before the final evaluation, which Ctrl-C may stop), then
        close the environments. A Ctrl-C since the last tick stops here, at the same step."""
        try:
            if self.run.interrupt_requested:
                self.run.stop(self.snapshot)
            if self.run.saved_step != self.run.step:
                self.run.save(self.snapshot())
        finally:
            self.envs.close()
