"""The download cache, against a local HTTP server (never the internet)."""

import errno
import hashlib
import http.server
import os
import re
import socket
import stat
import subprocess
import sys
import textwrap
import threading

import pytest

from dezero.files import ChecksumError, DownloadError, atomic_write, cache_dir, get_file, sha256sum

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PAYLOAD = bytes(range(256)) * 800  # 200 KiB: several 64 KiB read chunks


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        if self.path == "/good.bin" or self.path == "/wrong.bin":
            body = PAYLOAD if self.path == "/good.bin" else b"not what you asked for" * 10
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/truncated.bin":
            # Announce the whole file, send a third of it, hang up.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send_error(404, "no such file")


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    host, port = httpd.server_address
    try:
        yield httpd, f"http://{host}:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _leftovers(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_cache_dir_reads_env_at_call_time(tmp_path, monkeypatch):
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "a"))
    assert cache_dir() == str(tmp_path / "a")
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "b"))
    assert cache_dir() == str(tmp_path / "b")
    monkeypatch.delenv("DEZERO_HOME")
    assert cache_dir() == os.path.join(os.path.expanduser("~"), ".dezero")


def test_download_then_cached_without_request(server, home):
    httpd, base = server
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    path = get_file(base + "/good.bin", sha256=sha, progress=False)
    assert path == str(home / "good.bin")
    with open(path, "rb") as f:
        assert f.read() == PAYLOAD
    assert httpd.requests == ["/good.bin"]
    assert _leftovers(home) == ["good.bin"]  # no temp file left next to it

    again = get_file(base + "/good.bin", sha256=sha, progress=False)
    assert again == path
    assert httpd.requests == ["/good.bin"]  # served from the cache
    assert sha256sum(path) == sha


def test_file_name_with_subfolder(server, home):
    _, base = server
    path = get_file(base + "/good.bin", "data/renamed.bin", progress=False)
    assert path == str(home / "data" / "renamed.bin")
    assert os.path.getsize(path) == len(PAYLOAD)


@pytest.mark.parametrize("bad", ["../escape.bin", "/abs/path.bin", "a/../../b", ""])
def test_file_name_outside_cache_refused(home, bad):
    with pytest.raises(ValueError, match="file_name"):
        get_file("http://127.0.0.1:9/x.bin", bad, progress=False)


def test_truncated_download_leaves_nothing(server, home):
    _, base = server
    with pytest.raises(DownloadError) as info:
        get_file(base + "/truncated.bin", progress=False)
    msg = str(info.value)
    assert "truncated.bin" in msg and base + "/truncated.bin" in msg
    assert f"{len(PAYLOAD)}" in msg  # says how much was announced
    assert _leftovers(home) == []
    assert not os.path.exists(home / "truncated.bin")


def test_wrong_checksum_raises_and_deletes(server, home):
    _, base = server
    with pytest.raises(ChecksumError) as info:
        get_file(base + "/wrong.bin", sha256=hashlib.sha256(PAYLOAD).hexdigest(), progress=False)
    msg = str(info.value)
    assert "SHA-256" in msg and "wrong.bin" in msg
    assert isinstance(info.value, DownloadError)
    assert _leftovers(home) == []


def test_http_error_names_status(server, home):
    _, base = server
    with pytest.raises(DownloadError, match="404"):
        get_file(base + "/missing.bin", progress=False)
    assert _leftovers(home) == []


def _closed_port() -> int:
    # Bind and close: nothing listens there afterwards, so a connection is refused at once.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_offline_message_says_where_to_put_the_file(home):
    url = f"http://127.0.0.1:{_closed_port()}/mnist/train-images-idx3-ubyte.gz"
    with pytest.raises(DownloadError) as info:
        get_file(url, "mnist/train-images-idx3-ubyte.gz", progress=False, timeout=5)
    msg = str(info.value)
    expected_path = str(home / "mnist" / "train-images-idx3-ubyte.gz")
    assert url in msg
    assert "train-images-idx3-ubyte.gz" in msg
    assert expected_path in msg
    assert _leftovers(home / "mnist") == []


def test_silent_server_times_out(home):
    # Accepts the connection (the kernel does, via the backlog) but never answers.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    try:
        url = f"http://127.0.0.1:{s.getsockname()[1]}/slow.bin"
        with pytest.raises(DownloadError, match="slow.bin"):
            get_file(url, progress=False, timeout=0.3)
    finally:
        s.close()
    assert _leftovers(home) == []


def test_progress_bar_does_not_break_download(server, home, capsys):
    _, base = server
    path = get_file(base + "/good.bin", progress=True)
    assert os.path.getsize(path) == len(PAYLOAD)


def test_downloaded_files_get_the_usual_permissions(tmp_path, monkeypatch):
    monkeypatch.setenv("DEZERO_HOME", str(tmp_path / "cache"))
    src = tmp_path / "data.bin"
    src.write_bytes(b"payload")
    old_umask = os.umask(0o022)
    try:
        path = get_file(src.as_uri(), progress=False)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


# =============================================================================
# atomic_write
# =============================================================================
@pytest.mark.parametrize("mode", ["ab", "a", "xb", "x", "r+b", "w+b", "rb"])
def test_atomic_write_refuses_modes_that_would_not_write_a_whole_new_file(tmp_path, mode):
    path = tmp_path / "kept.bin"
    path.write_bytes(b"what the user saved")
    with pytest.raises(ValueError, match=re.escape(f"atomic_write: mode must be 'wb' or 'w', got {mode!r}")):
        with atomic_write(path, mode) as f:
            f.write(b"+more")
    assert path.read_bytes() == b"what the user saved"
    assert _leftovers(tmp_path) == ["kept.bin"]


