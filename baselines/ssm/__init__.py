"""State-space and gated linear recurrent baselines on one chunked parallel scan (``scan.py``): S4D, the LRU,
a selective (Mamba-style) block and minGRU, each a mixer in the same residual stack (``network.py``)."""
