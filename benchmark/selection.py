"""Deprecated: selection moved to ``benchmark.api`` (this path re-exports it for one release)."""

import warnings

from benchmark.api.selection import CONVERGED, LATE_FRACTION, STILL_IMPROVING, Selector, verdict  # noqa: F401

warnings.warn("benchmark.selection is deprecated: import from benchmark.api", DeprecationWarning, stacklevel=2)
