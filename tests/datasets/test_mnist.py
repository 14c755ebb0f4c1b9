"""Tests for flowgraph.datasets.mnist. None of them touches the network."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

import numpy as np
import pytest

from flowgraph.datasets import mnist

NAMES = list(mnist.FILES.values())


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else 0x0800 | array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False, magic: int | None = None) -> Path:
    data = idx_bytes(array, magic)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def tiny_dataset(n_train: int = 5, n_test: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 4, 3), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 4, 3), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_dataset(directory: Path, data: dict[str, np.ndarray], gz: bool = False) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in data.items():
        write_idx(directory / name, array, gz=gz)
    return directory


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No FLOWGRAPH_DATA, HOME in tmp_path, no repo copy, file:// URLs only."""
    monkeypatch.delenv("FLOWGRAPH_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(mnist, "REPO_DATA_DIR", tmp_path / "no-repo-data")
    monkeypatch.setattr(mnist, "MIRRORS", ())

    real_opener = mnist._default_opener

    def local_only(url):
        if not url.startswith("file:"):
            raise AssertionError(f"test tried to open {url}")
        return real_opener(url)

    monkeypatch.setattr(mnist, "_default_opener", local_only)
    return tmp_path


# --------------------------------------------------------------------------- #
# read_idx
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, gz):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "imgs", images, gz=gz)
    out = mnist.read_idx(path, magic=0x803)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, images)
    assert out.flags.writeable
    out[0, 0, 0] = 99  # a copy, not a view on the file buffer


def test_read_idx_labels_and_wider_dtypes(tmp_path):
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(mnist.read_idx(write_idx(tmp_path / "l", labels)), labels)

    # 0x0C = big-endian int32; read back native-endian.
    values = np.array([[1, -2], [70000, 3]], dtype=">i4")
    raw = (0x0C02).to_bytes(4, "big") + (2).to_bytes(4, "big") * 2 + values.tobytes()
    (tmp_path / "i32").write_bytes(raw)
    out = mnist.read_idx(tmp_path / "i32")
    assert out.dtype == np.dtype("int32") and out.dtype.isnative
    np.testing.assert_array_equal(out, [[1, -2], [70000, 3]])


def test_read_idx_gzip_detected_by_content_not_name(tmp_path):
    labels = np.array([7, 8], dtype=np.uint8)
    path = tmp_path / "labels-without-gz-suffix"
    path.write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(mnist.read_idx(path), labels)


def test_bad_magic_shows_expected_and_found(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 2), np.uint8))  # 0x802
    with pytest.raises(ValueError) as info:
        mnist.read_idx(path, magic=0x803)
    msg = str(info.value)
    assert str(path) in msg
    assert "expected 0x00000803" in msg and "found 0x00000802" in msg


def test_not_an_idx_file(tmp_path):
    path = tmp_path / "junk"
    path.write_bytes(b"PK\x03\x04 definitely a zip")
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.read_idx(path)


def test_truncated_data_reports_expected_and_found_bytes(tmp_path):
    data = idx_bytes(np.zeros((3, 4, 4), np.uint8))  # 16 + 48 = 64 bytes
    path = tmp_path / "imgs"
    path.write_bytes(data[:-5])
    with pytest.raises(ValueError) as info:
        mnist.read_idx(path)
    msg = str(info.value)
    assert str(path) in msg and "truncated" in msg
    assert "needs 64 bytes, found 59" in msg


def test_trailing_bytes_rejected(tmp_path):
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\x00")
    expected = r"trailing bytes: header shape \(4,\) needs 12 bytes, found 13"
    with pytest.raises(ValueError, match=expected):
        mnist.read_idx(path)


def test_truncated_header(tmp_path):
    path = tmp_path / "imgs"
    path.write_bytes((0x803).to_bytes(4, "big") + (5).to_bytes(4, "big"))  # 1 of 3 dims
    with pytest.raises(ValueError, match="declares 3 dimensions but the file is only 8 bytes"):
        mnist.read_idx(path)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "imgs.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 2, 2), np.uint8)))[:-10])
    with pytest.raises(ValueError, match="corrupt gzip"):
        mnist.read_idx(path)


