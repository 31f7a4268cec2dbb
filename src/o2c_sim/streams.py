"""Random streams: one independent generator per purpose, all derived from one scenario seed.

``SeedSequence(seed, spawn_key=(replication, purpose))`` gives each purpose of each replication its own
stream (numpy's recommended way to make independent streams). Replication *r* of two scenarios with
the same seed therefore draws the same billing, amounts and natural payment delays — *common random
numbers* — so their difference reflects the policy, not the luck of the draw.
"""

from __future__ import annotations

import numpy as np

#: purposes, in a fixed order: adding a purpose at the end never changes the others' streams
PURPOSES = (
    "accounts", "billing", "amounts", "delays", "behaviour", "disputes", "dunning", "calls",
    "staffing", "inbound", "work", "plans", "legal", "insolvency", "payments",
    "pools", "parameters",
)
#: purposes that are roots of keyed streams (see :meth:`Streams.keyed`), not generators of their own
KEYED = ("pools", "parameters")


class Streams:
    """``streams.billing`` etc.: a ``numpy.random.Generator`` per purpose."""

    def __init__(self, seed: int, replication: int = 0):
        self.seed = seed
        self.replication = replication
        for name in PURPOSES:
            if name not in KEYED:
                setattr(self, name, generator(seed, replication, name))

    def keyed(self, purpose: str, *key: int) -> np.random.Generator:
        """The stream of one item or person, e.g. ``keyed("pools", pool, person)``: it depends only on
        (seed, replication, purpose, key), so it is the same whatever else the scenario changes."""
        return generator(self.seed, self.replication, purpose, *key)


def generator(seed: int, replication: int, purpose: str, *key: int) -> np.random.Generator:
    """``Generator(PCG64(SeedSequence(seed, spawn_key=(replication, purpose index, *key))))``."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(replication, PURPOSES.index(purpose), *key))
    return np.random.Generator(np.random.PCG64(ss))
