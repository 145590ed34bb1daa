"""Root conftest of this repository's own test run.

The drlspec pytest plugin (``--drlspec-impl``, ``--drlspec-backend``,
``--drlspec-device``) is loaded through its entry point, as in a user's
project. What follows is this repository's own setting, not the plugin's: a
plugin must not change a user's session.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    import torch

    from drlspec.properties import profiles

    profiles.load_from_environment()
    # Small kernels are far slower (and timings noisier) with torch's thread pool,
    # above all with two xdist workers sharing two cores.
    torch.set_num_threads(1)