# --------------------------------------------------------------------------- #
# load_data and the search order
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("gz", [False, True])
def test_load_data_round_trip(isolated, gz):
    data = tiny_dataset()
    directory = write_dataset(isolated / "mnist", data, gz=gz)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(directory)
    np.testing.assert_array_equal(x_train, data["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_train, data["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(x_test, data["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, data["t10k-labels-idx1-ubyte"])
    assert x_train.shape == (5, 4, 3) and y_test.shape == (3,)
    assert all(a.dtype == np.uint8 for a in (x_train, y_train, x_test, y_test))


def test_load_data_mixed_gz_and_raw(isolated):
    data = tiny_dataset()
    directory = isolated / "mixed"
    directory.mkdir()
    for i, (name, array) in enumerate(data.items()):
        write_idx(directory / name, array, gz=bool(i % 2))
    (_, y_train), _ = mnist.load_data(directory)
    np.testing.assert_array_equal(y_train, data["train-labels-idx1-ubyte"])


def test_count_mismatch_names_both_files(isolated):
    data = tiny_dataset()
    data["t10k-labels-idx1-ubyte"] = np.arange(4, dtype=np.uint8)  # 3 images, 4 labels
    directory = write_dataset(isolated / "mnist", data)
    with pytest.raises(ValueError) as info:
        mnist.load_data(directory)
    msg = str(info.value)
    assert "t10k-images-idx3-ubyte" in msg and "t10k-labels-idx1-ubyte" in msg
    assert "3 images" in msg and "4 labels" in msg


def test_labels_file_with_image_magic_is_rejected(isolated):
    directory = write_dataset(isolated / "mnist", tiny_dataset())
    write_idx(directory / "train-labels-idx1-ubyte", np.zeros((5, 1, 1), np.uint8))
    expected = "train-labels-idx1-ubyte: bad magic number: expected 0x00000801, found 0x00000803"
    with pytest.raises(ValueError, match=expected):
        mnist.load_data(directory)


def test_missing_files_without_download(isolated):
    directory = write_dataset(isolated / "partial", tiny_dataset())
    (directory / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data(directory, download=False)
    msg = str(info.value)
    for name in NAMES:
        assert f"{name}.gz" in msg
    assert str(directory) in msg
    assert str(isolated / "home" / ".flowgraph" / "datasets" / "mnist") in msg


def test_search_order_path_first(isolated, monkeypatch):
    env_root = isolated / "env"
    write_dataset(env_root / "mnist", tiny_dataset(seed=1))
    monkeypatch.setenv("FLOWGRAPH_DATA", str(env_root))
    explicit = write_dataset(isolated / "explicit", tiny_dataset(seed=2))
    assert mnist.find_data_dir(explicit) == explicit
    (_, y), _ = mnist.load_data(explicit)
    np.testing.assert_array_equal(y, tiny_dataset(seed=2)["train-labels-idx1-ubyte"])


def test_search_order_incomplete_path_falls_through_to_env(isolated, monkeypatch):
    env_root = isolated / "env"
    write_dataset(env_root / "mnist", tiny_dataset(seed=1))
    monkeypatch.setenv("FLOWGRAPH_DATA", str(env_root))
    empty = isolated / "empty"
    empty.mkdir()
    assert mnist.find_data_dir(empty) == env_root / "mnist"


def test_search_order_env_subfolder_then_env_itself(isolated, monkeypatch):
    env_root = isolated / "env"
    monkeypatch.setenv("FLOWGRAPH_DATA", str(env_root))
    write_dataset(env_root, tiny_dataset(seed=3))
    assert mnist.find_data_dir() == env_root
    write_dataset(env_root / "mnist", tiny_dataset(seed=4), gz=True)
    assert mnist.find_data_dir() == env_root / "mnist"
    (_, y), _ = mnist.load_data()
    np.testing.assert_array_equal(y, tiny_dataset(seed=4)["train-labels-idx1-ubyte"])


def test_search_order_env_before_repo_before_cache(isolated, monkeypatch):
    repo = write_dataset(isolated / "repo", tiny_dataset(seed=5))
    cache_path = isolated / "home" / ".flowgraph" / "datasets" / "mnist"
    cache = write_dataset(cache_path, tiny_dataset(seed=6))
    monkeypatch.setattr(mnist, "REPO_DATA_DIR", repo)
    assert mnist.find_data_dir() == repo
    monkeypatch.setattr(mnist, "REPO_DATA_DIR", isolated / "nowhere")
    assert mnist.find_data_dir() == cache
    env = write_dataset(isolated / "env", tiny_dataset(seed=7))
    monkeypatch.setenv("FLOWGRAPH_DATA", str(env))
    assert mnist.find_data_dir() == env
    assert mnist.search_dirs("given") == [
        Path("given"), env / "mnist", env, isolated / "nowhere", cache
    ]


def test_repo_data_dir_location():
    assert mnist.REPO_DATA_DIR == Path(mnist.__file__).resolve().parents[2] / "data" / "mnist"


# --------------------------------------------------------------------------- #
# download (fake opener and file:// URLs only)
# --------------------------------------------------------------------------- #


def fake_checksums(monkeypatch, data: dict[str, np.ndarray]) -> None:
    sums = {name: hashlib.sha256(idx_bytes(a)).hexdigest() for name, a in data.items()}
    monkeypatch.setattr(mnist, "SHA256", sums)


def make_mirror(directory: Path, data: dict[str, np.ndarray]) -> str:
    write_dataset(directory, data, gz=True)
    return directory.as_uri() + "/"


class FakeOpener:
    """Serves bytes from a dict; records every URL requested."""

    def __init__(self, blobs: dict[str, bytes]):
        self.blobs = blobs
        self.urls: list[str] = []

    def __call__(self, url: str):
        self.urls.append(url)
        if url not in self.blobs:
            raise OSError(f"404 for {url}")
        return io.BytesIO(self.blobs[url])


def test_download_from_file_url(isolated, monkeypatch, capsys):
    data = tiny_dataset()
    fake_checksums(monkeypatch, data)
    mirror = make_mirror(isolated / "mirror", data)
    target = isolated / "target"
    assert mnist.download(target, mirrors=[mirror], opener=None) == target
    for name in NAMES:
        assert (target / f"{name}.gz").is_file()
    assert not list(target.glob(".*.part"))
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "100%" in err
    (_, y), _ = mnist.load_data(target)
    np.testing.assert_array_equal(y, data["train-labels-idx1-ubyte"])


def test_load_data_downloads_into_user_cache(isolated, monkeypatch):
    data = tiny_dataset()
    fake_checksums(monkeypatch, data)
    monkeypatch.setattr(mnist, "MIRRORS", (make_mirror(isolated / "mirror", data),))
    (x_train, _), (_, y_test) = mnist.load_data()
    cache = isolated / "home" / ".flowgraph" / "datasets" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in NAMES)
    np.testing.assert_array_equal(x_train, data["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(y_test, data["t10k-labels-idx1-ubyte"])


def test_download_falls_back_to_second_mirror_on_checksum_mismatch(isolated, monkeypatch):
    data = tiny_dataset()
    fake_checksums(monkeypatch, data)
    bad = {f"http://bad/{n}.gz": gzip.compress(idx_bytes(np.zeros(1, np.uint8))) for n in NAMES}
    good = {f"http://good/{n}.gz": gzip.compress(idx_bytes(a)) for n, a in data.items()}
    opener = FakeOpener({**bad, **good})
    mirrors = ["http://bad/", "http://good"]
    mnist.download(isolated / "t", mirrors=mirrors, opener=opener, progress=False)
    assert opener.urls == [f"http://{host}/{n}.gz" for n in NAMES for host in ("bad", "good")]
    got = mnist.read_idx(isolated / "t" / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(got, data["train-images-idx3-ubyte"])


def test_checksum_mismatch_raises_with_offline_instructions(isolated, monkeypatch):
    data = tiny_dataset()
    fake_checksums(monkeypatch, data)
    tampered = dict(data, **{"train-images-idx3-ubyte": data["train-images-idx3-ubyte"] ^ 1})
    mirror = make_mirror(isolated / "mirror", tampered)
    target = isolated / "target"
    with pytest.raises(mnist.DownloadError) as info:
        mnist.download(target, mirrors=[mirror], progress=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg
    expected_sum = mnist.SHA256["train-images-idx3-ubyte"]
    found_sum = hashlib.sha256(idx_bytes(tampered["train-images-idx3-ubyte"])).hexdigest()
    assert f"sha256 mismatch: expected {expected_sum}, found {found_sum}" in msg
    assert "To work offline, copy these four files" in msg
    for name in NAMES:
        assert f"{name}.gz" in msg
    assert not (target / "train-images-idx3-ubyte.gz").exists()


def test_load_data_download_failure_is_explained(isolated, monkeypatch):
    monkeypatch.setattr(mnist, "MIRRORS", ((isolated / "empty-mirror").as_uri() + "/",))
    with pytest.raises(mnist.DownloadError) as info:
        mnist.load_data()
    msg = str(info.value)
    assert "Could not download MNIST file train-images-idx3-ubyte.gz" in msg
    assert "empty-mirror/train-images-idx3-ubyte.gz" in msg
    assert str(isolated / "home" / ".flowgraph" / "datasets" / "mnist") in msg
    assert "FLOWGRAPH_DATA" in msg


def test_download_keeps_valid_files_and_replaces_corrupt_ones(isolated, monkeypatch):
    data = tiny_dataset()
    fake_checksums(monkeypatch, data)
    target = write_dataset(isolated / "t", data, gz=True)
    (target / "t10k-labels-idx1-ubyte.gz").unlink()
    write_idx(target / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))  # wrong content, raw
    url = "http://m/t10k-labels-idx1-ubyte.gz"
    opener = FakeOpener({url: gzip.compress(idx_bytes(data["t10k-labels-idx1-ubyte"]))})
    mnist.download(target, mirrors=["http://m/"], opener=opener, progress=False)
    assert opener.urls == [url]
    assert not (target / "t10k-labels-idx1-ubyte").exists()
    np.testing.assert_array_equal(
        mnist.read_idx(target / "t10k-labels-idx1-ubyte.gz"), data["t10k-labels-idx1-ubyte"]
    )


def test_incomplete_transfer_is_rejected(isolated, monkeypatch):
    data = tiny_dataset()
    fake_checksums(monkeypatch, data)

    class Short(io.BytesIO):
        headers = {"Content-Length": "999999"}

    with pytest.raises(mnist.DownloadError, match="incomplete download: expected 999999 bytes"):
        mnist.download(
            isolated / "t", mirrors=["http://m/"], opener=lambda url: Short(b"abc"), progress=False
        )


def test_default_opener_not_used_when_mirrors_empty(isolated):
    with pytest.raises(mnist.DownloadError, match="no mirrors given"):
        mnist.download(isolated / "t", mirrors=[], progress=False)


# --------------------------------------------------------------------------- #
# the real data shipped in the repository
# --------------------------------------------------------------------------- #


@pytest.mark.skipif(not mnist.REPO_DATA_DIR.is_dir(), reason="repository data/mnist not present")
def test_real_mnist_from_repo(monkeypatch):
    monkeypatch.delenv("FLOWGRAPH_DATA", raising=False)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(mnist.REPO_DATA_DIR, download=False)
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    np.testing.assert_array_equal(y_train[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(y_test[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    counts = np.bincount(y_train, minlength=10)
    assert counts.sum() == 60000 and len(counts) == 10
    assert counts[1] == 6742 and counts[5] == 5421
    assert np.bincount(y_test, minlength=10).sum() == 10000
    assert x_train.max() == 255 and x_train.min() == 0
