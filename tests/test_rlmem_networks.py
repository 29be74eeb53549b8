"""The memory network's modules: the fusion encoder skips padding, the slot critic ignores slot order."""

import pytest
import torch
from rlmem_fixtures import fit, tiny_task

from rlmem.model import RLMemModel
from rlmem.networks import FusionEncoder
from rlmem.options import RLMemOptions


def test_fusion_encoder_encodes_real_segments_only():
    torch.manual_seed(0)
    enc = FusionEncoder(3, 5)
    segments = torch.randn(2, 4, 6, 3)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    out = enc(segments, mask)
    alone = enc.lstm(segments[1, :2])[1][0][-1]  # the short sequence's two segments, encoded on their own
    torch.testing.assert_close(out[1, :2], alone)
    assert out[1, 2:].abs().max() == 0  # padded segments stay zero; they never reach the LSTM
    torch.testing.assert_close(enc(segments, torch.ones(2, 4, dtype=torch.bool)), enc(segments))
    assert enc(segments, torch.zeros(2, 4, dtype=torch.bool)).abs().max() == 0  # a window past every end


@pytest.mark.slow
def test_slot_critic_ignores_which_slot_holds_what():
    from rlmem.networks import SlotCritic

    torch.manual_seed(0)
    critic = SlotCritic(5, 4, 3, 16)
    x, memory = torch.randn(6, 5), torch.randn(6, 4, 3)
    shuffled = memory[:, torch.tensor([2, 0, 3, 1])]
    assert torch.allclose(critic(x, memory), critic(x, shuffled), atol=1e-6)
    assert not torch.allclose(critic(x, memory), critic(x, memory + 1.0))  # but it does read the contents
    task, data, train, val, test = tiny_task()
    model = RLMemModel(RLMemOptions(critic="slots", warmup=50, rl_batch_size=16), data.spec, seed=0)
    assert isinstance(model.ddpg.critic, SlotCritic)
    fit(model, task, train, val, epochs=1)
    assert model.ddpg.updates > 0
    with pytest.raises(ValueError, match="critic must be one of mlp, slots"):
        RLMemModel(RLMemOptions(critic="gnn"), data.spec, seed=0)
