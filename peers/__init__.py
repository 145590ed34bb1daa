"""Adapters that expose peers' kernels (stable-baselines3, torchrl) as drlspec contracts.

Each adapter translates the contract's arguments into the peer's own
conventions as the peer's training loop would produce them, calls the peer's
code unchanged, and translates the result back. ``python peers/run.py`` (or
``tox -e peers``) verifies every adapter; docs/peers.md records the verdicts
and explains each difference.

Every peer adapter lives here, once: the contract adapters (``sb3_gae``,
``torchrl_gae``, ``torchrl_returns``), what they share (``torchrl_layout``), and
the benchmark side of the same peers (``benchmarks``: the preparers that
``regression/benchmarks`` times, imported from there as ``peers.benchmarks``).
"""
