"""A small seeded byte mutator: the same seed gives the same inputs on every machine.

``make test`` uses it (through ``tests/fuzz/engine.py``) instead of atheris,
whose coverage feedback makes a run depend on timing.  The mutations are the
usual ones of byte-level fuzzers, plus overwriting 2/4-byte fields with
boundary values, which is what breaks offsets, counts and sizes in binary
formats (flatbuffers, protobuf varints, .npy headers, frame length fields).
"""

from __future__ import annotations

import random
import struct

INTERESTING_8 = (0, 1, 0x7F, 0x80, 0xFF, 0x10, 0x40)
INTERESTING_32 = (0, 1, 2, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF,
                  0xFFFFFFFE, 0x40000000)


def _flip_bit(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    i = rng.randrange(len(b))
    b[i] ^= 1 << rng.randrange(8)


def _set_byte(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    b[rng.randrange(len(b))] = rng.choice(INTERESTING_8) if rng.random() < 0.5 else rng.randrange(256)


def _set_word(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    if len(b) < 4:
        return _set_byte(rng, b, seeds)
    i = rng.randrange(len(b) - 3)
    value = rng.choice(INTERESTING_32)
    if rng.random() < 0.3:
        value = (value + rng.randint(-4, 4)) & 0xFFFFFFFF
    width = rng.choice((2, 4))
    b[i : i + width] = struct.pack("<I", value)[:width]
    return None


def _truncate(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    del b[rng.randrange(len(b)) :]


def _delete(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    i = rng.randrange(len(b))
    del b[i : i + rng.randint(1, 64)]


def _insert(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    i = rng.randrange(len(b) + 1)
    b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))


def _duplicate(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    i = rng.randrange(len(b))
    chunk = b[i : i + rng.randint(1, 64)]
    j = rng.randrange(len(b) + 1)
    b[j:j] = chunk


def _splice(rng: random.Random, b: bytearray, seeds: list[bytes]) -> None:
    other = rng.choice(seeds)
    if not other:
        return
    i, j = rng.randrange(len(b) + 1), rng.randrange(len(other))
    b[i:] = other[j : j + rng.randint(1, 256)] + b[i:]


MUTATORS = (_flip_bit, _flip_bit, _set_byte, _set_word, _set_word, _truncate, _delete, _insert, _duplicate, _splice)


def mutate(rng: random.Random, data: bytes, seeds: list[bytes], max_steps: int = 4) -> bytes:
    """``data`` with 1..max_steps random mutations applied (never longer than twice the input plus 1 KiB)."""
    b = bytearray(data)
    for _ in range(rng.randint(1, max_steps)):
        if not b:
            b += bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
            continue
        rng.choice(MUTATORS)(rng, b, seeds)
    return bytes(b[: 2 * len(data) + 1024])
