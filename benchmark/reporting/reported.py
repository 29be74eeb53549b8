"""Numbers published elsewhere (``benchmark/data/reported.json``): each row with its source and a tag, P (read in
the primary source) or S (secondary, unverified). Tables print them in a block of their own, never mixed
with the measured rows."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


def reported_numbers() -> dict[str, Any]:
    return json.loads(resources.files("benchmark").joinpath("data/reported.json").read_text())
