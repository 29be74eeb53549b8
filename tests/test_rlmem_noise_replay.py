"""Exploration noise and replay: seeded, reset, windows of consecutive steps."""

import torch

from rlmem.noise import GaussianNoise, OrnsteinUhlenbeckNoise
from rlmem.replay import TrajectoryReplay


def test_noise_and_replay_are_seeded_and_reset():
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(GaussianNoise(0.05, g1)((4, 2)), GaussianNoise(0.05, g2)((4, 2)))
    assert 0.03 < GaussianNoise(0.05, torch.Generator().manual_seed(0))((10000,)).std() < 0.07
    ou = OrnsteinUhlenbeckNoise(0.2, torch.Generator().manual_seed(0))
    ou((3,))
    ou.reset()
    assert ou.state is None
    # a ring of 3 one-step chunks: the oldest chunks are overwritten, and the same seed draws the same windows
    buf = TrajectoryReplay(3, 1, {"x": (), "memory": (), "action": (), "target": ()}, torch.Generator().manual_seed(0))

    def chunks(values):
        v = torch.tensor(values, dtype=torch.float32)[:, None].repeat(1, 2)
        return dict(x=v, target=v, memory=v[:, :1], action=v[:, :1], valid=torch.ones(len(values), 2, dtype=torch.bool))

    assert buf.add(**chunks([0, 1])) == 2 and len(buf) == 2
    assert buf.add(**chunks([2, 3, 4])) == 3 and len(buf) == 3 and buf.added == 5
    assert sorted(buf.storage["x"][:, 0].tolist()) == [2, 3, 4]
    s1 = buf.sample(16, 1)
    buf.generator.manual_seed(0)
    assert torch.equal(s1["x"], buf.sample(16, 1)["x"]) and set(s1["x"][:, 0].tolist()) <= {2.0, 3.0, 4.0}


def test_trajectory_replay_samples_windows_of_consecutive_steps():
    from rlmem.replay import TrajectoryReplay

    replay = TrajectoryReplay(100, 5, {"x": (1,), "memory": (1, 1), "action": (1,), "target": (1,)},
                              torch.Generator().manual_seed(0))
    steps = torch.arange(6, dtype=torch.float32)
    # sequence a: a full chunk followed by more (the state after it, 5, is stored); b: ends after 3 steps
    x = torch.stack([steps, steps + 100]).unsqueeze(-1)
    valid = torch.tensor([[True] * 6, [True, True, True, False, False, False]])
    added = replay.add(x=x, target=x, valid=valid, memory=torch.zeros(2, 5, 1, 1), action=x[:, :5])
    assert added == 8 and len(replay) == 8
    w = replay.sample(400, 3)
    start = w["x"][:, 0, 0]
    for k in range(4):
        ok = w["valid"][:, k]
        assert torch.all(w["x"][ok, k, 0] == start[ok] + k)  # consecutive steps of one chunk
    assert torch.all(w["valid"][start >= 100, :][:, 0]) and not w["valid"][start == 102, 1].any()  # b ended
    late = start == 4  # a's last stored step: its window reaches the state after the chunk, then stops
    assert torch.all(w["valid"][late, 1]) and torch.all(w["x"][late, 1, 0] == 5) and not w["valid"][late, 2].any()
    assert not w["step_valid"][late, 1].any()  # that state has no stored write
    assert {int(s) % 100 for s in start.tolist()} == {0, 1, 2, 3, 4}
