"""Deprecated: moved to ``benchmark.api.padding`` (this path re-exports it for one release)."""

import warnings

from benchmark.api.padding import has_padding, on_valid_steps  # noqa: F401

warnings.warn("benchmark.padding is deprecated: import from benchmark.api.padding", DeprecationWarning, stacklevel=2)
