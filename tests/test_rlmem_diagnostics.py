"""rlmem's critic diagnostic: the true K-step return gradient, the cosines, the ceiling."""

import pytest
import torch
from rlmem_fixtures import tiny_task

from rlmem.memory import ActionLayout
from rlmem.model import RLMemModel
from rlmem.networks import Actor
from rlmem.options import RLMemOptions


def test_the_k_step_return_gradient_is_the_one_finite_differences_give():
    """The diagnostic's 'true' gradient on a tiny case, in float64: central differences agree."""
    from rlmem.diagnostics import cosine, k_step_return_gradient

    torch.manual_seed(0)
    layout = ActionLayout(3, 2)
    actor = Actor(4, layout, 8, 1.0).double()
    reader = torch.nn.Linear(4 + 2 * 3, 1).double()

    def reward(x, memory, target):
        return -(reader(torch.cat([x, memory.flatten(1)], -1)) - target).pow(2).mean(-1)

    xs, before = torch.randn(5, 6, 4, dtype=torch.float64), torch.rand(5, 3, 2, dtype=torch.float64)
    targets, mask = torch.randn(5, 6, 1, dtype=torch.float64), torch.ones(5, 6, dtype=torch.float64)
    action = layout.squash(torch.randn(5, layout.size, dtype=torch.float64))
    grad = k_step_return_gradient(actor, layout, reward, xs, before, action, targets, mask, gamma=0.9)

    def ret(a):
        with torch.no_grad():
            memory = layout.apply(before, a)
            total = reward(xs[:, 0], memory, targets[:, 0])
            for k in range(1, 6):
                memory = layout.apply(memory, actor(xs[:, k], memory))
                total = total + 0.9**k * reward(xs[:, k], memory, targets[:, k])
        return total

    eps, numeric = 1e-6, torch.zeros_like(action)
    for j in range(layout.size):
        step = torch.zeros_like(action)
        step[:, j] = eps
        numeric[:, j] = (ret(action + step) - ret(action - step)) / (2 * eps)
    assert torch.allclose(grad, numeric, rtol=1e-5, atol=1e-7)
    assert torch.allclose(cosine(grad, numeric), torch.ones(5, dtype=torch.float64))
    assert torch.allclose(cosine(grad, -numeric), -torch.ones(5, dtype=torch.float64))
    assert all(p.grad is None for p in [*actor.parameters(), *reader.parameters()])


def test_a_critic_that_knows_only_the_steps_own_reward_scores_zero_on_the_later_part():
    # value=future adds the step's reward exactly: the overall cosine then credits the critic for a part it
    # did not learn; the later cosine must not
    from rlmem.diagnostics import critic_gradient_check

    task, data, train, val, _ = tiny_task(length=40)
    model = RLMemModel(RLMemOptions(), data.spec, seed=0)
    model.scaler.fit(train)

    def own_reward_only(x, memory, action, target, togo, reward_fn):
        return reward_fn(x, model.ddpg.after_write(memory, action), target)

    model.ddpg.action_value = own_reward_only
    out = critic_gradient_check(model, val[:4], horizon=8)
    assert out["critic_cos"] > 0.3  # the own reward carries much of the true gradient
    assert out["critic_cos_later"] == 0.0 and out["critic_cos_later_top"] == 0.0


@pytest.mark.slow
def test_every_rlmem_record_holds_the_critic_diagnostic(tmp_path):
    from benchmark.harness.execution import execute
    from benchmark.harness.plan import RunRequest

    (o,) = execute(RunRequest(["synth-affect"], ["rlmem"], results=tmp_path, overrides=[
        "n_sequences=12", "length=40", "lag=5", "epochs=2", "warmup=10", "rl_batch_size=8", "diag_horizon=8"]))
    import json

    rec = json.loads(o.path.read_text())
    for row in rec["history"]:
        assert all(-1 <= row[k] <= 1 for k in ("critic_cos", "critic_cos_top", "critic_cos_later",
                                               "critic_cos_later_top", "value_return_corr"))
    assert rec["diagnostics"]["critic_cos"] == rec["history"][-1]["critic_cos"]
    assert all(-1 <= rec["diagnostics"][k] <= 1 for k in ("ceiling_cos", "ceiling_cos_top"))


def test_the_ceiling_is_high_where_inputs_predict_the_gradient_and_zero_where_they_cannot():
    from rlmem.diagnostics import predictability

    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(2000, 6, generator=gen)
    mixing = torch.randn(6, 3, generator=gen)
    noise = torch.randn(2000, 3, generator=gen)
    fit, held = slice(0, 1000), slice(1000, 2000)
    clean = predictability(inputs[fit], (inputs @ mixing)[fit], inputs[held], (inputs @ mixing)[held])
    assert clean["ceiling_cos"] > 0.99 and clean["ceiling_cos_top"] > 0.99
    blind = predictability(inputs[fit], noise[fit], inputs[held], noise[held])  # the gradient ignores the inputs
    assert abs(blind["ceiling_cos"]) < 0.1 and abs(blind["ceiling_cos_top"]) < 0.2
    mixed = inputs @ mixing + 3 * noise  # the inputs determine part of the gradient
    half = predictability(inputs[fit], mixed[fit], inputs[held], mixed[held])
    assert 0.2 < half["ceiling_cos"] < clean["ceiling_cos"]


def test_the_ceiling_of_an_untrained_policy_on_the_task():
    from rlmem.diagnostics import gradient_predictability, sampled_gradients

    task, data, train, val, _ = tiny_task(n=40, length=40)
    model = RLMemModel(RLMemOptions(), data.spec, seed=0)
    model.scaler.fit(train)
    inputs, grads = sampled_gradients(model, val[:4], horizon=8, times=5)
    width = model.options.hidden + model.options.slots * model.options.width + model.layout.size + 1
    assert inputs.shape == (4 * 5, width) and grads.shape == (4 * 5, model.layout.size)
    window, _ = sampled_gradients(model, val[:4], horizon=8, times=50, span=20)  # steps 0..12 of the first 20
    assert window.shape[0] == 4 * 13
    out = gradient_predictability(model, train, val, horizon=8, times=16)
    assert set(out) == {"ceiling_cos", "ceiling_cos_top"} and all(v <= 1 for v in out.values())
    # far from a trained policy the write's gradient is largely a function of what the critic sees
    assert out["ceiling_cos"] > 0.2 and out["ceiling_cos_top"] > 0.3
