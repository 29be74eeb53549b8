"""Builders shared by tests: HDF5 files in the generic layout and fixture records."""

from __future__ import annotations

import json

import h5py
import numpy as np


def write_generic(path, n_seq=12, T=(20, 30), k=2, modalities=(("audio", 3), ("face", 2)), splits=None, seed=0,
                  mutate=None):
    """Write a valid generic-layout file; ``mutate(h5)`` may then break it on purpose."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as h5:
        h5.attrs["target_names"] = [f"y{j}" for j in range(k)]
        for i in range(n_seq):
            n = int(rng.integers(T[0], T[1] + 1))
            g = h5.create_group(f"s{i:02d}")
            feats = g.create_group("features")
            x = None
            for m, d in modalities:
                x = rng.normal(size=(n, d))
                feats[m] = x
            g["targets"] = np.tanh(x[:, :1] + 0.1 * rng.normal(size=(n, k)))
        if splits is not None:
            h5.attrs["splits"] = json.dumps(splits)
        if mutate is not None:
            mutate(h5)
    return path
