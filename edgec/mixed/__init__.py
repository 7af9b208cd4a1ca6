"""Mixed-precision quantization for patch-based inference (QuantMCU): sub-byte feature maps,
value-driven patch classification (VDPC) and the value-driven bit-width search (VDQS)."""
