"""x86 VNNI tensor intrinsics for the int8 dot products of convolutions and fully connected layers.

``vpdpbusd`` multiplies unsigned by signed bytes, four at a time, and adds
each group of four products to an int32 lane without saturation: exact.  Our
operands are both signed, so the activation byte is flipped to unsigned
(``a ^ 0x80 == a + 128``) and the extra ``128 * sum(w)`` is taken off again
with a second ``vpdpbusd`` of the weights against a vector of 0x80 bytes
(computed once per weight block, shared by every pixel of the block).

One intrinsic covers ``P`` output pixels x ``L`` output channels x 4 input
channels: ``C[p, i] += int32(A[p, k]) * int32(B[k, i])`` with the weights in
edgec's ``[.., Ci, Co]`` layout (output channel innermost).  The 4 weight rows
(16 or 8 contiguous bytes each, ``Co`` apart) are interleaved into the
``[L][4]`` byte order ``vpdpbusd`` wants with one shuffle.
"""

from __future__ import annotations

LANES = (16, 8)  # int32 lanes: zmm (avx512 vnni) or ymm (avx512 vnni + vl)
_REGISTERED: set[tuple] = set()
_FLIP = -(2**31) + (0x80 << 16) + (0x80 << 8) + 0x80  # 0x80808080 as int32
VNNI_FEATURE = "avx512vnni"


def intrin_name(pixels: int, lanes: int) -> str:
    return f"edgec_vnni_p{pixels}_l{lanes}"


def register(pixels: int, lanes: int) -> str:
    """Register (once) the ``pixels`` x ``lanes`` x 4 VNNI intrinsic; returns its name."""
    name = intrin_name(pixels, lanes)
    if (pixels, lanes) in _REGISTERED:
        return name
    from tvm import s_tir
    from tvm.script import tirx as T

    P, L = pixels, lanes
    llvm_name = "llvm.x86.avx512.vpdpbusd.512" if L == 16 else "llvm.x86.avx512.vpdpbusd.256"
    i8v, u8v, i32v = f"int8x{4 * L}", f"uint8x{4 * L}", f"int32x{L}"
    order = [row * L + lane for lane in range(L) for row in range(4)]  # [4][L] -> [L][4]

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (P, 4), "int8", offset_factor=1, strides=[T.int32(), 1])
        B = T.match_buffer(b, (4, L), "int8", offset_factor=1, strides=[T.int32(), 1])
        C = T.match_buffer(c, (P, L), "int32", offset_factor=1, strides=[T.int32(), 1])
        with T.sblock("root"):
            T.reads(C[0:P, 0:L], A[0:P, 0:4], B[0:4, 0:L])
            T.writes(C[0:P, 0:L])
            for p, i, k in T.grid(P, L, 4):
                with T.sblock("update"):
                    vp, vi, vk = T.axis.remap("SSR", [p, i, k])
                    C[vp, vi] = C[vp, vi] + T.Cast("int32", A[vp, vk]) * T.Cast("int32", B[vk, vi])

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        sa = T.int32()
        sb = T.int32()
        sc = T.int32()
        A = T.match_buffer(a, (P, 4), "int8", offset_factor=1, strides=[sa, 1])
        B = T.match_buffer(b, (4, L), "int8", offset_factor=1, strides=[sb, 1])
        C = T.match_buffer(c, (P, L), "int32", offset_factor=1, strides=[sc, 1])
        with T.sblock("root"):
            T.reads(C[0:P, 0:L], A[0:P, 0:4], B[0:4, 0:L])
            T.writes(C[0:P, 0:L])
            w = T.Shuffle(
                [
                    B.vload([0, 0], f"int8x{L}"),
                    B.vload([1, 0], f"int8x{L}"),
                    B.vload([2, 0], f"int8x{L}"),
                    B.vload([3, 0], f"int8x{L}"),
                ],
                order,
            )
            bias = T.call_llvm_pure_intrin(
                T.llvm_lookup_intrinsic_id(llvm_name),
                T.broadcast(T.int32(0), L),
                T.reinterpret(T.broadcast(T.int32(_FLIP), L), dtype=u8v),
                w,
                dtype=i32v,
            )
            for p in T.unroll(P):
                a4 = T.bitwise_xor(T.reinterpret(A.vload([p, 0], "int8x4"), dtype="int32"), T.int32(_FLIP))
                C[p, T.ramp(0, 1, L)] = (
                    T.call_llvm_pure_intrin(
                        T.llvm_lookup_intrinsic_id(llvm_name),
                        C.vload([p, 0], i32v),
                        T.reinterpret(T.broadcast(a4, L), dtype=u8v),
                        w,
                        dtype=i32v,
                    )
                    - bias
                )

    del i8v
    s_tir.TensorIntrin.register(name, desc, impl)
    _REGISTERED.add((pixels, lanes))
    return name


