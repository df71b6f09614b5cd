"""Deterministic simulation of n replicas of the real consensus core.

One seeded `random.Random` decides every fault; the same seed replays the same run.
"""
