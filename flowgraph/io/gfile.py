"""TF1's ``tf.gfile`` (and TF2's ``tf.io.gfile``): file I/O that raises ``tf.errors``.

Code written for TensorFlow catches ``tf.errors.NotFoundError`` and friends, not
``OSError``, so every operating-system failure is translated into the matching TF error
class with the offending path in its message.  Local paths are served by the standard
library; paths with a URL scheme (``gs://``, ``s3://``, ``memory://``...) go through
``fsspec`` when the optional ``flowgraph[fsspec]`` extra is installed.

Semantics follow TF1: file objects open lazily (a read-mode file on the first read, a
write-mode file on the first write, so ``GFile(p, "w")`` closed without writing leaves
``p`` untouched), sizes and offsets count bytes even in text mode, and text mode decodes
UTF-8 without translating newlines.
"""

from __future__ import annotations

import codecs
import errno as _errno
import glob as _glob
import os
import posixpath
import re
import shutil
import stat as _stat
from dataclasses import dataclass
from typing import IO, Any, Callable, Iterable, Iterator, List, Optional, Tuple, Union

from flowgraph import errors

PathLike = Union[str, bytes, "os.PathLike[str]"]

_FSSPEC_HINT = "pip install 'flowgraph[fsspec]'"
_URL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)

