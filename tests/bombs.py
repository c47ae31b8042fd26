"""Hostile and careless inputs, made at test time: each is a cnndsl command line that must
fail cleanly — exit 1 (2 for wrong usage), a message on stderr, no traceback — at once and
in little memory. Shared by tests/test_bombs.py (which runs each under an address-space
limit) and bench/bench_bombs.py (which times each).

Nothing here is large on disk: the bombs declare sizes their bytes do not have (a .npy
header, a PNG header, a zip member whose deflate stream repeats one block).
"""

from __future__ import annotations

import io
import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GIB = 1 << 30


@dataclass(frozen=True)
class Bomb:
    """``cnndsl *args`` must exit ``status`` with ``says`` on stderr."""

    name: str
    args: tuple[str, ...]
    status: int
    says: str


# ---------------------------------------------------------------- file makers


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """A version 1.0 .npy header declaring ``shape``, without the data."""
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    text += " " * (63 - (len(text) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of_zeros(path: Path, width: int, height: int, rows: int | None = None) -> None:
    """A grayscale PNG of ``width x height`` black pixels; only ``rows`` rows of image data
    are stored when given (a header that lies). The zlib stream repeats one fully flushed
    block per row, so even an 81-megapixel image is made in a blink."""
    raw_row = bytes(width + 1)  # filter byte 0, then the row
    n = height if rows is None else rows
    comp = zlib.compressobj(9)
    head = comp.compress(raw_row) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(raw_row) + comp.flush(zlib.Z_FULL_FLUSH)
    body = head + block * (n - 1) if n > 1 else head
    total = len(raw_row) * n
    adler = ((total % 65521) << 16) | 1  # Adler-32 of zeros: a = 1, b = length
    tail = comp.flush()  # an empty final block and the compressor's (wrong) Adler-32
    data = body + tail[:-4] + struct.pack(">I", adler)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", data)
    path.write_bytes(png + _chunk(b"IEND", b""))


def zip_of(path: Path, members: dict[str, tuple[bytes, int, int]]) -> None:
    """A zip of deflated members given as (raw deflate stream, uncompressed size, CRC-32),
    written by hand: zipfile cannot store precompressed data."""
    local, central = b"", b""
    for name, (data, size, crc) in members.items():
        fname = name.encode()
        offset = len(local)
        fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0, crc, len(data), size)
        local += b"PK\x03\x04" + fields + struct.pack("<HH", len(fname), 0) + fname + data
        central += (
            b"PK\x01\x02"
            + struct.pack("<H", 20)
            + fields
            + struct.pack("<HHHHHII", len(fname), 0, 0, 0, 0, 0, offset)
            + fname
        )
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0
    )
    path.write_bytes(local + central + end)


def _gf2_times(mat: list[int], vec: int) -> int:
    out, i = 0, 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """CRC-32 of A + B from those of A and B (zlib's crc32_combine): 1 GiB of zeros is
    checksummed by doubling, not by reading it."""
    mat = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    for _ in range(2):  # four zero bits; squared once more below: a zero byte
        mat = [_gf2_times(mat, mat[n]) for n in range(32)]
    while len2:
        mat = [_gf2_times(mat, mat[n]) for n in range(32)]  # twice as many zeros
        if len2 & 1:
            crc1 = _gf2_times(mat, crc1)
        len2 >>= 1
    return crc1 ^ crc2


