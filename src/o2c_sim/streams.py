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
)


class Streams:
    """``streams.billing`` etc.: a ``numpy.random.Generator`` per purpose."""

    def __init__(self, seed: int, replication: int = 0):
        self.seed = seed
        self.replication = replication
        for i, name in enumerate(PURPOSES):
            ss = np.random.SeedSequence(entropy=seed, spawn_key=(replication, i))
            setattr(self, name, np.random.Generator(np.random.PCG64(ss)))
