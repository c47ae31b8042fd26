"""Every file cnndsl reads as data or writes goes through here: the two places where a
careless or hostile path (a FIFO, a device, a planted symlink) could hang the tool or make
it clobber what it should not.

Reading: :func:`open_regular` opens without blocking and refuses anything but a regular
file, so ``--input fifo.npy`` fails at once instead of waiting for a writer forever.

Writing: :func:`write_output` lets a writer fill a file in a private directory (made by
``tempfile.mkdtemp``: a random name, mode 0700, so nobody can plant a link inside it), then
puts it in place:

- a regular file, or no file yet: renamed over the target (a reader never sees half a
  file); an existing file keeps its permission bits (a 0600 file stays 0600) and, where
  allowed, its owner;
- a symlink: followed, as ``open()`` would — the file it points to is replaced, the link
  stays;
- a FIFO or a device (``-o /dev/stdout``): written through — opened and written, never
  replaced (opening a FIFO waits for its reader, as a shell redirection does);
- a directory: refused (``EISDIR``).

On any failure nothing is left behind: the private directory is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from typing import BinaryIO


class NotRegularFile(OSError):
    """A path that names a FIFO, a device, a socket or a directory where a file was expected."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"  # pragma: no cover (a door, a whiteout...)


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading, refusing anything but a regular file without blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once (a blocking open would wait for a
    writer); the flag is cleared again before the file is read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(errno.EINVAL, f"is {_kind(mode)}", path)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def make_dir(path: str) -> None:
    """Create a directory to write into (and its parents), unless it is one already; an
    OSError says why it cannot be: a file there, a dangling symlink, no permission."""
    try:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        dangling = os.path.islink(path) and not os.path.exists(path)
        why = "is a symlink to nothing" if dangling else "exists and is not a directory"
        raise NotADirectoryError(errno.ENOTDIR, why, path) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)


def why_unreadable(exc: OSError, what: str) -> str:
    """The one wording for a data file that cannot be opened: ``what`` names the file's
    role (``an input file``)."""
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, NotRegularFile):
        return f"{exc.strerror}, not {what}"
    return f"cannot read: {exc.strerror or exc}"


def _target(path: str) -> tuple[str, os.stat_result | None]:
    """The file a write to ``path`` lands in (symlinks followed) and its status, if any."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        return real, None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    return real, st


def check_target(path: str) -> None:
    """Fail early, before the work whose result would be written: ``path`` must not be a
    directory and its directory must exist (OSError otherwise)."""
    real, _ = _target(path)
    parent = os.path.dirname(real) or "."
    if not os.path.isdir(parent):
        raise FileNotFoundError(errno.ENOENT, "no such directory", os.path.dirname(path))


def write_output(path: str, write: Callable[[str], None], suffix: str = "") -> None:
    """Call ``write(tmp)`` to fill a fresh file, then put it at ``path`` (see the module).

    ``tmp`` lives in a private directory and ends in ``suffix`` (Keras insists on
    ``.weights.h5``). Errors are OSError, with the file name of ``path`` where known.
    """
    real, st = _target(path)
    special = st is not None and not stat.S_ISREG(st.st_mode)
    # beside the target, so that the final rename stays on one file system; a FIFO or a
    # device has no such need, and its directory (/dev) is rarely writable
    where = tempfile.gettempdir() if special else os.path.dirname(real)
    private = tempfile.mkdtemp(prefix=".cnndsl-", dir=where)
    tmp = os.path.join(private, f"out{suffix}")
    try:
        write(tmp)
        if special:
            _write_through(tmp, real)
        else:
            _finish(tmp, st)
            os.replace(tmp, real)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _finish(tmp: str, old: os.stat_result | None) -> None:
    """Give the new file the old one's permission bits and owner, and flush it to disk."""
    with open(tmp, "rb+") as fh:
        if old is not None:
            os.fchmod(fh.fileno(), stat.S_IMODE(old.st_mode))
            with contextlib.suppress(PermissionError):  # only root may give files away
                if (old.st_uid, old.st_gid) != (os.getuid(), os.getgid()):
                    os.fchown(fh.fileno(), old.st_uid, old.st_gid)
        os.fsync(fh.fileno())


def _write_through(tmp: str, target: str) -> None:
    """Copy into a FIFO or a device: opened for writing, neither created nor truncated."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "wb") as out, open(tmp, "rb") as src:
        shutil.copyfileobj(src, out)


def write_text(path: str, text: str) -> None:
    """:func:`write_output` for text: UTF-8, ``\\n`` line ends."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)

    write_output(path, write)
