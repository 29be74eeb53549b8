"""Baseline models and reference rows, all behind the same Model interface as rlmem."""
