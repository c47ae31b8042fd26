"""``.npy`` data read in two steps: the header first (shape and dtype, a few hundred bytes),
checked by the caller against what the model needs, then exactly the data it declared.

``numpy.load`` reads the header and allocates whatever it declares at once: a 1 KB file
saying 100000x100000x3 is a 120 GB allocation. Here nothing is allocated until the
caller has accepted the header, and no more is ever read than it declared — from a
file or from a member of a ``.npz`` zip alike.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO

import numpy as np
from numpy.lib import format as npformat

#: the kinds of dtype accepted as numbers: float, signed and unsigned int, bool
NUMBER_KINDS = "fiub"


class NpyError(ValueError):
    """The data is not a readable array of numbers; the message says why."""


@dataclass(frozen=True)
class Header:
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int  # where the data starts, from the start of the array's bytes

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


_READERS = {(1, 0): npformat.read_array_header_1_0, (2, 0): npformat.read_array_header_2_0}


def read_header(fh: IO[bytes]) -> Header:
    """The header at the start of ``fh``; NpyError if it is not one, or not numbers."""
    try:
        version = npformat.read_magic(fh)
        reader = _READERS.get(version)
        if reader is None:
            raise NpyError(f"unsupported .npy format version {version[0]}.{version[1]}")
        shape, fortran, dtype = reader(fh)
    except NpyError:
        raise
    except (ValueError, TypeError, KeyError, SyntaxError, EOFError, RecursionError) as exc:
        raise NpyError(f"not a .npy array ({_first_line(exc)})") from None
    shape = tuple(shape)
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise NpyError(f"the header declares an invalid shape {shape}")
    if dtype.kind not in NUMBER_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise NpyError(f"the array holds {dtype} values; it must hold numbers")
    return Header(shape, dtype, bool(fortran), fh.tell())


def read_data(fh: IO[bytes], header: Header) -> np.ndarray:
    """Exactly the bytes ``header`` declares, as its (writable) array; NpyError when fewer
    are there."""
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
    arr = np.frombuffer(buf, dtype=header.dtype)
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
