"""The ablations' catalogue, as data: which variants each question runs and which one the others are compared
with. ``benchmark.studies.ablation`` turns an entry into runs; the questions are described there."""

ABLATIONS = ("memory-size", "update-rule", "modality", "rl-design")

MEMORY_SIZES = ("1", "5", "10", "20", "50")  # slots N
MEMORY_SIZE_REFERENCE = "10"
UPDATE_RULES = ("rlmem", "memnet-bptt", "lstm-tbptt")  # the first is the reference

RL_DESIGN = (  # (label, model, overrides); the first is the reference
    ("rlmem (paper: DDPG, V(s'), retain scales)", "rlmem", ()),
    ("retain gates the write", "rlmem", ("model.retain=gate",)),
    ("critic values later rewards only", "rlmem", ("model.value=future",)),
    ("critic treats the memory as a set of slots", "rlmem", ("model.critic=slots",)),
    ("discount 0.9", "rlmem", ("model.gamma=0.9",)),
    ("TD3 fixes (twin critics, delay 2, smoothing)", "rlmem", ("model.n_critics=2", "model.policy_delay=2",
                                                              "model.target_noise=0.2")),
    ("replay re-encoded by the current encoder", "rlmem", ("model.reencode=true",)),
    ("critic sees the steps to go", "rlmem", ("model.critic_time=true",)),
    ("actor waits for 1,000 critic updates", "rlmem", ("model.critic_warmup=1000",)),
    ("actor anchored to its target (trust region 1)", "rlmem", ("model.trust_region=1.0",)),
    ("well-posed critic + anchored actor (all four)", "rlmem", ("model.reencode=true", "model.critic_time=true",
                                                               "model.critic_warmup=1000", "model.trust_region=1.0")),
    ("critic on 10-step returns", "rlmem", ("model.n_step=10",)),
    ("actor through 10 known writes, then the critic (SVG(10))", "rlmem", ("model.svg_k=10",)),
    # both SVG(20) variants at the actor rate the critic-free one learnt with in exploratory runs (1e-3), so
    # the two differ only in the critic; with the critic, 1e-4 and 1e-3 scored the same there
    ("actor through 20 known writes, then the critic (SVG(20), actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.actor_lr=0.001")),
    # the same 20 writes with the critic taken out: what the known write and reader teach on their own
    ("actor through 20 known writes, rewards only, no critic (actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.svg_bootstrap=false", "model.actor_lr=0.001")),
    # the same, each window's first 20 steps rewritten by the current actor before the 20 it learns on, so it
    # starts from the memory its own policy writes, not the stored one an older policy wrote (R2D2's burn-in)
    ("actor through 20 known writes after a 20-step burn-in, rewards only, no critic (actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.svg_bootstrap=false", "model.burn_in=20", "model.actor_lr=0.001")),
    # the same, with the encoder learning from those 20 steps too (end-to-end BPTT's other half)
    ("actor through 20 known writes, rewards only, no critic, encoder trained by them too (actor lr 1e-3)", "rlmem",
     ("model.svg_k=20", "model.svg_bootstrap=false", "model.reencode=true", "model.encoder_credit=true",
      "model.actor_lr=0.001")),
    ("all of it: the four, 10-step returns, SVG(10)", "rlmem", ("model.reencode=true", "model.critic_time=true",
                                                              "model.critic_warmup=1000", "model.trust_region=1.0",
                                                              "model.n_step=10", "model.svg_k=10")),
    ("control: actor frozen at init", "rlmem", ("model.actor_lr=0",)),
    ("control: writes by BPTT (memnet-bptt)", "memnet-bptt", ()),
)

# the encoder stops at the hand-over in both, so the two differ only in whether RL moves the actor
_HANDOVER = ("model.bptt_warmup=0.667", "model.freeze_encoder=true")
RL_DESIGN_PROBES = (
    ("probe: BPTT for 2/3 of the updates, then RL", "rlmem", _HANDOVER),
    ("probe: BPTT for 2/3 of the updates, then actor frozen", "rlmem", (*_HANDOVER, "model.actor_lr=0")),
)
