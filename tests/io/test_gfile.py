"""tf.gfile / tf.io.gfile semantics on local paths, fsspec URLs and the missing-extra error."""

import os
import sys
import time

import pytest

from flowgraph import errors
from flowgraph.io import gfile


def _write(path, data=b"", mode="wb"):
    with open(path, mode) as f:
        f.write(data)


# ------------------------------------------------------------------ path functions


def test_exists_and_isdirectory(tmp_path):
    f = tmp_path / "f.txt"
    _write(f, b"x")
    assert gfile.Exists(str(f)) is True
    assert gfile.Exists(str(tmp_path / "missing")) is False
    assert gfile.IsDirectory(str(tmp_path)) is True
    assert gfile.IsDirectory(str(f)) is False
    assert gfile.IsDirectory(str(tmp_path / "missing")) is False
    # Path objects and bytes are accepted, as TF's compat.path_to_str does.
    assert gfile.exists(f) is True
    assert gfile.isdir(os.fsencode(str(tmp_path))) is True


def test_makedirs_is_recursive_and_idempotent(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    gfile.MakeDirs(str(target))
    assert target.is_dir()
    gfile.MakeDirs(str(target))  # already there: fine
    gfile.makedirs(str(target))
    assert target.is_dir()


def test_makedirs_over_a_file_fails(tmp_path):
    f = tmp_path / "file"
    _write(f)
    with pytest.raises(errors.FailedPreconditionError, match="file"):
        gfile.MakeDirs(str(f))


def test_mkdir(tmp_path):
    target = tmp_path / "d"
    gfile.MkDir(str(target))
    assert target.is_dir()
    with pytest.raises(errors.AlreadyExistsError) as info:
        gfile.MkDir(str(target))
    assert str(target) in str(info.value)
    missing_parent = tmp_path / "no" / "such" / "d"
    with pytest.raises(errors.NotFoundError) as info:
        gfile.mkdir(str(missing_parent))
    assert str(missing_parent) in info.value.message


def test_list_directory_gives_sorted_names(tmp_path):
    _write(tmp_path / "b.txt")
    _write(tmp_path / ".hidden")
    (tmp_path / "a_dir").mkdir()
    assert gfile.ListDirectory(str(tmp_path)) == [".hidden", "a_dir", "b.txt"]
    assert gfile.listdir(tmp_path) == [".hidden", "a_dir", "b.txt"]


def test_list_directory_errors(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(errors.NotFoundError) as info:
        gfile.ListDirectory(str(missing))
    assert str(missing) in str(info.value)
    f = tmp_path / "f"
    _write(f)
    with pytest.raises(errors.NotFoundError, match="f"):
        gfile.ListDirectory(str(f))


def test_glob(tmp_path):
    for name in ("a1.txt", "a2.txt", "b.txt", ".a3.txt"):
        _write(tmp_path / name)
    (tmp_path / "sub").mkdir()
    _write(tmp_path / "sub" / "a4.txt")
    base = str(tmp_path)
    assert gfile.Glob(os.path.join(base, "a?.txt")) == [os.path.join(base, "a1.txt"), os.path.join(base, "a2.txt")]
    # '*' does not cross '/' but does match dot-files, like TF's matcher.
    assert gfile.glob(os.path.join(base, "*a*.txt")) == [os.path.join(base, n) for n in (".a3.txt", "a1.txt", "a2.txt")]
    assert gfile.glob(os.path.join(base, "*", "*.txt")) == [os.path.join(base, "sub", "a4.txt")]
    assert gfile.Glob(os.path.join(base, "zzz*")) == []
    # A list of patterns gives the concatenation.
    assert gfile.Glob([os.path.join(base, "b*"), os.path.join(base, "a1*")]) == [
        os.path.join(base, "b.txt"),
        os.path.join(base, "a1.txt"),
    ]


def _tree(tmp_path):
    (tmp_path / "top" / "x" / "deep").mkdir(parents=True)
    (tmp_path / "top" / "y").mkdir()
    _write(tmp_path / "top" / "f1")
    _write(tmp_path / "top" / "x" / "f2")
    _write(tmp_path / "top" / "x" / "deep" / "f3")
    return str(tmp_path / "top")


def test_walk_in_order_and_post_order(tmp_path):
    top = _tree(tmp_path)
    j = os.path.join
    pre = [
        (top, ["x", "y"], ["f1"]),
        (j(top, "x"), ["deep"], ["f2"]),
        (j(top, "x", "deep"), [], ["f3"]),
        (j(top, "y"), [], []),
    ]
    assert list(gfile.Walk(top)) == pre
    assert list(gfile.Walk(top, in_order=True)) == pre
    assert list(gfile.walk(top, topdown=True)) == pre
    post = [
        (j(top, "x", "deep"), [], ["f3"]),
        (j(top, "x"), ["deep"], ["f2"]),
        (j(top, "y"), [], []),
        (top, ["x", "y"], ["f1"]),
    ]
    assert list(gfile.Walk(top, in_order=False)) == post


def test_walk_prunes_in_place_and_skips_missing_top(tmp_path):
    top = _tree(tmp_path)
    seen = []
    for dirname, subdirs, _files in gfile.walk(top):
        seen.append(dirname)
        if "x" in subdirs:
            subdirs.remove("x")
    assert seen == [top, os.path.join(top, "y")]

    missing = str(tmp_path / "missing")
    assert list(gfile.Walk(missing)) == []
    reported = []
    assert list(gfile.walk(missing, onerror=reported.append)) == []
    assert len(reported) == 1 and isinstance(reported[0], errors.NotFoundError)
    assert missing in str(reported[0])


def test_remove(tmp_path):
    f = tmp_path / "f"
    _write(f)
    gfile.Remove(str(f))
    assert not f.exists()
    with pytest.raises(errors.NotFoundError) as info:
        gfile.Remove(str(f))
    assert str(f) in str(info.value)
    with pytest.raises(errors.FailedPreconditionError) as info:
        gfile.remove(str(tmp_path))
    assert str(tmp_path) in str(info.value)


def test_delete_recursively(tmp_path):
    top = _tree(tmp_path)
    gfile.DeleteRecursively(top)
    assert not os.path.exists(top)
    with pytest.raises(errors.NotFoundError) as info:
        gfile.DeleteRecursively(top)
    assert top in str(info.value)
    f = tmp_path / "single"
    _write(f, b"1")
    gfile.rmtree(str(f))  # a plain file is deleted too, as in TF
    assert not f.exists()


def test_copy(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    _write(src, b"payload")
    gfile.Copy(str(src), str(dst))
    assert dst.read_bytes() == b"payload"
    _write(src, b"newer")
    with pytest.raises(errors.AlreadyExistsError) as info:
        gfile.Copy(str(src), str(dst))
    assert str(dst) in str(info.value)
    assert dst.read_bytes() == b"payload"
    gfile.Copy(str(src), str(dst), overwrite=True)
    assert dst.read_bytes() == b"newer"
    gfile.copy(src, dst, True)
    assert dst.read_bytes() == b"newer"


def test_copy_errors(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(errors.NotFoundError) as info:
        gfile.Copy(str(missing), str(tmp_path / "out"))
    assert str(missing) in str(info.value)
    src = tmp_path / "src"
    _write(src, b"1")
    with pytest.raises(errors.FailedPreconditionError) as info:
        gfile.Copy(str(src), str(tmp_path), overwrite=True)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(errors.FailedPreconditionError):
        gfile.Copy(str(tmp_path), str(tmp_path / "copy_of_dir"))
    with pytest.raises(errors.NotFoundError) as info:
        gfile.Copy(str(src), str(tmp_path / "no_dir" / "out"))
    assert "no_dir" in str(info.value)


def test_rename_files_and_directories(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a, b"A")
    gfile.Rename(str(a), str(b))
    assert not a.exists() and b.read_bytes() == b"A"
    _write(a, b"A2")
    with pytest.raises(errors.AlreadyExistsError) as info:
        gfile.Rename(str(a), str(b))
    assert str(b) in str(info.value)
    assert a.read_bytes() == b"A2" and b.read_bytes() == b"A"
    gfile.Rename(str(a), str(b), overwrite=True)
    assert not a.exists() and b.read_bytes() == b"A2"

    d = tmp_path / "dir"
    (d / "inner").mkdir(parents=True)
    gfile.rename(d, tmp_path / "moved")
    assert (tmp_path / "moved" / "inner").is_dir() and not d.exists()

    with pytest.raises(errors.NotFoundError) as info:
        gfile.Rename(str(a), str(tmp_path / "c"))
    assert str(a) in str(info.value)


def test_stat(tmp_path):
    f = tmp_path / "f"
    before = time.time_ns()
    _write(f, b"12345")
    st = gfile.Stat(str(f))
    assert st.length == 5
    assert st.is_directory is False
    assert isinstance(st.mtime_nsec, int)
    assert abs(st.mtime_nsec - before) < 60 * 10**9
    assert gfile.stat(str(tmp_path)).is_directory is True
    missing = tmp_path / "missing"
    with pytest.raises(errors.NotFoundError) as info:
        gfile.Stat(str(missing))
    assert str(missing) in str(info.value)


def test_join():
    assert gfile.join("a", "b", "c") == os.path.join("a", "b", "c")
    assert gfile.join("file:///tmp", "x") == os.path.join("file:///tmp", "x")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root and Windows ignore file modes")
def test_permission_denied(tmp_path):
    locked = tmp_path / "locked"
    _write(locked, b"secret")
    locked.chmod(0)
    try:
        with pytest.raises(errors.PermissionDeniedError) as info:
            gfile.GFile(str(locked)).read()
        assert str(locked) in str(info.value)
    finally:
        locked.chmod(0o600)
    ro_dir = tmp_path / "ro"
    ro_dir.mkdir()
    ro_dir.chmod(0o500)
    try:
        with pytest.raises(errors.PermissionDeniedError) as info:
            gfile.MkDir(str(ro_dir / "child"))
        assert "child" in str(info.value)
    finally:
        ro_dir.chmod(0o700)


def test_permission_errno_maps_to_permission_denied(tmp_path, monkeypatch):
    """Also checked without relying on file modes (root ignores them)."""

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "mkdir", deny)
    with pytest.raises(errors.PermissionDeniedError) as info:
        gfile.MkDir(str(tmp_path / "x"))
    assert str(tmp_path / "x") in str(info.value)
    assert "Permission denied" in str(info.value)

    path = tmp_path / "f.txt"
    _write(path, b"x")
    monkeypatch.setattr(gfile._LocalFileSystem, "open", deny)
    with pytest.raises(errors.PermissionDeniedError) as info:
        gfile.GFile(str(path)).read()
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- GFile


def test_gfile_aliases():
    assert gfile.Open is gfile.GFile
    assert gfile.FastGFile is gfile.GFile


def test_text_write_then_read(tmp_path):
    path = str(tmp_path / "t.txt")
    with gfile.GFile(path, "w") as f:
        f.write("héllo\n")
        f.write(b"line2\r\n")  # bytes are accepted in text mode too
        f.write("last")
    assert open(path, "rb").read() == "héllo\nline2\r\nlast".encode("utf-8")
    with gfile.GFile(path) as f:
        assert f.name == path and f.mode == "r"
        text = f.read()
    assert text == "héllo\nline2\r\nlast"  # no newline translation
    assert isinstance(text, str)


def test_binary_mode_returns_bytes(tmp_path):
    path = str(tmp_path / "b.bin")
    with gfile.GFile(path, "wb") as f:
        f.write(b"\x00\x01\xff")
        f.write("é")
    with gfile.GFile(path, "rb") as f:
        assert f.read() == b"\x00\x01\xff" + "é".encode()


def test_read_n_readline_readlines_iteration(tmp_path):
    path = str(tmp_path / "lines.txt")
    _write(path, b"one\ntwo\nthree")
    with gfile.GFile(path) as f:
        assert f.read(2) == "on"
        assert f.readline() == "e\n"
        assert f.readline() == "two\n"
        assert f.readline() == "three"
        assert f.readline() == ""
    with gfile.GFile(path) as f:
        assert f.readlines() == ["one\n", "two\n", "three"]
    with gfile.GFile(path, "rb") as f:
        assert list(f) == [b"one\n", b"two\n", b"three"]
    f = gfile.GFile(path)
    assert f.next() == "one\n"
    assert next(f) == "two\n"
    f.close()


def test_text_read_n_counts_bytes_and_keeps_characters_whole(tmp_path):
    path = str(tmp_path / "u.txt")
    _write(path, "aéb".encode("utf-8"))  # 'é' is two bytes
    with gfile.GFile(path) as f:
        assert f.read(2) == "aé"  # the split character is completed
        assert f.tell() == 3
        assert f.read() == "b"


def test_seek_tell_and_position(tmp_path):
    path = str(tmp_path / "s.bin")
    _write(path, b"0123456789")
    with gfile.GFile(path, "rb") as f:
        assert f.tell() == 0
        f.seek(4)
        assert f.tell() == 4 and f.read(2) == b"45"
        f.seek(-3, 2)
        assert f.read() == b"789"
        f.seek(2)
        f.seek(3, 1)
        assert f.read(1) == b"5"
        f.seek(position=1)  # TF1's deprecated spelling
        assert f.read(1) == b"1"
        with pytest.raises(errors.InvalidArgumentError):
            f.seek(0, 3)
        with pytest.raises(TypeError):
            f.seek()
        with pytest.raises(TypeError):
            f.seek(1, position=1)
    with gfile.GFile(path) as f:  # relative seeks work in text mode too
        f.seek(5)
        f.seek(-2, 1)
        assert f.read(3) == "345"


def test_size_and_flush(tmp_path):
    path = str(tmp_path / "sz.txt")
    with gfile.GFile(path, "w") as f:
        f.write("abc")
        assert f.size() == 3  # pending writes are flushed first
        f.write("de")
        f.flush()
        assert os.path.getsize(path) == 5
    with gfile.GFile(path) as f:
        assert f.size() == 5


def test_append_mode(tmp_path):
    path = str(tmp_path / "a.txt")
    _write(path, b"start")
    with gfile.GFile(path, "a") as f:
        f.write("+more")
    assert open(path).read() == "start+more"


def test_write_is_lazy_like_tf(tmp_path):
    path = tmp_path / "never.txt"
    with gfile.GFile(str(path), "w"):
        pass
    assert not path.exists()  # TF opens a write-mode file on its first write
    f = gfile.GFile(str(path), "w")
    f.write("")
    f.close()
    assert path.exists() and path.read_bytes() == b""


def test_read_write_plus_modes(tmp_path):
    path = str(tmp_path / "rw.txt")
    _write(path, b"hello")
    with gfile.GFile(path, "r+") as f:
        assert f.read(2) == "he"
        f.seek(0)
        f.write("J")
    assert open(path).read() == "Jello"
    with gfile.GFile(path, "w+") as f:
        f.write("new")
        f.seek(0)
        assert f.read() == "new"


def test_missing_file_for_read(tmp_path):
    missing = str(tmp_path / "missing.txt")
    f = gfile.GFile(missing)  # opened lazily, as in TF
    with pytest.raises(errors.NotFoundError) as info:
        f.read()
    assert missing in str(info.value)
    assert isinstance(info.value, errors.OpError) and info.value.error_code == errors.NOT_FOUND
    with pytest.raises(errors.NotFoundError, match="missing.txt"):
        with gfile.Open(missing, "rb") as g:
            g.readline()


def test_write_into_missing_directory(tmp_path):
    target = str(tmp_path / "nodir" / "f.txt")
    with pytest.raises(errors.NotFoundError) as info:
        with gfile.GFile(target, "w") as f:
            f.write("x")
    assert target in str(info.value)


def test_directory_where_file_expected(tmp_path):
    with pytest.raises(errors.FailedPreconditionError) as info:
        gfile.GFile(str(tmp_path)).read()
    assert str(tmp_path) in str(info.value)
    with pytest.raises(errors.FailedPreconditionError) as info:
        gfile.GFile(str(tmp_path), "w").write("x")
    assert str(tmp_path) in str(info.value)


def test_wrong_direction_and_bad_mode(tmp_path):
    path = str(tmp_path / "f.txt")
    _write(path, b"data")
    with gfile.GFile(path, "r") as f:
        with pytest.raises(errors.PermissionDeniedError, match="isn't open for writing"):
            f.write("x")
    with gfile.GFile(path, "w") as f:
        with pytest.raises(errors.PermissionDeniedError, match="isn't open for reading"):
            f.read()
    with pytest.raises(errors.InvalidArgumentError, match="mode"):
        gfile.GFile(path, "x")
    with pytest.raises(TypeError):
        with gfile.GFile(path, "w") as f:
            f.write(123)


def test_closed_file_raises(tmp_path):
    path = str(tmp_path / "f.txt")
    _write(path, b"data")
    f = gfile.GFile(path)
    assert f.read(1) == "d"
    f.close()
    f.close()  # idempotent
    assert f.closed
    with pytest.raises(ValueError, match="closed"):
        f.read()


def test_file_url_is_local(tmp_path):
    path = tmp_path / "u.txt"
    url = "file://" + str(path)
    with gfile.GFile(url, "w") as f:
        f.write("via url")
    assert path.read_text() == "via url"
    assert gfile.Exists(url)
    assert gfile.Glob("file://" + str(tmp_path / "*.txt")) == [url]


# ------------------------------------------------------------------ URL file systems


def test_url_without_fsspec_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "fsspec", None)  # makes `import fsspec` raise ImportError
    for call in (
        lambda: gfile.Exists("gs://bucket/x"),
        lambda: gfile.GFile("s3://bucket/key").read(),
        lambda: gfile.ListDirectory("memory://root"),
        lambda: list(gfile.Walk("gs://bucket/dir")),
    ):
        with pytest.raises(errors.UnimplementedError) as info:
            call()
        assert "pip install 'flowgraph[fsspec]'" in str(info.value)
    with pytest.raises(errors.UnimplementedError, match="gs://bucket/x"):
        gfile.exists("gs://bucket/x")


@pytest.fixture
def memfs():
    fsspec = pytest.importorskip("fsspec", reason="the optional fsspec extra is not installed")
    fs = fsspec.filesystem("memory")
    root = f"/gfiletest{os.getpid()}_{time.time_ns()}"
    yield f"memory:/{root}"  # "memory://gfiletest..."
    if fs.exists(root):
        fs.rm(root, recursive=True)


def test_fsspec_memory_round_trip(memfs):
    d = memfs + "/dir"
    gfile.MakeDirs(d + "/sub")
    assert gfile.IsDirectory(d) and gfile.Exists(d + "/sub")
    with gfile.GFile(d + "/a.txt", "w") as f:
        f.write("héllo\nworld\n")
    with gfile.GFile(d + "/a.txt") as f:
        assert f.readline() == "héllo\n"
        assert f.read() == "world\n"
    with gfile.GFile(d + "/a.txt", "rb") as f:
        f.seek(-6, 2)
        assert f.read() == b"world\n"
        assert f.size() == len("héllo\nworld\n".encode())
    assert gfile.ListDirectory(d) == ["a.txt", "sub"]
    assert gfile.Glob(d + "/*.txt") == [d + "/a.txt"]
    assert gfile.Stat(d + "/a.txt").length == 13
    assert gfile.Stat(d).is_directory is True
    assert list(gfile.Walk(d)) == [(d, ["sub"], ["a.txt"]), (d + "/sub", [], [])]


def test_fsspec_memory_copy_rename_delete_and_errors(memfs):
    gfile.MakeDirs(memfs)
    a, b = memfs + "/a", memfs + "/b"
    with gfile.GFile(a, "wb") as f:
        f.write(b"A")
    gfile.Copy(a, b)
    assert gfile.GFile(b, "rb").read() == b"A"
    with pytest.raises(errors.AlreadyExistsError, match=b):
        gfile.Copy(a, b)
    gfile.Rename(a, memfs + "/c")
    assert not gfile.Exists(a) and gfile.Exists(memfs + "/c")
    with pytest.raises(errors.NotFoundError) as info:
        gfile.GFile(a).read()
    assert a in str(info.value)
    with pytest.raises(errors.NotFoundError, match="missing"):
        gfile.Stat(memfs + "/missing")
    with pytest.raises(errors.AlreadyExistsError):
        gfile.MkDir(memfs)
    gfile.Remove(b)
    assert not gfile.Exists(b)
    gfile.DeleteRecursively(memfs)
    assert not gfile.Exists(memfs)


def test_copy_between_local_and_memory(memfs, tmp_path):
    local = tmp_path / "l.bin"
    _write(local, b"\x01\x02" * 1000)
    gfile.MakeDirs(memfs)
    gfile.Copy(str(local), memfs + "/r.bin")
    back = tmp_path / "back.bin"
    gfile.Copy(memfs + "/r.bin", str(back))
    assert back.read_bytes() == b"\x01\x02" * 1000
    with pytest.raises(errors.UnimplementedError, match="across file systems"):
        gfile.Rename(str(local), memfs + "/moved")
