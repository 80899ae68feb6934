"""The download cache: one directory, files fetched once, never half-written.

Every dataset that needs a file from the internet asks :func:`get_file` for it.
The file lands in :func:`cache_dir` (``$DEZERO_HOME``, or ``~/.dezero``) and
later calls return the cached path without touching the network.

A download is written to a temporary file next to its destination and renamed
into place only when it is complete (and matches its SHA-256 when one is
given), so an interrupted or corrupted download never leaves a file behind that
a later run would load as if it were valid. Offline, the error says where to
put the file by hand.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import io
import os
import socket
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Iterator, Optional

from dezero.optional import progress_bar

__all__ = ["DownloadError", "ChecksumError", "cache_dir", "get_file", "sha256sum", "atomic_write"]

_CHUNK = 1 << 16


class DownloadError(RuntimeError):
    """A file could not be fetched (offline, server error, connection dropped)."""


class ChecksumError(DownloadError):
    """A downloaded file does not match its expected SHA-256."""


def cache_dir() -> str:
    """The directory where downloads and extracted datasets are cached.

    ``$DEZERO_HOME`` if set (read at every call, so tests and users can
    redirect it at any time), otherwise ``~/.dezero``. It is not created here.

    Returns
    -------
    str
        An absolute path.
    """
    home = os.environ.get("DEZERO_HOME")
    if home:
        return os.path.abspath(os.path.expanduser(home))
    return os.path.join(os.path.expanduser("~"), ".dezero")


def sha256sum(path: str) -> str:
    """Hex SHA-256 of a file, read in chunks so large files need little memory.

    Parameters
    ----------
    path : str
        The file.

    Returns
    -------
    str
        64 lowercase hex digits.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_path(url: str, file_name: Optional[str]) -> str:
    if file_name is None:
        file_name = os.path.basename(urllib.parse.urlparse(url).path)
        if not file_name:
            raise ValueError(f"get_file: cannot infer a file name from the URL {url!r}; pass file_name=")
    # file_name may name a sub-folder of the cache ("mnist/x.gz") but never
    # anything outside it.
    parts = file_name.replace("\\", "/").split("/")
    if os.path.isabs(file_name) or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"get_file: file_name must be a plain relative path inside the cache, got {file_name!r}")
    return os.path.join(cache_dir(), *parts)


def _current_umask() -> int:
    # There is no way to read the umask without setting it; this is the usual idiom.
    mask = os.umask(0)
    os.umask(mask)
    return mask


def get_file(
    url: str,
    file_name: Optional[str] = None,
    sha256: Optional[str] = None,
    *,
    timeout: float = 30.0,
    progress: bool = True,
) -> str:
    """Return the local path of ``url``'s file, downloading it into the cache if absent.

    Parameters
    ----------
    url : str
        Where to fetch the file from (http, https or file URL).
    file_name : str, optional
        Name in the cache, possibly with sub-folders (``"mnist/train.gz"``);
        defaults to the last component of the URL's path.
    sha256 : str, optional
        Expected hex digest; a download that does not match raises
        :class:`ChecksumError` and is deleted. Files already in the cache are
        trusted (they were verified when downloaded, or placed there by hand).
    timeout : float
        Seconds to wait for the server at each network operation.
    progress : bool
        Show a tqdm progress bar while downloading.

    Raises
    ------
    DownloadError
        When the file cannot be fetched; the message names the URL and the
        exact path where the file can be placed by hand.

    Returns
    -------
    str
        The path of the file in the cache.
    """
    path = _cache_path(url, file_name)
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    name = os.path.basename(path)
    # Written next to the destination and renamed into place only once it is
    # complete and verified: an interrupted or corrupt download leaves nothing.
    with atomic_write(path) as out:
        digest = _download(url, out, name, timeout, progress, path)
        if sha256 is not None and digest != sha256.lower():
            raise ChecksumError(
                f"get_file: {name!r} downloaded from {url} has SHA-256 {digest}, expected {sha256.lower()}; "
                "the file was deleted. The server may be serving a different or damaged file: try again "
                f"later, or place a correct copy at {path}"
            )
    return path


