"""edgec: a deployment compiler for microcontrollers and edge devices."""

__version__ = "0.1.0"