# errno -> TF error class, following the POSIX-to-status mapping TF's local file system uses.
_ERRNO_CLASSES = {
    errors.NotFoundError: ("ENOENT", "ENODEV", "ENXIO", "ESRCH"),
    errors.AlreadyExistsError: ("EEXIST",),
    errors.PermissionDeniedError: ("EACCES", "EPERM", "EROFS"),
    errors.FailedPreconditionError: ("EISDIR", "ENOTDIR", "ENOTEMPTY", "EBUSY", "ETXTBSY", "ELOOP"),
    errors.InvalidArgumentError: ("EINVAL", "ENAMETOOLONG", "ESPIPE", "EBADF"),
    errors.ResourceExhaustedError: ("ENOSPC", "EMFILE", "ENFILE", "ENOMEM", "EDQUOT", "EMLINK"),
    errors.OutOfRangeError: ("EFBIG", "EOVERFLOW", "ERANGE"),
    errors.UnimplementedError: ("ENOSYS", "ENOTSUP", "EOPNOTSUPP", "EXDEV"),
    errors.UnavailableError: ("EAGAIN", "EINTR", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT"),
}
_ERRNO_TO_CLASS = {
    getattr(_errno, name): cls for cls, names in _ERRNO_CLASSES.items() for name in names if hasattr(_errno, name)
}
# Remote file systems often raise OSError subclasses without an errno.
_OSERROR_CLASSES = (
    (FileNotFoundError, errors.NotFoundError),
    (FileExistsError, errors.AlreadyExistsError),
    (PermissionError, errors.PermissionDeniedError),
    (IsADirectoryError, errors.FailedPreconditionError),
    (NotADirectoryError, errors.FailedPreconditionError),
)


def _error_from_os(exc: OSError, path: str) -> errors.OpError:
    """Builds the TF error matching ``exc``, with TF's ``"<path>; <reason>"`` message."""
    cls = _ERRNO_TO_CLASS.get(exc.errno) if exc.errno is not None else None
    if cls is None:
        cls = next((tf_cls for os_cls, tf_cls in _OSERROR_CLASSES if isinstance(exc, os_cls)), errors.UnknownError)
    reason = exc.strerror or str(exc) or type(exc).__name__
    return cls(None, None, f"{path}; {reason}")


class _Translate:
    """Context manager turning ``OSError`` into the TF error class naming ``path``."""

    __slots__ = ("_path",)

    def __init__(self, path: str) -> None:
        self._path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc is not None and isinstance(exc, OSError):
            raise _error_from_os(exc, self._path) from exc
        return False


def _path_str(path: PathLike) -> str:
    """Accepts str, bytes and path-like objects, as TF's ``compat.path_to_str`` does."""
    path = os.fspath(path)
    return path.decode("utf-8") if isinstance(path, bytes) else path


@dataclass(frozen=True)
class FileStatistics:
    """What ``Stat`` returns: TF's ``FileStatistics`` fields."""

    length: int
    mtime_nsec: int
    is_directory: bool


# --------------------------------------------------------------------------- back ends


class _LocalFileSystem:
    """Local paths (and ``file://`` URLs) through the standard library."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix  # "file://" when the caller used a file URL, re-added to glob results

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def mkdir(self, path: str) -> None:
        os.mkdir(path)

    def scandir(self, path: str) -> List[Tuple[str, bool]]:
        with os.scandir(path) as entries:
            return sorted((e.name, e.is_dir()) for e in entries)

    def glob(self, pattern: str) -> List[str]:
        # TF's matcher lets '*' match dot-files; glob needs include_hidden (3.11+) for that.
        try:
            found = _glob.glob(pattern, include_hidden=True)
        except TypeError:
            found = _glob.glob(pattern)
        return sorted(self._prefix + p for p in found)

    def remove(self, path: str) -> None:
        os.remove(path)

    def rmtree(self, path: str) -> None:
        if os.path.islink(path) or not os.path.isdir(path):
            os.remove(path)
        else:
            shutil.rmtree(path)

    def copy(self, src: str, dst: str) -> None:
        if os.path.exists(dst) and os.path.samefile(src, dst):
            return
        shutil.copyfile(src, dst)

    def rename(self, src: str, dst: str) -> None:
        try:
            os.replace(src, dst)
        except OSError as exc:
            if exc.errno != _errno.EXDEV:
                raise
            shutil.move(src, dst)  # across devices: copy then delete

    def stat(self, path: str) -> FileStatistics:
        st = os.stat(path)
        return FileStatistics(st.st_size, st.st_mtime_ns, _stat.S_ISDIR(st.st_mode))

    def open(self, path: str, mode: str) -> IO[bytes]:
        return open(path, mode)  # noqa: SIM115 -- owned by GFile


class _FsspecFileSystem:
    """URL paths through an fsspec file system; results keep the caller's ``scheme://`` form."""

    def __init__(self, fs: Any, scheme: str, rooted: bool) -> None:
        self._fs = fs
        self._scheme = scheme
        self._rooted = rooted  # whether the caller wrote "scheme:///..." (e.g. file-like stores)

    def url(self, native: str) -> str:
        native = native if self._rooted else native.lstrip("/")
        return f"{self._scheme}://{native}"

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(path))

    def isdir(self, path: str) -> bool:
        return bool(self._fs.isdir(path))

    def makedirs(self, path: str) -> None:
        self._fs.makedirs(path, exist_ok=True)

    def mkdir(self, path: str) -> None:
        self._fs.mkdir(path, create_parents=False)

    def scandir(self, path: str) -> List[Tuple[str, bool]]:
        found = []
        for entry in self._fs.ls(path, detail=True):
            name = posixpath.basename(entry["name"].rstrip("/"))
            if name:
                found.append((name, entry.get("type") == "directory"))
        return sorted(set(found))

    def glob(self, pattern: str) -> List[str]:
        return sorted(self.url(p) for p in self._fs.glob(pattern))

    def remove(self, path: str) -> None:
        self._fs.rm_file(path)

    def rmtree(self, path: str) -> None:
        self._fs.rm(path, recursive=True)

    def copy(self, src: str, dst: str) -> None:
        self._fs.copy(src, dst)

    def rename(self, src: str, dst: str) -> None:
        self._fs.mv(src, dst, recursive=True)

    def stat(self, path: str) -> FileStatistics:
        info = self._fs.info(path)
        is_dir = info.get("type") == "directory"
        return FileStatistics(int(info.get("size") or 0), _mtime_nsec(info), is_dir)

    def open(self, path: str, mode: str) -> IO[bytes]:
        return self._fs.open(path, mode)


