"""Property-based tests of the kernel contracts, one module per contract (``test_<name>.py``)."""
