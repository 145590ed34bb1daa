"""Correct implementations written differently from the reference, which the suite must accept.

One module per contract, ``tests/alternatives/<contract>.py``; functions named
``numpy_*`` are verified under ``--backend numpy``.
"""
