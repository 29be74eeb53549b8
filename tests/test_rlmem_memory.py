"""rlmem's memory as pure functions: exact write, gated write, read and addressing values."""

import numpy as np
import pytest
import torch

from rlmem.memory import ActionLayout, WriteAction, address, read, write


def test_write_exact_values():
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])  # B=1, N=2, d=2
    action = WriteAction(
        erase=torch.tensor([[1.0, 0.0]]),
        add=torch.tensor([[0.5, -1.0]]),
        write=torch.tensor([[0.25, 0.75]]),
        retain=torch.tensor([[1.0, 0.5]]),
    )
    # slot 0: retain 1 -> [1, 2]; erase (1 - 0.25*[1, 0]) -> [0.75, 2]; add 0.25*[0.5, -1] -> [0.875, 1.75]
    # slot 1: retain .5 -> [1.5, 2]; erase (1 - 0.75*[1, 0]) -> [0.375, 2]; add 0.75*[0.5, -1] -> [0.75, 1.25]
    expected = torch.tensor([[[0.875, 1.75], [0.75, 1.25]]])
    assert torch.allclose(write(memory, action), expected)
    assert torch.equal(memory, torch.tensor([[[1.0, 2.0], [3.0, 4.0]]]))  # pure: input untouched


def test_read_and_address_exact_values():
    memory = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]])
    assert torch.allclose(read(memory, torch.tensor([[0.25, 0.75]])), torch.tensor([[0.25, 1.5]]))
    w = address(memory, torch.tensor([[1.0, 0.0]]), sharpness=2.0)  # cosines 1 and 0
    e2 = float(np.exp(2.0))
    assert torch.allclose(w, torch.tensor([[e2 / (e2 + 1), 1 / (e2 + 1)]]))


def test_action_layout_squash_and_project():
    layout = ActionLayout(slots=3, width=2)
    a = layout.squash(torch.randn(5, layout.size) * 10)
    parts = layout.split(a)
    assert torch.allclose(parts.write.sum(-1), torch.ones(5))
    noisy = a + torch.randn(5, layout.size)
    p = layout.split(layout.project(noisy))
    assert (p.erase >= 0).all() and (p.erase <= 1).all() and (p.add.abs() <= 1).all()
    assert (p.write >= 0).all() and torch.allclose(p.write.sum(-1), torch.ones(5))
    zero = layout.project(torch.cat([torch.zeros(1, 4), -torch.ones(1, 3), torch.zeros(1, 3)], -1))
    assert torch.allclose(layout.split(zero).write, torch.full((1, 3), 1 / 3))  # all clipped: uniform


def test_gated_write_exact_values_and_a_closed_gate_keeps_the_slot():
    from rlmem.memory import gated_write

    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    action = WriteAction(erase=torch.tensor([[1.0, 0.0]]), add=torch.tensor([[0.5, -1.0]]),
                         write=torch.tensor([[0.25, 0.75]]), retain=torch.tensor([[1.0, 0.5]]))
    # slot 0: retain 1 keeps [1, 2] exactly, whatever is written
    # slot 1: written = [3, 4] * (1 - 0.75 [1, 0]) + 0.75 [0.5, -1] = [1.125, 3.25]; 0.5 old + 0.5 written
    expected = torch.tensor([[[1.0, 2.0], [2.0625, 3.625]]])
    assert torch.allclose(gated_write(memory, action), expected)
    flat = torch.cat([action.erase, action.add, action.write, action.retain], -1)
    assert torch.allclose(ActionLayout(2, 2, "gate").apply(memory, flat), expected)
    assert torch.allclose(ActionLayout(2, 2).apply(memory, flat), write(memory, action))
    with pytest.raises(ValueError, match="retain must be one of scale, gate"):
        ActionLayout(2, 2, "forget")