def has_vnni(target) -> bool:
    """True when the LLVM x86 ``target`` has AVX-512 VNNI (with VL for the 8-lane form)."""
    if str(target.kind.name) != "llvm":
        return False
    from tvm.target import codegen

    try:
        triple = str(target.attrs.get("mtriple", "") or "")
        if triple and not triple.startswith(("x86_64", "i686")):
            return False
        mcpu = str(target.attrs.get("mcpu", "") or "")
        mattr = [str(a) for a in (target.attrs.get("mattr") or [])]
        if f"+{VNNI_FEATURE}" in mattr:
            return True
        if f"-{VNNI_FEATURE}" in mattr:
            return False
        return bool(codegen.llvm_cpu_has_features([VNNI_FEATURE, "avx512vl"], target)) if mcpu else False
    except Exception:  # noqa: BLE001 - an LLVM without x86 or an odd target: no VNNI
        return False


def lowers_for_vnni(spec: dict) -> bool:
    """Whether a TVM build for ``spec`` (a resolved target dict) lowers convolutions for VNNI:
    x86 CPUs with AVX-512 VNNI; never when the kernels also go to CUDA (one lowering serves both)."""
    if spec.get("kind") != "llvm":
        return False
    import tvm

    return has_vnni(tvm.target.Target(spec))


def register_fc(lanes: int) -> str:
    """Register (once) the 1-row form for fully connected layers: ``C[i] += A[k] * B[k, i]``, k < 4."""
    name = f"edgec_vnni_fc_l{lanes}"
    if (0, lanes) in _REGISTERED:
        return name
    from tvm import s_tir
    from tvm.script import tirx as T

    L = lanes
    llvm_name = "llvm.x86.avx512.vpdpbusd.512" if L == 16 else "llvm.x86.avx512.vpdpbusd.256"
    u8v, i32v = f"uint8x{4 * L}", f"int32x{L}"
    order = [row * L + lane for lane in range(L) for row in range(4)]

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (4,), "int8", offset_factor=1)
        B = T.match_buffer(b, (4, L), "int8", offset_factor=1, strides=[T.int32(), 1])
        C = T.match_buffer(c, (L,), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:L], A[0:4], B[0:4, 0:L])
            T.writes(C[0:L])
            for i, k in T.grid(L, 4):
                with T.sblock("update"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    C[vi] = C[vi] + T.Cast("int32", A[vk]) * T.Cast("int32", B[vk, vi])

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        sb = T.int32()
        A = T.match_buffer(a, (4,), "int8", offset_factor=1)
        B = T.match_buffer(b, (4, L), "int8", offset_factor=1, strides=[sb, 1])
        C = T.match_buffer(c, (L,), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:L], A[0:4], B[0:4, 0:L])
            T.writes(C[0:L])
            w = T.Shuffle(
                [
                    B.vload([0, 0], f"int8x{L}"),
                    B.vload([1, 0], f"int8x{L}"),
                    B.vload([2, 0], f"int8x{L}"),
                    B.vload([3, 0], f"int8x{L}"),
                ],
                order,
            )
            bias = T.call_llvm_pure_intrin(
                T.llvm_lookup_intrinsic_id(llvm_name),
                T.broadcast(T.int32(0), L),
                T.reinterpret(T.broadcast(T.int32(_FLIP), L), dtype=u8v),
                w,
                dtype=i32v,
            )
            a4 = T.bitwise_xor(T.reinterpret(A.vload([0], "int8x4"), dtype="int32"), T.int32(_FLIP))
            C[T.ramp(0, 1, L)] = (
                T.call_llvm_pure_intrin(
                    T.llvm_lookup_intrinsic_id(llvm_name),
                    C.vload([0], i32v),
                    T.reinterpret(T.broadcast(a4, L), dtype=u8v),
                    w,
                    dtype=i32v,
                )
                - bias
            )

    s_tir.TensorIntrin.register(name, desc, impl)
    _REGISTERED.add((0, lanes))
    return name


