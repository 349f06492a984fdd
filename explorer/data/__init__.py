"""Dataset recipes: each module turns a spec argument into a PairSet (no UI imports).

The registry of prefixes lives in :mod:`explorer.sources` (``DATASETS``).
"""
