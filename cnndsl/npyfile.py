"""``.npy`` data read in two steps: the header first (shape and dtype, a few hundred bytes),
checked by the caller against what the model needs, then exactly the data it declared.

``numpy.load`` reads the header and allocates whatever it declares at once: a 1 KB file
saying 100000x100000x3 is a 120 GB allocation. Here nothing is allocated until the
caller has accepted the header, and no more is ever read than it declared — from a
file or from a member of a ``.npz`` zip alike. The header is parsed as ``numpy.lib.format``
does (``ast.literal_eval`` of a dict, at most 10,000 bytes), without importing NumPy:
refusing a file costs no import.
"""

from __future__ import annotations

import ast
import math
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_MAGIC = b"\x93NUMPY"
#: the longest header read, as numpy.load's own default (max_header_size)
MAX_HEADER = 10_000
#: numbers only: bool, signed and unsigned ints, floats of the sizes NumPy has
_DESCR = re.compile(r"([<>|=]?)([biuf])(\d{1,2})\Z")
_SIZES = {"b": (1,), "i": (1, 2, 4, 8), "u": (1, 2, 4, 8), "f": (2, 4, 8)}
_NAMES = {"b": "bool", "i": "int", "u": "uint", "f": "float"}
_KEYS = {"descr", "fortran_order", "shape"}


class NpyError(ValueError):
    """The data is not a readable array of numbers; the message says why."""


@dataclass(frozen=True)
class Header:
    """What a .npy header declares: parsed without NumPy (a refusal costs no import)."""

    shape: tuple[int, ...]
    descr: str  # "<f4", "|u1"...: numpy.dtype(descr) reads it
    fortran: bool

    @property
    def kind(self) -> str:
        return self.descr.lstrip("<>|=")[0]

    @property
    def itemsize(self) -> int:
        return int(self.descr.lstrip("<>|=")[1:])

    @property
    def type_name(self) -> str:
        """``float32``, ``uint8``, ``bool``: as NumPy names the dtype."""
        return "bool" if self.kind == "b" else f"{_NAMES[self.kind]}{8 * self.itemsize}"

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.itemsize


def _exactly(fh: IO[bytes], n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise NpyError("not a .npy array (the header is cut short)")
    return data


def _header_text(fh: IO[bytes]) -> str:
    """The header's dict literal, versions 1.0 to 3.0, at most MAX_HEADER bytes of it."""
    magic = fh.read(8)
    if len(magic) != 8 or magic[:6] != _MAGIC:
        raise NpyError("not a .npy array (it does not start with the .npy magic string)")
    version = (magic[6], magic[7])
    if version == (1, 0):
        size = struct.unpack("<H", _exactly(fh, 2))[0]
    elif version in ((2, 0), (3, 0)):
        size = struct.unpack("<I", _exactly(fh, 4))[0]
    else:
        raise NpyError(f"unsupported .npy format version {version[0]}.{version[1]}")
    if size > MAX_HEADER:
        raise NpyError(f"the .npy header is {size:,} bytes long; at most {MAX_HEADER:,} are read")
    try:
        return _exactly(fh, size).decode("utf-8" if version == (3, 0) else "latin-1")
    except UnicodeDecodeError:
        raise NpyError("not a .npy array (the header is not text)") from None


def read_header(fh: IO[bytes]) -> Header:
    """The header at the start of ``fh``; NpyError if it is not one, or not of numbers."""
    text = _header_text(fh)
    try:
        d = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise NpyError("not a .npy array (the header is not a Python literal)") from None
    if not isinstance(d, dict) or set(d) != _KEYS:
        raise NpyError(f"not a .npy array (the header must have the keys {sorted(_KEYS)})")
    return _header(d["shape"], d["descr"], d["fortran_order"])


def _header(shape: object, descr: object, fortran: object) -> Header:
    """The three fields checked: a shape of sizes, a dtype of numbers, an order."""
    if not isinstance(shape, tuple) or any(type(n) is not int or n < 0 for n in shape):
        raise NpyError(f"the .npy header declares an invalid shape {shape!r:.60}")
    match = _DESCR.match(descr) if isinstance(descr, str) else None
    if match is None or int(match[3]) not in _SIZES[match[2]] or type(fortran) is not bool:
        raise NpyError(f"the array holds {descr!r:.40} values; it must hold numbers")
    return Header(shape, match[0], fortran)


def read_data(fh: IO[bytes], header: Header) -> np.ndarray:
    """Exactly the bytes ``header`` declares, as its (writable) array; NpyError when fewer
    are there."""
    import numpy as np

    want = header.nbytes
    buf = bytearray(want)
    view, got = memoryview(buf), 0
    while got < want:
        n = fh.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            raise NpyError(
                f"the data is truncated: the header declares {want:,} bytes, {got:,} follow"
            )
        got += n
    arr = np.frombuffer(buf, dtype=np.dtype(header.descr))
    return arr.reshape(header.shape, order="F" if header.fortran else "C")


# ---------------------------------------------------------------- .npz members

#: what numpy.savez and savez_compressed write; bzip2 and lzma would decompress whole
#: blocks at a time, with no bound on what one block gives
_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_ZIP_ERRORS = (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError, zlib.error)


class NpzError(ValueError):
    """A member of a .npz could not be read; the message names it."""


def npy_headers(zf: zipfile.ZipFile, wanted: set[str]) -> dict[str, Header | str]:
    """Each member by its key (its name without ``.npy``, as numpy.load names it): the
    ``.npy`` header of a wanted member — a few hundred bytes decompressed — or why it has
    none; members nobody wants are listed, never opened."""
    out: dict[str, Header | str] = {}
    for info in zf.infolist():
        key = info.filename.removesuffix(".npy")
        if key not in wanted:
            out[key] = "not read"
        elif key == info.filename:
            out[key] = "not a .npy member"
        else:
            out[key] = _member_header(zf, info)
    return out


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Header | str:
    if info.flag_bits & 0x1:
        return "the member is encrypted"
    if info.compress_type not in _METHODS:
        return (
            f"compression method {info.compress_type} is not read (numpy.savez writes "
            "stored or deflated members)"
        )
    try:
        with zf.open(info) as fh:
            return read_header(fh)
    except NpyError as exc:
        return str(exc)
    except _ZIP_ERRORS as exc:
        return f"not readable ({_first_line(exc)})"


def read_member(zf: zipfile.ZipFile, key: str, header: Header | str) -> np.ndarray:
    """The data of a member whose header was accepted: exactly what it declared."""
    assert isinstance(header, Header)
    try:
        with zf.open(f"{key}.npy") as fh:
            if read_header(fh) != header:
                raise NpyError("the member changed while it was read")
            return read_data(fh, header)
    except NpyError as exc:
        raise NpzError(f"{key}: {exc}") from None
    except _ZIP_ERRORS as exc:
        raise NpzError(f"{key}: not readable ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