def register_packed(pixels: int, lanes: int) -> str:
    """Register (once) the ``pixels`` x ``lanes`` x 4 intrinsic of the VNNI lowering (``te_ops._conv2d_vnni``).

    ``C[p, i] += int32(A[p, k]) * int32(B[i, k])`` with ``A`` unsigned (the flipped input, pixels
    any stride apart) and ``B`` the pre-laid-out weights (``lanes`` x 4 contiguous bytes): one
    64-byte weight load, then per pixel one ``vpdpbusd`` of its 4 bytes broadcast.  No
    correction terms: exactly the arithmetic of the description.
    """
    name = f"edgec_vnni_packed_p{pixels}_l{lanes}"
    if ("packed", pixels, lanes) in _REGISTERED:
        return name
    from tvm import s_tir
    from tvm.script import tirx as T

    P, L = pixels, lanes
    llvm_name = "llvm.x86.avx512.vpdpbusd.512" if L == 16 else "llvm.x86.avx512.vpdpbusd.256"
    u8v, i8v, i32v = f"uint8x{4 * L}", f"int8x{4 * L}", f"int32x{L}"

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (P, 4), "uint8", offset_factor=1, strides=[T.int32(), 1])
        B = T.match_buffer(b, (L, 4), "int8", offset_factor=1)
        C = T.match_buffer(c, (P, L), "int32", offset_factor=1, strides=[T.int32(), 1])
        with T.sblock("root"):
            T.reads(C[0:P, 0:L], A[0:P, 0:4], B[0:L, 0:4])
            T.writes(C[0:P, 0:L])
            for p, i, k in T.grid(P, L, 4):
                with T.sblock("update"):
                    vp, vi, vk = T.axis.remap("SSR", [p, i, k])
                    C[vp, vi] = C[vp, vi] + T.Cast("int32", A[vp, vk]) * T.Cast("int32", B[vi, vk])

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        sa = T.int32()
        sc = T.int32()
        A = T.match_buffer(a, (P, 4), "uint8", offset_factor=1, strides=[sa, 1])
        B = T.match_buffer(b, (L, 4), "int8", offset_factor=1)
        C = T.match_buffer(c, (P, L), "int32", offset_factor=1, strides=[sc, 1])
        with T.sblock("root"):
            T.reads(C[0:P, 0:L], A[0:P, 0:4], B[0:L, 0:4])
            T.writes(C[0:P, 0:L])
            w = B.vload([0, 0], i8v)
            for p in T.unroll(P):
                a4 = T.reinterpret(A.vload([p, 0], "uint8x4"), dtype="int32")
                C[p, T.ramp(0, 1, L)] = T.call_llvm_pure_intrin(
                    T.llvm_lookup_intrinsic_id(llvm_name),
                    C.vload([p, 0], i32v),
                    T.reinterpret(T.broadcast(a4, L), dtype=u8v),
                    w,
                    dtype=i32v,
                )

    s_tir.TensorIntrin.register(name, desc, impl)
    _REGISTERED.add(("packed", pixels, lanes))
    return name


