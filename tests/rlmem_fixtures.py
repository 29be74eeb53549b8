"""Small DDPG set-ups, windows and tasks the rlmem tests share."""

import torch

from benchmark.api import NullLog, Selector, TrainBudget
from rlmem.ddpg import DDPG, DDPGConfig
from rlmem.memory import ActionLayout
from rlmem.networks import Actor, PostStateCritic
from tasks.synthetic import SynthAffect, SynthAffectOptions


def make_ddpg(tau=0.01):
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor, critic = Actor(5, layout, 16, 3.0), PostStateCritic(5, 4, 3, 16)
    return DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, tau=tau)), layout


def batch(layout, n=8):
    g = torch.Generator().manual_seed(1)
    return {
        "x": torch.randn(n, 5, generator=g), "memory": torch.randn(n, 4, 3, generator=g),
        "action": layout.squash(torch.randn(n, layout.size, generator=g)), "target": torch.randn(n, 2, generator=g),
        "x_next": torch.randn(n, 5, generator=g), "done": torch.zeros(n),
    }


def reward(x, m, y):
    return -m.abs().mean((1, 2))


def tiny_task(lag=4, n=24, length=60):
    task = SynthAffect(SynthAffectOptions(n_sequences=n, length=length, lag=lag))
    data = task.load()
    f = data.folds[0]
    return task, data, data.episodes_of(f.train), data.episodes_of(f.val), data.episodes_of(f.test)


def fit(model, task, train, val, epochs=2):
    sel = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=epochs)
    return model.fit(train, val, TrainBudget(epochs=epochs, patience=epochs), sel, NullLog())


def make_future_ddpg():
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor, critic = Actor(5, layout, 16, 3.0), PostStateCritic(5, 4, 3, 16)
    return DDPG(actor, [critic], layout, DDPGConfig(gamma=0.9, value="future")), layout


def random_batch(model, n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    shapes = {**model.replay_fields(), "x_next": (model.options.hidden,), "target_next": (model.spec.n_targets,),
              "done": ()}
    return {k: torch.rand(n, *shape, generator=g) for k, shape in shapes.items()}


def actor_and_window(width: int, seed: int):
    """A small actor and critic, and a window of ``width`` steps for 6 sequences, every step valid."""
    torch.manual_seed(0)
    layout = ActionLayout(4, 3)
    actor, critic = Actor(5, layout, 16, 3.0), PostStateCritic(5, 4, 3, 16)
    g = torch.Generator().manual_seed(seed)
    b = {"x": torch.randn(6, width + 1, 5, generator=g), "memory": torch.randn(6, width, 4, 3, generator=g),
         "action": layout.squash(torch.randn(6, width, layout.size, generator=g)),
         "target": torch.randn(6, width + 1, 2, generator=g), "valid": torch.ones(6, width + 1, dtype=torch.bool),
         "step_valid": torch.ones(6, width, dtype=torch.bool)}
    return layout, actor, critic, b


def burn_in_window():
    layout, actor, critic, b = actor_and_window(4, seed=5)
    b["step_valid"][4, 1:] = False  # row 4's sequence ends during the burn-in; row 5's in the objective
    b["step_valid"][5, 3:] = False
    return layout, actor, critic, b
