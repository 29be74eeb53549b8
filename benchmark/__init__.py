"""rlbench harness: CLI, registries, runner, records, leaderboards.

Importing this package is cheap: torch is imported only when a model is built.
"""

__version__ = "0.1.0"
