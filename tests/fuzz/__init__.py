"""Fuzz harnesses for edgec's readers and decoders (see docs/fuzzing.md)."""