# Modes that write a whole new file. Appending ("ab") or exclusive creation
# ("xb") cannot be done through a temporary file that replaces the target:
# the first would throw away what is there, the second would overwrite it.
_WRITE_MODES = ("wb", "w")


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb") -> Iterator[IO]:
    """Write a file so that it is either completely there or not changed at all.

    Yields a temporary file opened in ``mode`` in the same folder as ``path``.
    When the ``with`` block ends normally the file is flushed, fsync'd and
    renamed over ``path`` (``os.replace``, atomic on one file system), and the
    folder is fsync'd so the rename survives a power cut. When the block raises
    (KeyboardInterrupt included), the temporary file is removed and ``path`` is
    left as it was. The new file gets the mode an ordinary ``open`` would give
    it (or the mode of the file it replaces), not mkstemp's private 0600.

    When ``path`` is a symbolic link the write goes through it, as ``open``'s
    would: the file it points to (after every link on the way) is replaced,
    atomically, in its own folder, and the link is kept.

    A hard-linked file is not written in place, unlike with ``open``: ``path``
    becomes a new file and the file's other names keep the old content, as
    with every save that renames a finished file over the old one.

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace.
    mode : str
        ``"wb"`` (default) or ``"w"``: the file is always written whole.

    Raises
    ------
    ValueError
        If ``mode`` is another mode (appending, say, would lose the file's
        content, since the new file replaces it).
    FileNotFoundError
        If the folder of ``path`` does not exist (the message names ``path``).
    IsADirectoryError
        If ``path`` is a folder, or ends with a separator and names nothing.
    NotADirectoryError
        If ``path`` ends with a separator but names a file.
    PermissionError
        If ``path`` is an existing file that this user may not write (a
        read-only file, for anyone but root), as ``open`` would refuse it.
    OSError
        When the file cannot be created, written, flushed, fsync'd or
        replaced (no permission, a full disk, a name too long); the message
        names ``path``, not the temporary file. Exceptions raised by the code
        inside the ``with`` block itself pass through unchanged, except the
        file system's errors from writing to the yielded file, which name
        ``path`` too.

    Yields
    ------
    file object
        The temporary file to write to.
    """
    if mode not in _WRITE_MODES:
        raise ValueError(
            f"atomic_write: mode must be 'wb' or 'w', got {mode!r}: the file is always written "
            "whole and then replaces the old one, so appending or exclusive creation cannot be done"
        )
    path = os.fsdecode(os.fspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path!r}: it is a folder; give a file name")
    separators = os.sep + (os.altsep or "")
    if path.endswith(tuple(separators)):
        # open() refuses such a path too; realpath would drop the separator
        # and write the file it names.
        if os.path.lexists(path.rstrip(separators)):
            raise NotADirectoryError(
                errno.ENOTDIR, f"cannot write {path!r}: it ends with a separator but names a file, not a folder"
            )
        raise IsADirectoryError(
            errno.EISDIR, f"cannot write {path!r}: it ends with a separator, so it names a folder; give a file name"
        )
    # Where open() would write: through every symbolic link on the way, so that
    # the link stays and the file it points to gets the new content.
    target = os.path.realpath(path)
    if os.path.islink(target):  # realpath stops at a link it cannot resolve: a loop
        raise OSError(errno.ELOOP, f"cannot write {path!r}: too many levels of symbolic links")
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path!r}: the folder {folder!r} does not exist")
    # Replacing needs only the folder's permission: refuse a file that open()
    # could not write (read-only, for a user other than root).
    if os.path.exists(target) and not os.access(target, os.W_OK):
        raise PermissionError(errno.EACCES, f"cannot write {path!r}: the file is read-only (permission denied)")
    # The temporary name is longer than the target's: cut it, so that any name
    # the file system takes for the target also works for the temporary file.
    prefix = "." + os.path.basename(target)[:100] + "."
    try:
        fd, tmp_path = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=".tmp")
    except OSError as e:
        raise _naming(e, path) from e
    f = None
    try:
        f = _open_temporary(fd, mode, path)
        yield f
        # The caller's block is over: every OSError from here on comes from
        # the file system, and is about the user's file.
        try:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            file_mode = (os.stat(target).st_mode & 0o777) if os.path.exists(target) else 0o666 & ~_current_umask()
            os.chmod(tmp_path, file_mode)
            os.replace(tmp_path, target)
        except OSError as e:
            if _names(e, path):  # already named by the writer's flush
                raise
            raise _naming(e, path) from e
    except BaseException:
        with contextlib.suppress(OSError, ValueError):
            if f is not None:
                f.close()
            else:
                os.close(fd)
        with contextlib.suppress(OSError):
            os.remove(tmp_path)
        raise
    _fsync_folder(folder)


