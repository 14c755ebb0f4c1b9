"""MNIST handwritten digits, loaded like ``tf.keras.datasets.mnist.load_data``.

The four IDX files (gzipped or raw) are looked up in this order, and the first
folder that has all four is used:

1. the ``path`` argument of :func:`load_data`;
2. ``$FLOWGRAPH_DATA/mnist``, then ``$FLOWGRAPH_DATA`` itself;
3. the repository's ``data/mnist`` folder;
4. the user cache ``~/.flowgraph/datasets/mnist``.

If no folder has all four files, they are downloaded into the user cache. Each
download is checked against the sha256 of its uncompressed content (see
``data/mnist/README.md``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import urllib.request
import zlib
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Sequence

import numpy as np

__all__ = [
    "FILES",
    "SHA256",
    "MIRRORS",
    "DownloadError",
    "read_idx",
    "load_data",
    "cache_dir",
    "search_dirs",
    "find_data_dir",
    "download",
]

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801

#: Base file names (without ``.gz``) keyed by role.
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: sha256 of the *uncompressed* content of each file.
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Mirrors tried in order; each serves ``<name>.gz``.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: The repository's bundled copy (``<repo>/data/mnist``).
REPO_DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "mnist"

_GZIP_MAGIC = b"\x1f\x8b"
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

Opener = Callable[[str], BinaryIO]


class DownloadError(RuntimeError):
    """No mirror gave a complete, checksum-valid copy of an MNIST file."""


# --------------------------------------------------------------------------- #
# IDX parsing
# --------------------------------------------------------------------------- #


def read_idx(path: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a native-endian array.

    Gzip is detected from the content, not the file name. If ``magic`` is
    given, the file's magic number must equal it. A ``ValueError`` naming the
    file is raised for a bad magic number, a short header, or data whose
    length does not match the header.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), str(path), magic)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt gzip data ({exc})") from exc


def _parse_idx(data: bytes, name: str, magic: int | None = None) -> np.ndarray:
    if len(data) < 4:
        raise ValueError(f"{name}: too short for an IDX header ({len(data)} bytes)")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise ValueError(f"{name}: bad magic number: expected 0x{magic:08X}, found 0x{found:08X}")
    dtype = _IDX_DTYPES.get(data[2])
    if data[:2] != b"\x00\x00" or dtype is None:
        raise ValueError(f"{name}: not an IDX file (magic number 0x{found:08X})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{name}: header declares {ndim} dimensions but the file is only {len(data)} bytes"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "has trailing bytes"
        raise ValueError(
            f"{name}: {kind}: header shape {shape} needs {expected} bytes, found {len(data)}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # copy: writable and native-endian


# --------------------------------------------------------------------------- #
# Locating the files
# --------------------------------------------------------------------------- #


def cache_dir() -> Path:
    """The per-user download folder, ``~/.flowgraph/datasets/mnist``."""
    return Path.home() / ".flowgraph" / "datasets" / "mnist"


def search_dirs(path: str | os.PathLike | None = None) -> list[Path]:
    """The folders :func:`load_data` searches, in order."""
    dirs = []
    if path is not None:
        dirs.append(Path(path).expanduser())
    env = os.environ.get("FLOWGRAPH_DATA")
    if env:
        root = Path(env).expanduser()
        dirs += [root / "mnist", root]
    dirs += [REPO_DATA_DIR, cache_dir()]
    return dirs


def _locate(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _locate_all(directory: Path) -> dict[str, Path] | None:
    found = {role: _locate(directory, name) for role, name in FILES.items()}
    if any(p is None for p in found.values()):
        return None
    return found  # type: ignore[return-value]


def find_data_dir(path: str | os.PathLike | None = None) -> Path | None:
    """The first searched folder that holds all four files, or ``None``."""
    for directory in search_dirs(path):
        if _locate_all(directory) is not None:
            return directory
    return None


def _offline_help(path: str | os.PathLike | None) -> str:
    names = "\n".join(f"  {name}.gz" for name in FILES.values())
    places = "\n".join(f"  {d}" for d in search_dirs(path))
    if not os.environ.get("FLOWGRAPH_DATA"):
        places += "\n  $FLOWGRAPH_DATA/mnist (set FLOWGRAPH_DATA to a folder of your choice)"
    return (
        "To work offline, copy these four files (gzipped, or gunzipped without the .gz):\n"
        f"{names}\n"
        "into one of these folders:\n"
        f"{places}"
    )


# --------------------------------------------------------------------------- #
# Downloading
# --------------------------------------------------------------------------- #


def _default_opener(url: str) -> BinaryIO:
    return urllib.request.urlopen(url, timeout=60)  # noqa: S310 (fixed https URLs)


def _content_length(response: object) -> int | None:
    headers = getattr(response, "headers", None)
    value = headers.get("Content-Length") if headers is not None else None
    return int(value) if value and str(value).isdigit() else None


def _progress_line(label: str, done: int, total: int | None) -> str:
    if not total:
        return f"\r{label}: {done / 1e6:.1f} MB"
    frac = min(done / total, 1.0)
    bar = "#" * int(frac * 30)
    return f"\r{label}: [{bar:<30}] {frac:4.0%} {done / 1e6:.1f}/{total / 1e6:.1f} MB"


def _fetch(url: str, opener: Opener, label: str, progress: bool) -> bytes:
    chunks, done = [], 0
    with opener(url) as response:
        total = _content_length(response)
        while chunk := response.read(1 << 16):
            chunks.append(chunk)
            done += len(chunk)
            if progress:
                sys.stderr.write(_progress_line(label, done, total))
    if progress:
        sys.stderr.write("\n")
    if total is not None and done != total:
        raise OSError(f"incomplete download: expected {total} bytes, got {done}")
    return b"".join(chunks)


def _check_sha256(blob: bytes, name: str) -> None:
    content = gzip.decompress(blob) if blob.startswith(_GZIP_MAGIC) else blob
    digest = hashlib.sha256(content).hexdigest()
    if digest != SHA256[name]:
        raise ValueError(f"sha256 mismatch: expected {SHA256[name]}, found {digest}")


def _is_valid(path: Path, name: str) -> bool:
    try:
        _check_sha256(path.read_bytes(), name)
    except (OSError, EOFError, ValueError, zlib.error):
        return False
    return True


def _write_atomic(target: Path, blob: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    tmp.write_bytes(blob)
    os.replace(tmp, target)


def _download_one(
    name: str, directory: Path, mirrors: Sequence[str], opener: Opener, progress: bool
) -> list[str]:
    """Download ``name.gz`` from the first good mirror; return the failures."""
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + f"/{name}.gz"
        try:
            blob = _fetch(url, opener, f"{name}.gz", progress)
            _check_sha256(blob, name)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            failures.append(f"  {url}: {exc}")
            continue
        _write_atomic(directory / f"{name}.gz", blob)
        return []
    return failures or ["  (no mirrors given)"]


def download(
    directory: str | os.PathLike | None = None,
    *,
    mirrors: Iterable[str] | None = None,
    opener: Opener | None = None,
    progress: bool = True,
) -> Path:
    """Download the four MNIST files into ``directory`` (default: the user cache).

    Files already there with a valid checksum are kept; corrupt ones are
    replaced. ``mirrors`` (base URLs)
    and ``opener`` (``url -> binary file-like``, usable as a context manager)
    default to :data:`MIRRORS` and ``urllib.request.urlopen``; tests pass a
    ``file://`` URL or a fake opener. Raises :class:`DownloadError`, with
    instructions for working offline, if any file cannot be fetched.
    """
    directory = Path(directory) if directory is not None else cache_dir()
    mirrors = tuple(MIRRORS if mirrors is None else mirrors)
    opener = opener or _default_opener
    directory.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        existing = _locate(directory, name)
        if existing is not None:
            if _is_valid(existing, name):
                continue
            existing.unlink()  # corrupt copy; it would shadow the new download
        failures = _download_one(name, directory, mirrors, opener, progress)
        if failures:
            raise DownloadError(
                f"Could not download MNIST file {name}.gz:\n"
                + "\n".join(failures)
                + "\n"
                + _offline_help(None)
            )
    return directory


# --------------------------------------------------------------------------- #
# Public loader
# --------------------------------------------------------------------------- #


def _load_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"count mismatch: {images_path} has {images.shape[0]} images "
            f"but {labels_path} has {labels.shape[0]} labels"
        )
    return images, labels


def load_data(
    path: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))`` uint8 arrays.

    Shapes are (60000, 28, 28), (60000,), (10000, 28, 28) and (10000,), as in
    ``tf.keras.datasets.mnist.load_data``. See the module docstring for the
    folders searched. With ``download=False``, a missing dataset raises
    ``FileNotFoundError`` instead of fetching it.
    """
    directory = find_data_dir(path)
    if directory is None:
        if not download:
            raise FileNotFoundError("MNIST files not found.\n" + _offline_help(path))
        directory = _download_to_cache()
    files = _locate_all(directory)
    assert files is not None
    train = _load_pair(files["train_images"], files["train_labels"])
    test = _load_pair(files["test_images"], files["test_labels"])
    return train, test


def _download_to_cache() -> Path:
    # Looked up at call time so tests can monkeypatch MIRRORS.
    return download(cache_dir(), mirrors=MIRRORS)
