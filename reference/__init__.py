"""drlspec reference: readable reference implementations of deep-RL kernels and the harness that verifies other implementations against their contracts."""

__version__ = "0.1.0"
