"""drlspec reference: readable deep-RL kernels and the harness that verifies others against them."""

__version__ = "0.1.0"