def _mtime_nsec(info: dict) -> int:
    """Best-effort modification time from the differently named fields fsspec back ends report."""
    for key in ("mtime", "LastModified", "updated", "last_modified", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return int(value * 1e9)
        if isinstance(value, str):
            from datetime import datetime

            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                continue
        if hasattr(value, "timestamp"):
            return int(value.timestamp() * 1e9)
    return 0


def _load_fsspec() -> Any:
    """Imports fsspec on demand so that local-only users never need it."""
    import fsspec  # noqa: PLC0415 -- optional dependency

    return fsspec


def _resolve(path: PathLike) -> Tuple[Any, str, str]:
    """Returns ``(file system, native path, path as the user wrote it)``."""
    shown = _path_str(path)
    match = _URL_RE.match(shown)
    if match is None:
        return _LOCAL, shown, shown
    scheme, rest = match.group(1), match.group(2)
    if scheme.lower() == "file":
        return _LocalFileSystem("file://"), rest, shown
    try:
        fsspec = _load_fsspec()
    except ImportError:
        raise errors.UnimplementedError(
            None,
            None,
            f"{shown}: the '{scheme}://' file system needs the optional fsspec support; "
            f"install it with: {_FSSPEC_HINT}",
        ) from None
    try:
        fs, native = fsspec.core.url_to_fs(shown)
    except (ImportError, ValueError) as exc:
        raise errors.UnimplementedError(
            None, None, f"{shown}: fsspec cannot open the '{scheme}://' file system ({exc})"
        ) from exc
    return _FsspecFileSystem(fs, scheme, rest.startswith("/")), native, shown


_LOCAL = _LocalFileSystem()


def _not_found(path: str, what: str = "No such file or directory") -> errors.NotFoundError:
    return errors.NotFoundError(None, None, f"{path}; {what}")


# --------------------------------------------------------------------- path functions


def exists(path: PathLike) -> bool:
    """True when ``path`` names an existing file or directory."""
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        return fs.exists(native)


def isdir(path: PathLike) -> bool:
    """True when ``path`` is an existing directory (False when missing)."""
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        return fs.isdir(native)


def makedirs(path: PathLike) -> None:
    """Creates ``path`` and its missing parents; succeeds if the directory exists."""
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        if fs.exists(native) and not fs.isdir(native):
            raise errors.FailedPreconditionError(None, None, f"{shown}; exists and is not a directory")
        fs.makedirs(native)


def mkdir(path: PathLike) -> None:
    """Creates one directory; AlreadyExistsError if it exists, NotFoundError if its parent is missing."""
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        if fs.exists(native):
            raise errors.AlreadyExistsError(None, None, f"{shown}; File exists")
        fs.mkdir(native)


def _scandir(path: PathLike) -> Tuple[Any, str, str, List[Tuple[str, bool]]]:
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        if not fs.isdir(native):
            raise errors.NotFoundError(None, None, f"Could not find directory {shown}")
        return fs, native, shown, fs.scandir(native)


def listdir(path: PathLike) -> List[str]:
    """Names (not paths) of the entries in directory ``path``, sorted; NotFoundError if it isn't one."""
    return [name for name, _ in _scandir(path)[3]]


def glob(pattern: Union[PathLike, Iterable[PathLike]]) -> List[str]:
    """Paths matching a pattern (``*``, ``?``, ``[...]``), or the union over a list of patterns."""
    if isinstance(pattern, (str, bytes, os.PathLike)):
        patterns = [pattern]
    else:
        patterns = list(pattern)
    matches: List[str] = []
    for one in patterns:
        fs, native, shown = _resolve(one)
        with _Translate(shown):
            matches.extend(fs.glob(native))
    return matches


def walk(
    top: PathLike, topdown: bool = True, onerror: Optional[Callable[[errors.OpError], None]] = None
) -> Iterator[Tuple[str, List[str], List[str]]]:
    """Yields ``(dirname, subdir names, file names)`` for each directory under ``top``.

    As in TF, a directory that cannot be listed (including a missing ``top``) is skipped
    after passing its error to ``onerror``; with ``topdown`` the caller may prune
    ``subdirs`` in place.
    """
    _resolve(top)  # an unsupported scheme is an error, not an unlistable directory
    try:
        fs, _, shown, entries = _scandir(top)
    except errors.OpError as err:
        if onerror is not None:
            onerror(err)
        return
    subdirs = [name for name, is_dir in entries if is_dir]
    files = [name for name, is_dir in entries if not is_dir]
    here = (shown, subdirs, files)
    if topdown:
        yield here
    for subdir in subdirs:
        yield from walk(fs.join(shown, subdir), topdown, onerror)
    if not topdown:
        yield here


def remove(path: PathLike) -> None:
    """Deletes one file; NotFoundError if missing, FailedPreconditionError for a directory."""
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        if fs.isdir(native):
            raise errors.FailedPreconditionError(None, None, f"{shown}; Is a directory")
        fs.remove(native)


def rmtree(path: PathLike) -> None:
    """Deletes a directory tree (or a single file); NotFoundError if nothing is there."""
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        if not fs.exists(native):
            raise _not_found(shown)
        fs.rmtree(native)


def _check_source_file(fs: Any, native: str, shown: str) -> None:
    if not fs.exists(native):
        raise _not_found(shown)
    if fs.isdir(native):
        raise errors.FailedPreconditionError(None, None, f"{shown}; Is a directory")


def copy(src: PathLike, dst: PathLike, overwrite: bool = False) -> None:
    """Copies a file; AlreadyExistsError when ``dst`` exists and ``overwrite`` is False."""
    src_fs, src_native, src_shown = _resolve(src)
    dst_fs, dst_native, dst_shown = _resolve(dst)
    with _Translate(src_shown):
        _check_source_file(src_fs, src_native, src_shown)
    with _Translate(dst_shown):
        if dst_fs.exists(dst_native):
            if dst_fs.isdir(dst_native):
                raise errors.FailedPreconditionError(None, None, f"{dst_shown}; Is a directory")
            if not overwrite:
                raise errors.AlreadyExistsError(None, None, f"{dst_shown}; file already exists")
    if type(src_fs) is type(dst_fs) and getattr(src_fs, "_fs", None) is getattr(dst_fs, "_fs", None):
        with _Translate(f"{src_shown} -> {dst_shown}"):
            src_fs.copy(src_native, dst_native)
        return
    # Different file systems (e.g. local -> gs://): stream the bytes across.
    with GFile(src, "rb") as reader, GFile(dst, "wb") as writer:
        while True:
            chunk = reader.read(1 << 20)
            if not chunk:
                break
            writer.write(chunk)


def rename(src: PathLike, dst: PathLike, overwrite: bool = False) -> None:
    """Moves a file or directory; AlreadyExistsError when ``dst`` exists and ``overwrite`` is False."""
    src_fs, src_native, src_shown = _resolve(src)
    dst_fs, dst_native, dst_shown = _resolve(dst)
    if type(src_fs) is not type(dst_fs) or getattr(src_fs, "_fs", None) is not getattr(dst_fs, "_fs", None):
        raise errors.UnimplementedError(None, None, f"Cannot rename {src_shown} to {dst_shown} across file systems")
    with _Translate(src_shown):
        if not src_fs.exists(src_native):
            raise _not_found(src_shown)
    with _Translate(dst_shown):
        if not overwrite and dst_fs.exists(dst_native):
            raise errors.AlreadyExistsError(None, None, f"{dst_shown}; file already exists")
    with _Translate(f"{src_shown} -> {dst_shown}"):
        src_fs.rename(src_native, dst_native)


def stat(path: PathLike) -> FileStatistics:
    """Size, modification time (ns) and kind of ``path``; NotFoundError if missing."""
    fs, native, shown = _resolve(path)
    with _Translate(shown):
        return fs.stat(native)


def join(path: PathLike, *paths: PathLike) -> str:
    """Joins path components with '/' for URLs and the OS separator locally (TF2's ``join``)."""
    fs, _, shown = _resolve(path)
    return fs.join(shown, *(_path_str(p) for p in paths))


# ---------------------------------------------------------------------------- GFile


class GFile:
    """A file object like Python's, but lazily opened and raising ``tf.errors``.

    Modes are ``r``, ``w``, ``a`` and their ``+``/``b`` variants.  Text mode reads and
    writes UTF-8 ``str`` without newline translation; ``write`` accepts ``str`` or
    ``bytes`` in either mode, as TF's does.  Counts and offsets are in bytes.
    """

    def __init__(self, name: PathLike, mode: str = "r", encoding: str = "utf-8") -> None:
        base = mode.replace("b", "")
        if base not in ("r", "w", "a", "r+", "w+", "a+") or mode.count("b") > 1:
            raise errors.InvalidArgumentError(
                None, None, f"mode {mode!r} is not 'r', 'w', 'a' or one of their '+'/'b' variants"
            )
        self._fs, self._native, self._name = _resolve(name)
        self._mode = mode
        self._open_mode = base.replace("+", "") + "b" + ("+" if "+" in base else "")
        self._binary = "b" in mode
        self._encoding = encoding
        self._readable = base != "w" and base != "a"
        self._writable = base != "r"
        self._file: Optional[IO[bytes]] = None
        self._closed = False

    # -- properties Python's io API expects (so GFile can be handed to numpy, PIL, ...)
    @property
    def name(self) -> str:
        """The path this object was opened with."""
        return self._name

    @property
    def mode(self) -> str:
        """The mode string this object was opened with."""
        return self._mode

    @property
    def closed(self) -> bool:
        return self._closed

    def readable(self) -> bool:
        return self._readable

    def writable(self) -> bool:
        return self._writable

    def seekable(self) -> bool:
        return True

    # -- internals
    def _handle(self) -> IO[bytes]:
        if self._closed:
            raise ValueError(f"I/O operation on closed file {self._name}")
        if self._file is None:
            with _Translate(self._name):
                if self._readable and self._fs.isdir(self._native):
                    raise errors.FailedPreconditionError(None, None, f"{self._name}; Is a directory")
                self._file = self._fs.open(self._native, self._open_mode)
        return self._file

    def _reader(self) -> IO[bytes]:
        if not self._readable:
            raise errors.PermissionDeniedError(None, None, f"File {self._name} isn't open for reading")
        return self._handle()

    def _decode(self, data: bytes, handle: IO[bytes], complete: bool) -> Union[str, bytes]:
        if self._binary:
            return data
        decoder = codecs.getincrementaldecoder(self._encoding)()
        text = decoder.decode(data)
        # A byte count may split a multi-byte character: pull in its remaining bytes.
        while complete and decoder.getstate()[0]:
            with _Translate(self._name):
                more = handle.read(1)
            if not more:
                break
            text += decoder.decode(more)
        return text + decoder.decode(b"", final=True)

    # -- reading
    def read(self, n: int = -1) -> Union[str, bytes]:
        """Reads ``n`` bytes (all remaining when ``n`` is -1); ``str`` in text mode."""
        handle = self._reader()
        with _Translate(self._name):
            data = handle.read(-1 if n is None or n < 0 else n)
        return self._decode(data, handle, complete=True)

    def readline(self) -> Union[str, bytes]:
        """Reads through the next ``'\\n'`` (kept), or ``''`` at end of file."""
        handle = self._reader()
        with _Translate(self._name):
            data = handle.readline()
        return self._decode(data, handle, complete=False)

    def readlines(self) -> List[Union[str, bytes]]:
        """All remaining lines, each with its ``'\\n'``."""
        return list(iter(self.readline, "" if not self._binary else b""))

    def __iter__(self) -> "GFile":
        return self

    def __next__(self) -> Union[str, bytes]:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    next = __next__

    # -- writing
    def write(self, file_content: Union[str, bytes, bytearray, memoryview]) -> None:
        """Writes ``file_content`` (``str`` is encoded) at the current position."""
        if not self._writable:
            raise errors.PermissionDeniedError(None, None, f"File {self._name} isn't open for writing")
        if isinstance(file_content, str):
            data = file_content.encode(self._encoding)
        elif isinstance(file_content, (bytes, bytearray, memoryview)):
            data = bytes(file_content)
        else:
            raise TypeError(f"write() expects str or bytes, got {type(file_content).__name__}")
        handle = self._handle()
        with _Translate(self._name):
            handle.write(data)

    def flush(self) -> None:
        """Pushes buffered writes out of the process (not necessarily to disk)."""
        if self._file is not None and self._writable:
            with _Translate(self._name):
                self._file.flush()

    # -- positioning
    def seek(self, offset: Optional[int] = None, whence: int = 0, position: Optional[int] = None) -> None:
        """Moves to ``offset`` bytes from the start (0), current position (1) or end (2).

        ``position`` is TF1's deprecated spelling of ``offset``.
        """
        if offset is None and position is None:
            raise TypeError("seek(): offset argument required")
        if offset is not None and position is not None:
            raise TypeError("seek(): offset and position may not be set simultaneously.")
        if whence not in (0, 1, 2):
            raise errors.InvalidArgumentError(None, None, f"Invalid whence argument: {whence}. Valid values are 0, 1, or 2.")
        target = offset if offset is not None else position
        handle = self._handle()
        with _Translate(self._name):
            handle.seek(target, whence)

    def tell(self) -> int:
        """Current position in bytes."""
        handle = self._handle()
        with _Translate(self._name):
            return handle.tell()

    def size(self) -> int:
        """Size of the file in bytes, including this object's pending writes."""
        self.flush()
        return stat(self._name).length

    # -- lifetime
    def close(self) -> None:
        """Flushes and closes; further I/O raises ValueError."""
        if self._file is not None:
            try:
                with _Translate(self._name):
                    self._file.close()
            finally:
                self._file = None
        self._closed = True

    def __enter__(self) -> "GFile":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<flowgraph GFile name={self._name!r} mode={self._mode!r}>"


Open = GFile
FastGFile = GFile


# --------------------------------------------------------------- TF1 CamelCase names


def Exists(filename: PathLike) -> bool:  # noqa: N802 -- TF1 spelling
    """TF1 ``tf.gfile.Exists``."""
    return exists(filename)


def IsDirectory(dirname: PathLike) -> bool:  # noqa: N802
    """TF1 ``tf.gfile.IsDirectory``."""
    return isdir(dirname)


def MakeDirs(dirname: PathLike) -> None:  # noqa: N802
    """TF1 ``tf.gfile.MakeDirs``: recursive, fine if it already exists."""
    makedirs(dirname)


def MkDir(dirname: PathLike) -> None:  # noqa: N802
    """TF1 ``tf.gfile.MkDir``: AlreadyExistsError if it exists."""
    mkdir(dirname)


def ListDirectory(dirname: PathLike) -> List[str]:  # noqa: N802
    """TF1 ``tf.gfile.ListDirectory``: entry names only."""
    return listdir(dirname)


def Glob(filename: Union[PathLike, Iterable[PathLike]]) -> List[str]:  # noqa: N802
    """TF1 ``tf.gfile.Glob``."""
    return glob(filename)


def Walk(top: PathLike, in_order: bool = True) -> Iterator[Tuple[str, List[str], List[str]]]:  # noqa: N802
    """TF1 ``tf.gfile.Walk``: ``in_order`` is pre-order (top-down) traversal."""
    return walk(top, topdown=in_order)


def Remove(filename: PathLike) -> None:  # noqa: N802
    """TF1 ``tf.gfile.Remove``."""
    remove(filename)


def DeleteRecursively(dirname: PathLike) -> None:  # noqa: N802
    """TF1 ``tf.gfile.DeleteRecursively``."""
    rmtree(dirname)


def Copy(oldpath: PathLike, newpath: PathLike, overwrite: bool = False) -> None:  # noqa: N802
    """TF1 ``tf.gfile.Copy``."""
    copy(oldpath, newpath, overwrite)


def Rename(oldname: PathLike, newname: PathLike, overwrite: bool = False) -> None:  # noqa: N802
    """TF1 ``tf.gfile.Rename``."""
    rename(oldname, newname, overwrite)


def Stat(filename: PathLike) -> FileStatistics:  # noqa: N802
    """TF1 ``tf.gfile.Stat``."""
    return stat(filename)


__all__ = [
    "Copy",
    "DeleteRecursively",
    "Exists",
    "FastGFile",
    "FileStatistics",
    "GFile",
    "Glob",
    "IsDirectory",
    "ListDirectory",
    "MakeDirs",
    "MkDir",
    "Open",
    "Remove",
    "Rename",
    "Stat",
    "Walk",
    "copy",
    "exists",
    "glob",
    "isdir",
    "join",
    "listdir",
    "makedirs",
    "mkdir",
    "remove",
    "rename",
    "rmtree",
    "stat",
    "walk",
]


def __getattr__(name: str):  # noqa: ANN202 - a clear word for TF1 names flowgraph lacks
    from flowgraph.compat.missing import missing_attribute

    raise missing_attribute(__name__, globals(), name)
