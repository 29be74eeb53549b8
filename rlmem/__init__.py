"""The RL-based memory network (ACM MM 2022): memory bank, actor, post-state critic, DDPG trainer."""
