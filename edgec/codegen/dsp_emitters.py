"""Armv7E-M DSP-extension kernel variants (Cortex-M4/M7/M33): their rules and C emitters.

Registered into ``kernel_variants``; the kernels live in runtime/kernels/*_dsp.c and use
runtime/kernels/arm_dsp.h, so they also compile and run (plain C) on the host.
"""

from __future__ import annotations