def register_pairs(pixels: int, lanes: int) -> str:
    """Register (once) the ``pixels`` x ``lanes`` x 2 intrinsic of the paired depthwise lowering
    (``te_ops._depthwise_pairs``).

    ``C[p, i] += int32(int16(A[p, i] >> 16k)) * int32(B[i, k])`` for ``k < 2``: each int32 of ``A``
    holds two int16 inputs (pixels any stride apart), ``B`` the weight pairs: one weight load,
    then per pixel one ``vpdpwssd`` (two int16 products per int32 lane, no saturation).
    """
    name = f"edgec_vnni_pairs_p{pixels}_l{lanes}"
    if ("pairs", pixels, lanes) in _REGISTERED:
        return name
    from tvm import s_tir
    from tvm.script import tirx as T

    P, L = pixels, lanes
    llvm_name = "llvm.x86.avx512.vpdpwssd.512" if L == 16 else "llvm.x86.avx512.vpdpwssd.256"
    i16v, i32v = f"int16x{2 * L}", f"int32x{L}"

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (P, L), "int32", offset_factor=1, strides=[T.int32(), 1])
        B = T.match_buffer(b, (L, 2), "int16", offset_factor=1)
        C = T.match_buffer(c, (P, L), "int32", offset_factor=1, strides=[T.int32(), 1])
        with T.sblock("root"):
            T.reads(C[0:P, 0:L], A[0:P, 0:L], B[0:L, 0:2])
            T.writes(C[0:P, 0:L])
            for p, i, k in T.grid(P, L, 2):
                with T.sblock("update"):
                    vp, vi, vk = T.axis.remap("SSR", [p, i, k])
                    C[vp, vi] = C[vp, vi] + T.Cast("int32", T.Cast("int16", T.shift_right(A[vp, vi], vk * 16))) * T.Cast(
                        "int32", B[vi, vk]
                    )

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        sa = T.int32()
        sc = T.int32()
        A = T.match_buffer(a, (P, L), "int32", offset_factor=1, strides=[sa, 1])
        B = T.match_buffer(b, (L, 2), "int16", offset_factor=1)
        C = T.match_buffer(c, (P, L), "int32", offset_factor=1, strides=[sc, 1])
        with T.sblock("root"):
            T.reads(C[0:P, 0:L], A[0:P, 0:L], B[0:L, 0:2])
            T.writes(C[0:P, 0:L])
            w = B.vload([0, 0], i16v)
            for p in T.unroll(P):
                C[p, T.ramp(0, 1, L)] = T.call_llvm_pure_intrin(
                    T.llvm_lookup_intrinsic_id(llvm_name),
                    C.vload([p, 0], i32v),
                    T.reinterpret(A.vload([p, 0], i32v), dtype=i16v),
                    w,
                    dtype=i32v,
                )

    s_tir.TensorIntrin.register(name, desc, impl)
    _REGISTERED.add(("pairs", pixels, lanes))
    return name


def register_packed_fc(lanes: int) -> str:
    """Register (once) the 1-row form of ``register_packed`` for fully connected layers:
    ``C[i] += int32(A[k]) * int32(B[i, k])``, ``A`` 4 unsigned inputs, ``B`` the pre-laid-out
    weights (``lanes`` x 4 contiguous bytes): one 64-byte weight load and one ``vpdpbusd``."""
    name = f"edgec_vnni_packed_fc_l{lanes}"
    if ("packed_fc", lanes) in _REGISTERED:
        return name
    from tvm import s_tir
    from tvm.script import tirx as T

    L = lanes
    llvm_name = "llvm.x86.avx512.vpdpbusd.512" if L == 16 else "llvm.x86.avx512.vpdpbusd.256"
    u8v, i8v, i32v = f"uint8x{4 * L}", f"int8x{4 * L}", f"int32x{L}"

    @T.prim_func(s_tir=True)
    def desc(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (4,), "uint8", offset_factor=1)
        B = T.match_buffer(b, (L, 4), "int8", offset_factor=1)
        C = T.match_buffer(c, (L,), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:L], A[0:4], B[0:L, 0:4])
            T.writes(C[0:L])
            for i, k in T.grid(L, 4):
                with T.sblock("update"):
                    vi, vk = T.axis.remap("SR", [i, k])
                    C[vi] = C[vi] + T.Cast("int32", A[vk]) * T.Cast("int32", B[vi, vk])

    @T.prim_func(s_tir=True)
    def impl(a: T.handle, b: T.handle, c: T.handle) -> None:
        A = T.match_buffer(a, (4,), "uint8", offset_factor=1)
        B = T.match_buffer(b, (L, 4), "int8", offset_factor=1)
        C = T.match_buffer(c, (L,), "int32", offset_factor=1)
        with T.sblock("root"):
            T.reads(C[0:L], A[0:4], B[0:L, 0:4])
            T.writes(C[0:L])
            a4 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
            C[T.ramp(0, 1, L)] = T.call_llvm_pure_intrin(
                T.llvm_lookup_intrinsic_id(llvm_name),
                C.vload([0], i32v),
                T.reinterpret(T.broadcast(a4, L), dtype=u8v),
                B.vload([0, 0], i8v),
                dtype=i32v,
            )

    s_tir.TensorIntrin.register(name, desc, impl)
    _REGISTERED.add(("packed_fc", lanes))
    return name