def crc32_of_zeros(n: int) -> int:
    """CRC-32 of ``n`` zero bytes (a power of two times 1 MiB, or less than 1 MiB)."""
    if n <= 1 << 20:
        return zlib.crc32(bytes(n))
    half = crc32_of_zeros(n // 2)
    return crc32_combine(half, half, n // 2)


def deflated_zeros(header: bytes, zeros: int) -> tuple[bytes, int, int]:
    """A raw deflate stream of ``header`` then ``zeros`` zero bytes (a power of two MiB),
    with its size and CRC-32: 1 GiB of zeros deflates to about 1 MB."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = comp.compress(header) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(1 << 20)) + comp.flush(zlib.Z_FULL_FLUSH)
    crc = crc32_combine(zlib.crc32(header), crc32_of_zeros(zeros), zeros)
    return head + block * (zeros >> 20) + comp.flush(), len(header) + zeros, crc


def npz_member(arr: np.ndarray) -> tuple[bytes, int, int]:
    """An honest member: the .npy bytes of ``arr``, deflated."""
    buf = io.BytesIO()
    np.save(buf, arr)
    return _deflated(buf.getvalue())


# ---------------------------------------------------------------- the bombs


def _model(tmp: Path, name: str, text: str) -> str:
    path = tmp / f"{name}.cnn"
    path.write_text(text)
    return str(path)


def memory_bombs(tmp: Path) -> list[Bomb]:
    """Models that check but whose run would need tebibytes, or minutes of a tap loop, or
    whose drawing would route millions of edge waypoints."""
    x = tmp / "x.npy"
    np.save(x, np.ones((8, 8, 1), np.float32))
    layers = {
        "pool_100000_same": "pool max 100000 same",
        "upsample_100000x100000": "upsample 100000x100000",
        "zeropad_100000": "zeropad 100000",
        "depthwise_multiplier_1e11": "depthwise 3x3 multiplier=100000000000",
        "dense_1e11": "flatten\ndense 100000000000",
    }
    bombs = [
        Bomb(
            name,
            ("run", _model(tmp, name, f"input 8x8x1\n{layer}\n"), "-i", str(x)),
            1,
            "over the memory budget",
        )
        for name, layer in layers.items()
    ]
    pool = _model(tmp, "pool_20000", "input 8x8x1\npool max 20000 same\n")
    # every block joins the first conv: 25 million waypoints for the SVG layout to route
    skips = _model(
        tmp,
        "skips_5000",
        "input 8x8x8\nconv 8 3x3 same name=c0\nrepeat 5000 { conv 8 1x1; add c0 }\n",
    )
    # one 3,000-character stage label, 60 stages deep, copied into 10,000 layer names
    nested = "repeat 10000 { conv 1 1x1 }"
    for _ in range(60):
        nested = f"stage t {{ {nested} }}"
    names = _model(tmp, "long_names", f"block s(t) {{ {nested} }}\ninput 4x4x1\ns {'a' * 3000}\n")
    dense = str(tmp / "dense_1e11.cnn")
    small = _model(tmp, "small", "input 8x8x1\nconv 2 3x3\n")
    return [
        *bombs,
        Bomb("pool_20000_same_work", ("run", pool, "-i", str(x)), 1, "over the work limit"),
        Bomb("long_names_summary", ("summary", names), 1, "names are at most 200"),
        Bomb(
            "diagram_skips_5000",
            ("diagram", skips, "-o", str(tmp / "skips.svg")),
            1,
            "waypoints to route its edges",
        ),
        Bomb(
            "feature_maps_of_10000_layers",
            (
                "run",
                _model(tmp, "relu_10000", "input 8x8x1\nrepeat 10000 { relu }\n"),
                "-i",
                str(x),
                "--feature-maps",
                str(tmp / "maps"),
            ),
            1,
            "over the limit of 1,000,000,000",
        ),
        Bomb(
            "filters_conv_1e5",
            (
                "filters",
                _model(tmp, "conv_1e5", "input 8x8x512\nconv 100000 3x3 same\n"),
                "-o",
                str(tmp / "filters"),
            ),
            1,
            "over the memory budget",
        ),
        Bomb(
            "init_weights_dense_1e11",
            ("init-weights", dense, "-o", str(tmp / "w.npz")),
            1,
            "over the memory budget",
        ),
        Bomb(
            "verify_samples_1e8",
            ("verify", small, "--samples", "100000000"),
            1,
            "over the memory budget",
        ),
    ]


def input_bombs(tmp: Path) -> list[Bomb]:
    """Data files whose headers declare what their bytes are not."""
    small = _model(tmp, "small", "input 8x8x1\nconv 2 3x3\n")
    rgb = _model(tmp, "rgb", "input 8x8x3\nconv 2 3x3\n")
    x = tmp / "x.npy"
    np.save(x, np.ones((8, 8, 1), np.float32))
    (tmp / "bomb.npy").write_bytes(npy_header((100000, 100000, 3)) + bytes(900))
    (tmp / "batch.npy").write_bytes(npy_header((10**9, 8, 8, 1)) + bytes(900))
    png_of_zeros(tmp / "bomb.png", 50000, 50000, rows=1)
    png_of_zeros(tmp / "81mpx.png", 9000, 9000)
    zip_of(tmp / "declares_2g.npz", {"conv_1/kernel.npy": _deflated(npy_header((1 << 31,)))})
    np.save(tmp / "single.npy", np.zeros((3, 3, 1, 2), np.float32))
    (tmp / "single.npz").write_bytes((tmp / "single.npy").read_bytes())
    gib = deflated_zeros(npy_header((GIB // 4,)), GIB)
    honest = {
        "conv_1/kernel.npy": npz_member(np.zeros((3, 3, 1, 2), np.float32)),
        "conv_1/bias.npy": npz_member(np.zeros(2, np.float32)),
    }
    zip_of(
        tmp / "zipbomb.npz",
        {"conv_1/kernel.npy": gib, "conv_1/bias.npy": honest["conv_1/bias.npy"]},
    )
    zip_of(tmp / "zipbomb_extra.npz", {**honest, "junk.npy": gib})
    fifo = tmp / "fifo.npy"
    os.mkfifo(fifo)
    with open(tmp / "huge.cnn", "wb") as fh:
        fh.truncate(17 << 20)  # sparse: no disk used
    run = ("run", small, "-i", str(x), "-w")
    return [
        Bomb(
            "npy_header_100000x100000x3",
            ("run", small, "-i", str(tmp / "bomb.npy")),
            1,
            "has shape 100000x100000x3",
        ),
        Bomb(
            "npy_batch_1e9_truncated", ("run", small, "-i", str(tmp / "batch.npy")), 1, "truncated"
        ),
        Bomb("png_50000x50000", ("run", rgb, "-i", str(tmp / "bomb.png")), 1, "too large"),
        Bomb("png_81_megapixels", ("run", rgb, "-i", str(tmp / "81mpx.png")), 1, "too large"),
        Bomb(
            "npz_member_2g_floats", (*run, str(tmp / "declares_2g.npz")), 1, "has shape 2147483648"
        ),
        Bomb("npy_renamed_npz", (*run, str(tmp / "single.npz")), 1, "a single .npy array"),
        Bomb("zip_bomb_member", (*run, str(tmp / "zipbomb.npz")), 1, "has shape 268435456"),
        Bomb(
            "zip_bomb_unused_member",
            (*run, str(tmp / "zipbomb_extra.npz")),
            1,
            "unexpected array junk",
        ),
        Bomb("fifo_input", ("run", small, "-i", str(fifo)), 1, "is a FIFO"),
        Bomb("model_of_17_mib", ("check", str(tmp / "huge.cnn")), 1, "larger than the limit"),
        Bomb("fifo_weights", (*run, str(fifo)), 1, "is a FIFO"),
    ]


def _deflated(raw: bytes) -> tuple[bytes, int, int]:
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(raw) + comp.flush(), len(raw), zlib.crc32(raw)


def output_bombs(tmp: Path) -> list[Bomb]:
    """Places the tool must not write to, and wrong usage."""
    small = _model(tmp, "small", "input 8x8x1\nconv 2 3x3\n")
    x = tmp / "x.npy"
    np.save(x, np.ones((8, 8, 1), np.float32))
    (tmp / "a_file").write_text("not a directory")
    (tmp / "dangling").symlink_to(tmp / "nowhere")
    (tmp / "a_dir").mkdir()
    run = ("run", small, "-i", str(x), "--feature-maps")
    return [
        Bomb("feature_maps_at_a_file", (*run, str(tmp / "a_file")), 1, "cannot write"),
        Bomb("feature_maps_dangling_symlink", (*run, str(tmp / "dangling")), 1, "cannot write"),
        Bomb("feature_maps_under_a_file", (*run, str(tmp / "a_file" / "maps")), 1, "cannot write"),
        Bomb(
            "init_weights_to_a_directory",
            ("init-weights", small, "-o", str(tmp / "a_dir")),
            1,
            "cannot write",
        ),
        Bomb("seed_negative", ("run", small, "-i", str(x), "--seed", "-1"), 2, "seed"),
        Bomb("samples_zero", ("verify", small, "--samples", "0"), 2, "--samples"),
        Bomb(
            "max_memory_nonsense",
            ("run", small, "-i", str(x), "--max-memory", "lots"),
            2,
            "not a size",
        ),
    ]


def unwritable_dir(tmp: Path) -> Path:
    """A directory nobody but root may write into (root may: callers skip then)."""
    d = tmp / "read_only"
    d.mkdir()
    d.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return d


def all_bombs(tmp: Path) -> list[Bomb]:
    """Every family, each in its own directory."""
    out = []
    for family in (memory_bombs, input_bombs, output_bombs):
        d = tmp / family.__name__
        d.mkdir()
        out += family(d)
    return out
