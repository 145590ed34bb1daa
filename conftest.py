"""Root conftest: the drlspec pytest plugin (``--impl``, ``--backend``, ``--device``)."""

pytest_plugins = ["reference.harness.pytest_plugin"]
