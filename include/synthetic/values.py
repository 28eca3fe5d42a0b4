"""Vectorised string and value builders, and the random-number helpers.

Everything works on whole numpy arrays (no per-row Python), so a block of customers costs a
handful of array operations per column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from include.synthetic.schemas import DEC, TS

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
M32 = np.uint64(0xFFFFFFFF)


# --- strings -------------------------------------------------------------------------------


def strings_from_fixed(chars: np.ndarray) -> pa.Array:
    """A string array from an (n, width) uint8 matrix, one row per value, without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def with_prefix(prefix: str, body: np.ndarray) -> np.ndarray:
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    out = np.empty((body.shape[0], head.size + body.shape[1]), dtype=np.uint8)
    out[:, : head.size] = head
    out[:, head.size :] = body
    return out


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    out = np.empty((values.size, width), dtype=np.uint8)
    rest = values.astype(np.int64)
    for pos in range(width - 1, -1, -1):
        out[:, pos] = 48 + rest % 10
        rest = rest // 10
    return out


def hex_digits(values: np.ndarray, width: int) -> np.ndarray:
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    return _HEX[(values.astype(np.uint64)[:, None] >> shifts) & np.uint64(0xF)]


def numbered_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return strings_from_fixed(with_prefix(prefix, _digits(numbers, width)))


def uuid_strings(hi: np.ndarray, lo: np.ndarray) -> pa.Array:
    """uuid4-looking strings: hi carries the version nibble, lo the (unique) payload."""
    hi = (hi & ~np.uint64(0xF000)) | np.uint64(0x4000)
    h, low = hex_digits(hi, 16), hex_digits(lo, 16)
    out = np.full((hi.size, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8], out[:, 9:13], out[:, 14:18] = h[:, 0:8], h[:, 8:12], h[:, 12:16]
    out[:, 19:23], out[:, 24:36] = low[:, 0:4], low[:, 4:16]
    return strings_from_fixed(out)


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a bijection on uint64, so distinct counters give distinct ids."""
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def mix32(x: np.ndarray) -> np.ndarray:
    """murmur3 fmix32: a bijection on 32 bits, for short unique-looking tokens."""
    x = x.astype(np.uint64) & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & M32
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & M32
    x ^= x >> np.uint64(16)
    return x


def sha1_hex(values: list[str]) -> pa.Array:
    # One hashlib call per customer (not per row), then hex-encoded in bulk.
    digests = b"".join(hashlib.sha1(v.encode()).digest() for v in values)
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 20)
    chars = np.empty((raw.shape[0], 40), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 0xF]
    return strings_from_fixed(chars)


def pick(values: pa.Array | Sequence[str], index: np.ndarray,
         null: np.ndarray | None = None) -> pa.Array:
    """values[index] as an Arrow array; rows where null is True become null."""
    values = values if isinstance(values, pa.Array) else pa.array(list(values), pa.string())
    idx = pa.array(index.astype(np.int64), mask=null) if null is not None else pa.array(index)
    return values.take(idx)


# --- timestamps and money ------------------------------------------------------------------


def timestamps(seconds: np.ndarray) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * 1_000_000, type=TS)


def decimals(cents: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """decimal128(18,2) straight from integer cents (exact: no float round trip)."""
    cents = cents.astype(np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension into the high 64 bits
    validity, null_count = None, 0
    if null is not None and null.any():
        validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
        null_count = int(null.sum())
    return pa.Array.from_buffers(
        DEC, cents.size, [validity, pa.py_buffer(words)], null_count=null_count
    )


def iso_strings(ts: pa.Array) -> pa.Array:
    """'YYYY-MM-DDTHH:MM:SSZ' for whole-second UTC timestamps (Arrow's own strftime is slow)."""
    n = len(ts)
    seconds = np.asarray(ts.cast(pa.int64())) // 1_000_000
    text = pa.array(seconds, type=pa.timestamp("s")).cast(pa.string())  # 'YYYY-MM-DD HH:MM:SS'
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + n + 1]
    if n and not np.all(np.diff(offsets) == 19):
        raise ValueError("timestamp outside years 1000-9999 cannot be written")
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    out = np.empty((n, 20), dtype=np.uint8)
    if n:
        out[:, :19] = data[offsets[0] : offsets[0] + 19 * n].reshape(n, 19)
    out[:, 10] = ord("T")
    out[:, 19] = ord("Z")
    return strings_from_fixed(out)


# --- randomness and sorted lookups ---------------------------------------------------------


def zipf_cdf(rng: np.random.Generator, size: int, exponent: float) -> np.ndarray:
    """Cumulative popularity over items in a random rank order (so ids say nothing of rank)."""
    rank = rng.permutation(size)
    weights = 1.0 / (rank + 1.0) ** exponent
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    cdf[-1] = 1.0
    return cdf


def sample(rng: np.random.Generator, cdf: np.ndarray, size: int) -> np.ndarray:
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def seeded_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of one unit of randomness: (seed, 0) catalogues, (seed, 1, i) block i."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def in_block(sorted_customers: np.ndarray, start: int, stop: int) -> slice:
    """The rows of sorted_customers that fall in customers [start, stop)."""
    lo, hi = np.searchsorted(sorted_customers, [start, stop])
    return slice(int(lo), int(hi))
