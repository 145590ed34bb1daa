"""Hypothesis settings profiles, in one place.

``dev`` (the default) is quick enough for the edit-test loop; ``ci`` runs
more examples and prints the reproduction blob of a failure. The profile is
chosen by ``DRLSPEC_HYPOTHESIS_PROFILE`` (tox passes it; ``.ci/run`` sets it to
``ci`` when ``CI=true``). ``deadline=None`` because the first call of a torch
kernel pays one-off dispatch costs that are not the property's business.
"""

from __future__ import annotations

import os

from hypothesis import settings

ENVIRONMENT_VARIABLE = "DRLSPEC_HYPOTHESIS_PROFILE"

settings.register_profile("dev", max_examples=60, deadline=None)
# As many as dev, not more: the default CI run has a 12-minute budget on two cores (issue 19);
# every mutant is rejected within these 60.
settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True)


def profile_from_environment() -> str:
    """The profile named by the environment (default ``dev``)."""
    name = os.environ.get(ENVIRONMENT_VARIABLE, "dev")
    if name not in ("dev", "ci"):
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be 'dev' or 'ci', got {name!r}")
    return name


def load_from_environment() -> str:
    """Load the profile named by the environment (default ``dev``) and return its name."""
    name = profile_from_environment()
    settings.load_profile(name)
    return name
