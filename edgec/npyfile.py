"""Reading users' ``.npy`` and ``.npz`` files without trusting their headers.

``numpy.load`` believes the header: a damaged or hostile file can make it
allocate the declared size before noticing the data is missing, and its
failures come as a dozen exception types (tokenizer errors, EOFError, zip and
zlib errors...).  Here the header is checked against the bytes actually
present before anything is allocated, only plain numeric arrays are accepted
(never pickles), and every problem is a ``ValueError`` subclass,
``NpyFileError``, whose one-line message says what is wrong, for the caller to
turn into its own ``EdgecError``.
"""

from __future__ import annotations

import io
import lzma
import math
import struct
import tokenize
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

NUMERIC_KINDS = "biufc"  # bool, signed/unsigned int, float, complex
DEFLATE_MAX_RATIO = 1100  # deflate cannot expand data more than ~1032:1
ZIP_ERRORS = (
    zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError,
    OSError, struct.error, UnicodeError, OverflowError, ValueError,
)
HEADER_ERRORS = (ValueError, SyntaxError, tokenize.TokenError, TypeError, KeyError, EOFError, UnicodeError)


class NpyFileError(ValueError):
    """The file is not a readable numeric .npy array / .npz archive."""


def parse_npy(raw: bytes) -> np.ndarray:
    """The numeric array stored in ``raw`` (the bytes of a .npy file)."""
    if raw[:6] != npy_format.MAGIC_PREFIX:
        if raw[:4] == b"PK\x03\x04":
            raise NpyFileError("it is a .npz archive, not a .npy array")
        raise NpyFileError("it is not a .npy file (no NUMPY header)")
    stream = io.BytesIO(raw)
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_1_0(stream, max_header_size=10000)
        elif version == (2, 0):
            shape, fortran_order, dtype = npy_format.read_array_header_2_0(stream, max_header_size=10000)
        else:
            raise ValueError(f"unsupported .npy format version {version[0]}.{version[1]}")
    except HEADER_ERRORS as e:
        raise NpyFileError(f"its .npy header is damaged ({_first_line(e)})") from None
    if dtype.kind not in NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise NpyFileError(f"it holds {dtype} values, not numbers; save a numeric array")
    count = math.prod(shape)
    data = memoryview(raw)[stream.tell() :]
    if count * dtype.itemsize != len(data):
        raise NpyFileError(
            f"its header declares shape {list(shape)} of {dtype} ({count * dtype.itemsize} bytes) "
            f"but it holds {len(data)} bytes of data"
        )
    array = np.frombuffer(data, dtype=dtype, count=count)
    return array.reshape(shape, order="F" if fortran_order else "C").copy()


def read_npy(path: str | Path) -> np.ndarray:
    return parse_npy(Path(path).read_bytes())


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of a .npz archive, by name (member name without ``.npy``)."""
    raw = Path(path).read_bytes()
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for info in archive.infolist():
                if not info.filename:
                    raise NpyFileError("it has a member without a name; the archive is damaged")
                if info.filename.endswith("/"):
                    continue  # a folder entry
                if info.flag_bits & 0x1:
                    raise NpyFileError(f"member {info.filename!r} is encrypted; save the arrays with numpy.savez")
                name = info.filename.removesuffix(".npy")
                if info.file_size > DEFLATE_MAX_RATIO * max(info.compress_size, 1024):
                    raise NpyFileError(f"member {info.filename!r} claims {info.file_size} bytes; the archive is damaged")
                with archive.open(info) as member:
                    data = member.read(info.file_size + 1)
                if len(data) != info.file_size:
                    raise NpyFileError(f"member {info.filename!r} is truncated")
                try:
                    arrays[name] = parse_npy(data)
                except NpyFileError as e:
                    raise NpyFileError(f"member {info.filename!r}: {e}") from None
    except NpyFileError:
        raise
    except ZIP_ERRORS as e:
        raise NpyFileError(f"it is not a readable .npz archive ({type(e).__name__}: {_first_line(e)})") from None
    if not arrays:
        raise NpyFileError("the archive holds no arrays")
    return arrays


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:160] if lines else type(e).__name__
