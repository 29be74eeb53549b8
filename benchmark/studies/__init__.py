"""Studies built on the harness: equal random-search tuning and ablations (their catalogues as data)."""
