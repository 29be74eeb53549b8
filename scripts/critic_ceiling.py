"""Issue 14: how much of the true K-step return gradient could ANY function of the critic's inputs predict?

On the design-study data (synth-affect, 200 sequences of 200 segments, lag 10, fold 0) a BPTT policy is
trained (memnet-bptt, 2,000 updates, seed 0). For a policy (`bptt`: that one; `init`: the actor at its
initialisation with the BPTT encoder and reader, what a from-scratch actor meets once the rest has
learnt), the greedy rollout gives, at every step t of every sequence, the critic's inputs (x_t, M_{t-1},
a_t, steps to go) and the exact gradient dG_K/da of the K-step return (rlmem.diagnostics). Regressors
fitted on the training sequences are scored on the validation ones by the cosines of rlmem.diagnostics:
over all steps, the top tenth by |dG/da|, and the cue steps (where the hidden state is shown). A critic's
dV/da is one function of those inputs, so these cosines estimate its ceiling. "+ future targets" adds the
K targets ahead, which no critic sees, to show where the unpredictable part comes from.

    PYTHONPATH=. python scripts/critic_ceiling.py > results/studies/critic_ceiling.jsonl
"""

from __future__ import annotations

import json
import subprocess

import torch

from benchmark.api import NullLog, Selector, TrainBudget
from rlmem.diagnostics import cosine, k_step_return_gradient, ridge_predictions, top_share
from rlmem.model import MemNetBPTTModel, RLMemModel
from rlmem.options import MemoryNetOptions, RLMemOptions
from tasks.synthetic import SynthAffect, SynthAffectOptions

COMMIT = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
DIRTY = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip())


@torch.no_grad()
def collect(model, episodes, k: int):
    """Per (sequence, step): critic inputs, dG_K/da, the K targets ahead, and whether a cue is shown."""
    actor, layout = model.net["actor"], model.layout
    seg = model.segments(list(episodes))
    xs = model.net["encoder"](seg.features, seg.mask)
    b, s = seg.mask.shape
    memory, before, actions = model.initial_memory(b), [], []
    for t in range(s):
        before.append(memory)
        actions.append(actor(xs[:, t], memory))
        memory = layout.apply(memory, actions[-1])
    mask, cues = seg.mask.float(), [{c for c, _ in e.meta["cues"]} for e in episodes]
    rows = {"inputs": [], "grads": [], "future": [], "cue": []}
    for t in range(s - k):
        rows["grads"].append(k_step_return_gradient(actor, layout, model.reward, xs[:, t:t + k], before[t], actions[t],
                                                    seg.targets[:, t:t + k], mask[:, t:t + k], model.ddpg.config.gamma))
        rows["inputs"].append(torch.cat([xs[:, t], before[t].flatten(1), actions[t], torch.full((b, 1), (s - t) / s)], 1))
        rows["future"].append(seg.targets[:, t:t + k].flatten(1))
        rows["cue"].append(torch.tensor([t in c for c in cues]))
    return {key: torch.stack(v, 1).flatten(0, 1) for key, v in rows.items()}


def mlp_predictions(fit_in, fit_g, held_in, held_g, epochs: int = 40):
    """A 2-layer MLP regressor; its best held-out epoch (optimistic, as a ceiling should be)."""
    mean, std = fit_in.mean(0), fit_in.std(0).clamp(min=1e-6)
    a, b = (fit_in - mean) / std, (held_in - mean) / std
    scale = fit_g.std()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(a.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, fit_g.shape[1]))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-5)
    best, best_err = None, float("inf")
    for _ in range(epochs):
        for idx in torch.randperm(len(a)).split(256):
            loss = ((net(a[idx]) - fit_g[idx] / scale) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            pred = net(b) * scale
            err = float(((pred - held_g) ** 2).sum())
        if err < best_err:
            best, best_err = pred, err
    return best


def main() -> None:
    task = SynthAffect(SynthAffectOptions(n_sequences=200, length=200, lag=10))
    data = task.load()
    fold = data.folds[0]
    train, val = data.episodes_of(fold.train), data.episodes_of(fold.val)
    bptt = MemNetBPTTModel(MemoryNetOptions(), data.spec, seed=0)
    selector = Selector(lambda p: task.evaluate(p, val), "mse", False, patience=10)
    bptt.fit(train, val, TrainBudget(max_updates=2000, min_updates=2000, patience=10), selector, NullLog())
    for policy in ("init", "bptt"):
        model = RLMemModel(RLMemOptions(), data.spec, seed=0)
        model.scaler = bptt.scaler
        for name in ("encoder", "reader", "actor") if policy == "bptt" else ("encoder", "reader"):
            model.net[name].load_state_dict(bptt.net[name].state_dict())
        if policy == "bptt":
            with torch.no_grad():
                model.memory_init.copy_(bptt.memory_init)
        val_mse = task.evaluate(model.predict(val), val)["mse"]
        for k in (10, 20):
            fit, held = collect(model, train, k), collect(model, val, k)
            top = top_share(held["grads"].norm(dim=-1), 0.1)
            for inputs in ("critic inputs", "+ future targets"):
                fit_in, held_in = fit["inputs"], held["inputs"]
                if inputs != "critic inputs":
                    fit_in, held_in = torch.cat([fit_in, fit["future"]], 1), torch.cat([held_in, held["future"]], 1)
                for name, pred in (("ridge", ridge_predictions(fit_in, fit["grads"], held_in)),
                                   ("mlp, best held-out epoch", mlp_predictions(fit_in, fit["grads"], held_in, held["grads"]))):
                    cos = cosine(pred, held["grads"])
                    print(json.dumps({"policy": policy, "policy_val_mse": round(val_mse, 4), "K": k, "inputs": inputs,
                                      "fit": name, "cos": round(float(cos.mean()), 3),
                                      "cos_top": round(float(cos[top].mean()), 3),
                                      "cos_cue": round(float(cos[held["cue"]].mean()), 3), "commit": COMMIT, "git_dirty": DIRTY}), flush=True)


if __name__ == "__main__":
    main()
