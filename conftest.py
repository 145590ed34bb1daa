"""Root conftest: the drlspec pytest plugin (``--impl``, ``--backend``, ``--device``)."""

pytest_plugins = ["drlspec.harness.pytest_plugin"]
