"""Keyed random draws: one number per (seed, replication, purpose, item key), whatever else happens.

A sequential stream hands out numbers in the order they are asked for, so when a policy changes how
many draws come before an item's (one more rebill, one fewer call) every later item gets a different
number. Draws that must not depend on policy (an invoice's resistance to paying, whether it is disputed
on receipt, an account's frailty) are instead a *function* of their key: the SplitMix64 finaliser
(Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators", the mixer of
``java.util.SplittableRandom``) applied in turn to the seed, the replication, the purpose and each part
of the key. Vectorised over numpy ``uint64`` arrays (multiplication wraps modulo 2⁶⁴ as the hash needs).

    u = (mix(... mix(mix(seed ⊕ rep) ⊕ purpose) ⊕ key₁ ...) >> 11) · 2⁻⁵³   ∈ [0, 1)
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser of ``z + golden`` (a bijection of uint64 with good avalanche)."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


_MASK = 2**64 - 1
_SIGNED = frozenset((int, np.int64, np.int32, np.int16, np.int8))  # scalar key types of the fast path


def _mix_int(z: int) -> int:
    """:func:`_mix` of one value held as a Python int (arithmetic mod 2**64): the same bits, without
    the cost of numpy scalars, for draws keyed by a few scalars (one per account or job)."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


@functools.lru_cache(maxsize=None)  # a few dozen purposes; hashing one took longer than the draws
def _purpose_code(purpose: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(purpose.encode(), digest_size=8).digest(), "little"))


def _draw(h: int, keys) -> float:
    """The uniform of one item's scalar ``keys`` mixed into ``h`` on Python ints (the array path's bits)."""
    for k in keys:
        h = _mix_int(h ^ (int(k) & _MASK))
    return (h >> 11) * (1.0 / 2**53)


_SHORT = 8  # key arrays up to this length take the Python-int path


def _short_length(keys) -> int:
    """n when every key is a scalar of the fast path or a 1-d signed-integer array of length 1 or n
    (n ≤ ``_SHORT``), with at least one array; else 0 (the array path)."""
    n = 0
    for k in keys:
        if type(k) is np.ndarray:
            if k.ndim != 1 or k.dtype.kind != "i" or not 0 < len(k) <= _SHORT or (n > 1 and len(k) not in (1, n)):
                return 0
            n = max(n, len(k))
        elif not (type(k) in _SIGNED and -2**63 <= k < 2**63):
            return 0
    return n


def _as_u64(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64).astype(np.uint64)


class KeyedRandom:
    """``KeyedRandom(seed, replication).uniform("resistance", keys, generation)`` — the same numbers for the
    same keys in every run with this seed and replication, in any order and any number of calls."""

    def __init__(self, seed: int, replication: int = 0):
        with np.errstate(over="ignore"):
            self._root = _mix(_mix(np.array([seed & (2**64 - 1)], np.uint64)) ^ _as_u64([replication]))[0]

    def uniform(self, purpose: str, *keys) -> np.ndarray:
        """Uniform [0, 1) per element of the broadcast ``keys`` (integer arrays)."""
        if keys and all(type(k) in _SIGNED and -2**63 <= k < 2**63 for k in keys):  # scalar keys: a 0-d array
            return np.array(_draw(self._start(purpose), keys))
        n = _short_length(keys)
        if n:  # a few items (a query's dispute, a plan's instalments): Python ints per item, shape (n,)
            h, cols = self._start(purpose), [k.tolist() if type(k) is np.ndarray else [k] for k in keys]
            return np.array([_draw(h, [c[j] if len(c) > 1 else c[0] for c in cols]) for j in range(n)])
        parts = np.broadcast_arrays(*(np.asarray(k) for k in keys)) if keys else [np.zeros(1, np.int64)]
        with np.errstate(over="ignore"):
            h = _mix(np.full(parts[0].shape, self._root, np.uint64) ^ _purpose_code(purpose))
            for k in parts:
                h = _mix(h ^ _as_u64(k))
        return (h >> np.uint64(11)).astype(np.float64) * (1.0 / 2**53)

    def _start(self, purpose: str) -> int:
        """The hash of (seed, replication, purpose) as a Python int, where the keys' mixing starts."""
        return _mix_int(int(self._root) ^ int(_purpose_code(purpose)))

    def exponential(self, purpose: str, *keys) -> np.ndarray:
        """Exp(1) per key: −log(1 − u)."""
        return -np.log1p(-self.uniform(purpose, *keys))

    def integers(self, purpose: str, low: int, high: int, *keys) -> np.ndarray:
        """Integers uniform on ``low .. high − 1`` per key."""
        return low + np.floor(self.uniform(purpose, *keys) * (high - low)).astype(np.int64)

    def choice(self, purpose: str, probs, *keys) -> np.ndarray:
        """Category index per key drawn with probabilities ``probs`` (inverse CDF)."""
        cdf = np.cumsum(np.asarray(probs, float))
        return np.minimum(np.searchsorted(cdf / cdf[-1], self.uniform(purpose, *keys), side="right"), len(cdf) - 1)

    def gamma_mean_one(self, purpose: str, variance: float, *keys) -> np.ndarray:
        """Gamma with mean 1 and the given variance (shape 1/v, scale v) per key; 1 when v = 0."""
        u = self.uniform(purpose, *keys)
        if variance <= 0:
            return np.ones(u.shape)
        from scipy.special import gammaincinv

        return np.maximum(gammaincinv(1.0 / variance, u) * variance, 1e-12)