class _NamingWriter(io.BufferedWriter):
    """A buffered writer whose OSErrors (a full disk, a file too large) name
    the user's path: the caller writes to the temporary file without knowing
    it, and an error about it would be about nothing they asked for."""

    def __init__(self, raw, path: str):
        super().__init__(raw)
        self.user_path = path

    def write(self, data):
        try:
            return super().write(data)
        except OSError as e:
            if _names(e, self.user_path):
                raise
            raise _naming(e, self.user_path) from e

    def flush(self):
        try:
            return super().flush()
        except OSError as e:
            if _names(e, self.user_path):
                raise
            raise _naming(e, self.user_path) from e


def _open_temporary(fd: int, mode: str, path: str) -> IO:
    """The temporary file as ``open(..., mode)`` would give it, with errors naming ``path``."""
    binary = _NamingWriter(io.FileIO(fd, "w"), path)
    if mode == "wb":
        return binary
    # encoding=None: the locale's encoding, as open(path, "w") would use.
    return io.TextIOWrapper(binary, encoding=None)


def _names(error: OSError, path: str) -> bool:
    """Whether ``error`` already came from :func:`_naming` for ``path``."""
    return str(error.strerror or error).startswith(f"cannot write {path!r}: ")


def _naming(error: OSError, path: str) -> OSError:
    """The same kind of error, naming the user's path rather than the
    temporary file behind it."""
    message = f"cannot write {path!r}: {error.strerror or error}"
    return type(error)(error.errno, message) if error.errno is not None else type(error)(message)


def _fsync_folder(folder: str) -> None:
    # Makes a rename durable; not possible on every platform (Windows).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _download(url: str, out, name: str, timeout: float, progress: bool, path: str) -> str:
    """Stream ``url`` into the open file ``out``; return the SHA-256 of what was written."""

    def fail(reason: str) -> DownloadError:
        return DownloadError(
            f"get_file: could not download {name!r} from {url}: {reason}. "
            f"If you are offline or the download keeps failing, fetch it by other means and place it at {path}"
        )

    digest = hashlib.sha256()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "dezero"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None and length.isdigit() else None
            with progress_bar(
                total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=name, disable=not progress
            ) as bar:
                while True:
                    chunk = response.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as e:
        raise fail(f"HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise fail(f"{e.reason}") from e
    except http.client.IncompleteRead as e:
        raise fail(f"the connection closed after {len(e.partial) + received} bytes") from e
    except (socket.timeout, TimeoutError) as e:
        raise fail(f"no answer within {timeout} s") from e
    except (OSError, http.client.HTTPException) as e:
        raise fail(f"{type(e).__name__}: {e}") from e
    if expected is not None and received != expected:
        raise fail(f"the connection closed after {received} of {expected} bytes")
    return digest.hexdigest()
