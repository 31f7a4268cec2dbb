"""Keyed draws from scalar keys take a Python-int path: it must give the bits of the array path."""

import numpy as np

from o2c_sim.sim.keyed_random import KeyedRandom


def test_scalar_keys_draw_the_same_bits_as_array_keys():
    keyed = KeyedRandom(20240917, replication=3)
    rng = np.random.default_rng(0)
    keys = np.concatenate([rng.integers(-2**63, 2**63 - 1, 300, dtype=np.int64),
                           np.array([0, -1, 1, 2**63 - 1, -2**63], np.int64)])
    seconds = rng.integers(0, 50, len(keys))
    vector = keyed.uniform("legal_recovery", keys, seconds)
    for i, (k, g) in enumerate(zip(keys.tolist(), seconds.tolist())):
        for a, b in ((k, g), (np.int64(k), np.int32(g))):
            one = keyed.uniform("legal_recovery", a, b)
            assert one.shape == () and one.dtype == np.float64
            assert one[()] == vector[i]
    assert 0.45 < vector.mean() < 0.55  # uniform on [0, 1): the hash is not degenerate


def test_short_key_arrays_draw_the_same_bits_as_long_ones():
    keyed = KeyedRandom(7, replication=1)
    keys = np.array([0, -1, 5, 2**63 - 1, -2**63, 123456789], np.int64)
    vector = keyed.uniform("dispute_reason_query", keys, keys % 7, np.int32(2))
    for i, k in enumerate(keys.tolist()):
        one = keyed.uniform("dispute_reason_query", np.array([k]), np.array([k % 7], np.int32), 2)
        assert one.shape == (1,) and one.dtype == np.float64
        assert one[0] == vector[i]
    assert keyed.exponential("dispute_wait_query", keys[:1], keys[:1])[0] == keyed.exponential("dispute_wait_query", keys, keys)[0]
    plan = keyed.uniform("plan_break", 41, np.int64(2), np.arange(3))  # a plan's three instalments
    assert plan.shape == (3,) and plan.dtype == np.float64
    assert plan.tolist() == keyed.uniform("plan_break", np.full(9, 41), np.full(9, 2), np.arange(9))[:3].tolist()
    mixed = keyed.uniform("x", np.array([5]), np.array([-3, 0, 7], np.int32), 1)
    assert mixed.tolist() == keyed.uniform("x", np.full(9, 5), np.array([-3, 0, 7] * 3), 1)[:3].tolist()