@pytest.mark.parametrize("mode, content", [("wb", b"new\n"), ("w", "new\n")])
def test_atomic_write_replaces_the_file_in_binary_and_text_mode(tmp_path, mode, content):
    path = tmp_path / "f.txt"
    path.write_bytes(b"old content, longer than the new one")
    with atomic_write(path, mode) as f:
        f.write(content)
    assert path.read_bytes() == b"new\n"
    assert _leftovers(tmp_path) == ["f.txt"]


def test_atomic_write_writes_through_a_symlink_and_keeps_it(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "data.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    chain = tmp_path / "chain.bin"  # a link to the link
    chain.symlink_to(link)
    with atomic_write(chain) as f:
        f.write(b"new")
    assert chain.is_symlink() and link.is_symlink()
    assert os.readlink(link) == str(target) and target.read_bytes() == b"new"
    # The temporary file lived next to the target, and is gone.
    assert _leftovers(tmp_path / "real") == ["data.bin"]
    assert _leftovers(tmp_path) == ["chain.bin", "link.bin", "real"]


def test_atomic_write_through_a_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.bin"
    link.symlink_to("target.bin")
    with atomic_write(link) as f:
        f.write(b"made")
    assert link.is_symlink() and (tmp_path / "target.bin").read_bytes() == b"made"


def test_atomic_write_refuses_a_symlink_loop_naming_the_path(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError, match=f"cannot write {str(tmp_path / 'a')!r}: too many levels of symbolic links"):
        with atomic_write(tmp_path / "a") as f:
            f.write(b"x")
    assert _leftovers(tmp_path) == ["a", "b"]


def test_atomic_write_refuses_a_path_ending_with_a_separator_like_open(tmp_path):
    (tmp_path / "f2").write_bytes(b"what the user saved")
    with pytest.raises(IsADirectoryError, match=re.escape(f"cannot write {str(tmp_path) + '/noexist/'!r}")):
        with atomic_write(f"{tmp_path}/noexist/") as f:
            f.write(b"x")
    with pytest.raises(NotADirectoryError, match=re.escape(f"cannot write {str(tmp_path) + '/f2/'!r}")):
        with atomic_write(f"{tmp_path}/f2/") as f:
            f.write(b"x")
    assert (tmp_path / "f2").read_bytes() == b"what the user saved"
    assert _leftovers(tmp_path) == ["f2"]


def test_atomic_write_refuses_a_file_this_user_may_not_write(tmp_path, monkeypatch):
    path = tmp_path / "locked.bin"
    path.write_bytes(b"what the user saved")
    path.chmod(0o444)
    real_access = os.access

    def as_a_user(p, mode, *args, **kwargs):  # the tests run as root, whom access() lets write anything
        if os.fspath(p) == str(path) and mode & os.W_OK:
            return False
        return real_access(p, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", as_a_user)
    with pytest.raises(PermissionError, match=re.escape(f"cannot write {str(path)!r}: the file is read-only")):
        with atomic_write(path) as f:
            f.write(b"new")
    assert path.read_bytes() == b"what the user saved"
    assert _leftovers(tmp_path) == ["locked.bin"]


def test_atomic_write_replaces_a_read_only_file_when_open_could_write_it(tmp_path):
    path = tmp_path / "locked.bin"
    path.write_bytes(b"old")
    path.chmod(0o444)
    if not os.access(path, os.W_OK):
        pytest.skip("only root may write a read-only file")
    with atomic_write(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new" and stat.S_IMODE(path.stat().st_mode) == 0o444


def test_a_full_disk_at_fsync_names_the_path_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "kept.bin"
    path.write_bytes(b"old")

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError) as raised:
        with atomic_write(path) as f:
            f.write(b"new")
    assert raised.value.errno == errno.ENOSPC
    assert str(raised.value) == f"[Errno {errno.ENOSPC}] cannot write {str(path)!r}: No space left on device"
    assert ".tmp" not in str(raised.value)
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == ["kept.bin"]


def test_a_write_refused_by_the_file_system_names_the_path(tmp_path):
    # A file-size limit makes the kernel refuse the writes themselves (EFBIG),
    # as a full disk would; set in a child so that pytest keeps writing freely.
    path = tmp_path / "big.bin"
    path.write_bytes(b"old")
    child = textwrap.dedent(f"""
        import resource, sys
        sys.path.insert(0, {REPO!r})
        from dezero.files import atomic_write
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
        for mode, chunk in (("wb", b"x" * (1 << 20)), ("wb", b"x" * 1000), ("w", "y" * 1000)):
            try:
                with atomic_write({str(path)!r}, mode) as f:
                    for _ in range(200):
                        f.write(chunk)
            except OSError as e:
                print(e.errno, e)
    """)
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines == [f"{errno.EFBIG} [Errno {errno.EFBIG}] cannot write {str(path)!r}: File too large"] * 3
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == ["big.bin"]


def test_errors_raised_by_the_callers_own_code_pass_through_unchanged(tmp_path):
    path = tmp_path / "kept.bin"
    path.write_bytes(b"old")
    mine = FileNotFoundError(errno.ENOENT, "No such file or directory", "the caller's own input")
    with pytest.raises(FileNotFoundError) as raised:
        with atomic_write(path) as f:
            f.write(b"half")
            raise mine
    assert raised.value is mine
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == ["kept.bin"]
