"""Arm Ethos-U NPU targets through Vela (docs/ethosu.md).

``vela_runner`` runs Vela, ``optimized`` reads its output, ``command_stream``
decodes a command stream's header, ``partition`` cuts edgec's graph where
Vela cut, ``glue`` writes the firmware glue, ``build`` drives an NPU build and
``check`` runs a partitioned model with the reference as the NPU's stand-in.
"""
