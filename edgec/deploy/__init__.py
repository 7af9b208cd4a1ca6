"""Linux-class targets (kinds ``linux`` and ``jetson``): everything around the TVM lowering.

* ``tvm_env``  — imports TVM lazily (MCU builds never import it) and turns a
  target file's ``[tvm]`` table into a TVM target;
* ``sources``  — the model's C sources for the ``deploy/`` folder (the TVM
  kernels object + shim + ``model.c``/``model.h`` from ``edgec.codegen.tvm``);
* ``project``  — the ``deploy/`` folder itself: CMake project, cross toolchain
  file, runner source, README;
* ``build``    — builds ``deploy/`` and compiles the runner (``bin/``);
* ``execute``  — runs the runner here or under ``qemu-aarch64``;
* ``rpc``      — runs the kernels on a real device through TVM RPC.
"""
