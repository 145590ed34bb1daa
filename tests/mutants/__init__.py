"""Deliberately wrong implementations, one module per contract, each named by its bug.

Every public function (or class) of ``tests/mutants/<contract>.py`` is a mutant
that ``drlspec verify <contract>`` must reject (tests/test_mutants.py). They
are drawn from mistakes real RL code makes; each docstring says where.
"""
