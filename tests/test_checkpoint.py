"""save_weights / load_weights and checkpoints: nothing lost, nothing half-written,
nothing loaded that does not fit."""

import errno
import io
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile

import numpy as np
import pytest

import dezero
import dezero.functions as F
from dezero import Parameter
from dezero.backend import gpu_enable
from dezero.dataloaders import DataLoader
from dezero.serialization import load_checkpoint, read_npz, save_checkpoint
from dezero.layers import BatchNorm, Layer, Linear
from dezero.models import MLP
from dezero.optimizers import Adam, MomentumSGD

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Net(Layer):
    def __init__(self, dtype=np.float32):
        super().__init__()
        self.l1 = Linear(4, in_size=3, dtype=dtype)
        self.bn = BatchNorm()
        self.l2 = Linear(2, in_size=4, dtype=dtype)

    def forward(self, x):
        return self.l2(F.relu(self.bn(self.l1(x))))


def _net(seed=0, dtype=np.float32):
    np.random.seed(seed)
    net = Net(dtype)
    net(np.random.randn(5, 3).astype(dtype))  # sizes the batch norm, moves its running stats
    return net


def _arrays(model):
    out = {k: p.data.copy() for k, p in model.named_params()}
    out.update({k: v.copy() for k, v in model.named_persistents()})
    return out


def _assert_same(a, b):
    assert list(a) == list(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert a[k].dtype == b[k].dtype


# =============================================================================
# Round trip, keys, file names
# =============================================================================
def test_round_trip_keys_and_persistents(tmp_path):
    net = _net(0)
    path = tmp_path / "net.npz"
    net.save_weights(path)
    with np.load(path, allow_pickle=False) as f:
        # Layer by layer in assignment order; batch norm's running statistics included.
        assert f.files == ["l1/W", "l1/b", "bn/gamma", "bn/beta", "bn/avg_mean", "bn/avg_var", "l2/W", "l2/b"]
    other = _net(1)
    other.load_weights(path)
    _assert_same(_arrays(other), _arrays(net))
    x = np.random.randn(2, 3).astype(np.float32)
    with dezero.test_mode():
        np.testing.assert_array_equal(other(x).data, net(x).data)


def test_file_name_is_used_exactly(tmp_path):
    net = _net()
    bare = tmp_path / "weights"
    net.save_weights(str(bare))
    assert os.listdir(tmp_path) == ["weights"]  # no 'weights.npz', no temp files
    other = _net(3)
    other.load_weights(str(bare))
    _assert_same(_arrays(other), _arrays(net))


def test_save_replaces_the_previous_file(tmp_path):
    path = tmp_path / "w.npz"
    _net(0).save_weights(path)
    net = _net(1)
    net.save_weights(path)
    fresh = _net(2)
    fresh.load_weights(path)
    _assert_same(_arrays(fresh), _arrays(net))


def test_parameter_names_that_are_also_numpy_argument_names(tmp_path):
    # np.savez(file, allow_pickle=..., **arrays) would trip over these two names.
    layer = Layer()
    layer.file = Parameter(np.ones(2))
    layer.allow_pickle = Parameter(np.zeros(3))
    layer.save_weights(tmp_path / "odd.npz")
    other = Layer()
    other.file = Parameter(np.zeros(2))
    other.allow_pickle = Parameter(np.ones(3))
    other.load_weights(tmp_path / "odd.npz")
    np.testing.assert_array_equal(other.file.data, np.ones(2))
    np.testing.assert_array_equal(other.allow_pickle.data, np.zeros(3))


def test_shared_parameter_saved_once_and_restored_for_both(tmp_path):
    class Tied(Layer):
        def __init__(self):
            super().__init__()
            self.enc = Linear(3, in_size=3)
            self.dec = Linear(3, in_size=3)
            self.dec.W = self.enc.W

    a, b = Tied(), Tied()
    a.save_weights(tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz") as f:
        assert f.files == ["enc/W", "enc/b", "dec/b"]
    b.load_weights(tmp_path / "t.npz")
    assert b.dec.W is b.enc.W
    np.testing.assert_array_equal(b.dec.W.data, a.enc.W.data)


def test_load_into_a_lazy_model_fills_its_weights(tmp_path):
    np.random.seed(0)
    trained = MLP((5, 2))
    x = np.random.randn(3, 4).astype(np.float32)
    y = trained(x)
    trained.save_weights(tmp_path / "mlp.npz")
    lazy = MLP((5, 2))
    lazy.load_weights(tmp_path / "mlp.npz")
    assert lazy.l0.W.shape == (4, 5) and lazy.l0.in_size == 4
    np.testing.assert_array_equal(lazy(x).data, y.data)


def test_lazy_weights_must_fit_the_known_dimensions(tmp_path):
    np.random.seed(0)
    wrong = MLP((6, 2))
    wrong(np.ones((1, 4), dtype=np.float32))
    wrong.save_weights(tmp_path / "w.npz")
    lazy = MLP((5, 2))
    with pytest.raises(ValueError, match=r"'l0/W' must have shape \(\?, 5\).*\(4, 6\)"):
        lazy.load_weights(tmp_path / "w.npz")
    assert lazy.l0.W.data is None


def _lazy_bn_file(path, **sizes):
    arrays = {name: np.ones(sizes.get(name, 3), np.float32) for name in ("gamma", "beta", "avg_mean", "avg_var")}
    for name, dtype in sizes.get("dtypes", {}).items():
        arrays[name] = arrays[name].astype(dtype)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "sizes, message",
    [
        ({"beta": 5}, r"'beta' has shape \(5,\) but 'gamma' has 3 channels: the arrays of one BatchNorm must agree"),
        ({"avg_var": 4}, r"'avg_var' has shape \(4,\) but 'gamma' has 3 channels"),
        ({"gamma": 2, "beta": 2, "avg_mean": 2}, r"'avg_var' has shape \(3,\) but 'gamma' has 2 channels"),
    ],
)
def test_loading_into_a_lazy_batch_norm_checks_its_arrays_agree(tmp_path, sizes, message):
    _lazy_bn_file(tmp_path / "bn.npz", **sizes)
    bn = BatchNorm()
    with pytest.raises(ValueError, match=message):
        bn.load_weights(tmp_path / "bn.npz")
    assert bn.gamma.data is None and bn.beta.data is None and bn.avg_mean is None and bn.avg_var is None


def test_loading_into_a_lazy_batch_norm_checks_its_arrays_share_one_dtype(tmp_path):
    _lazy_bn_file(tmp_path / "bn.npz", dtypes={"avg_mean": np.float64})
    bn = BatchNorm()
    with pytest.raises(
        TypeError,
        match="'avg_mean' has dtype float64 but 'gamma' has float32: the arrays of one BatchNorm must have one dtype",
    ):
        bn.load_weights(tmp_path / "bn.npz")
    assert bn.gamma.data is None and bn.avg_mean is None


def test_loading_into_a_lazy_batch_norm_that_agrees_fills_it(tmp_path):
    _lazy_bn_file(tmp_path / "bn.npz", dtypes={name: np.float64 for name in ("gamma", "beta", "avg_mean", "avg_var")})
    bn = BatchNorm()
    bn.load_weights(tmp_path / "bn.npz")
    assert bn.gamma.shape == bn.beta.shape == bn.avg_mean.shape == bn.avg_var.shape == (3,)
    with dezero.test_mode():
        y = bn(np.full((2, 3), 3.0))
    np.testing.assert_allclose(y.data, (3.0 - 1.0) / np.sqrt(1.0 + bn.eps) + 1.0)


def test_loading_a_lazy_linear_checks_w_against_the_bias_and_out_size(tmp_path):
    # W's second axis must be out_size, which the (existing) bias has too.
    np.savez(tmp_path / "lin.npz", W=np.ones((4, 6), np.float32), b=np.zeros(5, np.float32))
    layer = Linear(5)
    with pytest.raises(ValueError, match=r"'W' must have shape \(\?, 5\) for this model but has \(4, 6\)"):
        layer.load_weights(tmp_path / "lin.npz")
    np.savez(tmp_path / "lin.npz", W=np.ones((4, 5), np.float32), b=np.zeros(6, np.float32))
    with pytest.raises(ValueError, match=r"'b' has shape \(5,\) in the model but \(6,\) in the file"):
        layer.load_weights(tmp_path / "lin.npz")
    assert layer.W.data is None


# =============================================================================
# Refusing what does not fit, and changing nothing then
# =============================================================================
def _write(path, arrays):
    np.savez(path, **arrays)


def test_missing_key_error_names_parameter_and_found_keys(tmp_path):
    net = _net()
    arrays = {k: v for k, v in _arrays(net).items() if k != "l2/W"}
    _write(tmp_path / "m.npz", arrays)
    before = _arrays(net)
    with pytest.raises(KeyError) as info:
        net.load_weights(str(tmp_path / "m.npz"))
    message = str(info.value)
    assert message.startswith(f"load_weights('{tmp_path / 'm.npz'}'): parameter 'l2/W' missing from the file")
    assert "(found: l1/W, l1/b, bn/gamma" in message
    _assert_same(_arrays(net), before)


def test_unexpected_key(tmp_path):
    net = _net()
    _write(tmp_path / "u.npz", {**_arrays(net), "l3/W": np.ones(2, dtype=np.float32)})
    with pytest.raises(KeyError, match="unexpected key.*l3/W"):
        net.load_weights(tmp_path / "u.npz")


def test_shape_and_dtype_mismatch_leave_the_model_unchanged(tmp_path):
    net = _net()
    before = _arrays(net)
    bad = {k: v + 1 for k, v in before.items()}  # every value differs...
    bad["l2/W"] = np.ones((4, 3), dtype=np.float32)  # ...and the second-last param is the wrong shape
    _write(tmp_path / "s.npz", bad)
    with pytest.raises(ValueError, match=r"'l2/W' has shape \(4, 2\) in the model but \(4, 3\) in the file"):
        net.load_weights(tmp_path / "s.npz")
    _assert_same(_arrays(net), before)  # l1/W etc. were not assigned before the check failed
    bad["l2/W"] = before["l2/W"].astype(np.float64)
    _write(tmp_path / "d.npz", bad)
    with pytest.raises(TypeError, match="'l2/W' has dtype float32 in the model but float64 in the file"):
        net.load_weights(tmp_path / "d.npz")
    _assert_same(_arrays(net), before)


def test_pickles_are_never_loaded(tmp_path):
    net = _net()
    arrays = _arrays(net)
    arrays["l1/W"] = np.array([{"evil": 1}], dtype=object)
    _write(tmp_path / "p.npz", arrays)
    with pytest.raises(ValueError, match="cannot be loaded safely"):
        net.load_weights(tmp_path / "p.npz")


# A damaged file is closed again, not left to the garbage collector.
@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    "content", [b"", b"PK\x03\x04 truncated zip", b"not numpy at all"], ids=["empty", "truncated", "garbage"]
)
def test_unreadable_files_give_a_clear_error(tmp_path, content):
    (tmp_path / "bad.npz").write_bytes(content)
    with pytest.raises(ValueError, match="is not a readable .npz archive"):
        _net().load_weights(tmp_path / "bad.npz")


def _flip_offsets(raw: bytes) -> dict:
    """Byte offsets worth damaging in an uncompressed .npz, by what they hold."""
    local = 0  # the first member's local header
    central = raw.rindex(b"PK\x01\x02")  # the last member's central directory entry
    end = raw.rindex(b"PK\x05\x06")  # the end-of-central-directory record
    first_data = raw.index(b"\x93NUMPY")  # the first member's .npy bytes
    return {
        "local header signature": local + 1,
        "local header compression method": local + 8,
        "local header file name": local + 30,
        "member .npy magic": first_data + 1,
        "member .npy header": first_data + 20,
        "member array data": raw.index(b"PK\x03\x04", first_data) - 1,
        "central directory flags (encrypted bit)": central + 8,
        "central directory compression method": central + 10,
        "central directory version needed": central + 6,
        "central directory CRC": central + 16,
        "central directory sizes": central + 20,
        "central directory local header offset": central + 42,
        "end record signature": end + 2,
        "end record entry count": end + 10,
        "end record central directory offset": end + 16,
    }


# A damaged file is closed again, not left to the garbage collector.
@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("bit", [0x01, 0x10, 0x80])
def test_a_weights_file_with_a_flipped_byte_gives_the_clear_error_and_leaves_the_model(tmp_path, bit):
    net = _net(0)
    good = tmp_path / "good.npz"
    net.save_weights(good)
    raw = good.read_bytes()
    target = _net(1)
    before = _arrays(target)
    for place, offset in _flip_offsets(raw).items():
        damaged = bytearray(raw)
        damaged[offset] ^= bit
        path = tmp_path / "damaged.npz"
        path.write_bytes(bytes(damaged))
        try:
            target.load_weights(path)
        except (ValueError, KeyError) as e:  # KeyError: a flipped name is an unknown parameter
            assert str(path) in str(e), (place, e)
            assert str(e).startswith(f"load_weights({str(path)!r})"), (place, e)
        else:  # a field zip readers ignore: the weights read back are the saved ones
            _assert_same(_arrays(target), _arrays(net))
            target = _net(1)
            continue
        _assert_same(_arrays(target), before)


# A damaged file is closed again, not left to the garbage collector.
@pytest.mark.filterwarnings("error::ResourceWarning", "error::pytest.PytestUnraisableExceptionWarning")
def test_a_checkpoint_with_a_flipped_byte_gives_the_clear_error(tmp_path):
    net = _net(0)
    optimizer = Adam().setup(net)
    _train_steps(net, optimizer, 1, 0)
    good = tmp_path / "good.npz"
    save_checkpoint(good, net, optimizer, epoch=1)
    raw = good.read_bytes()
    for place, offset in _flip_offsets(raw).items():
        damaged = bytearray(raw)
        damaged[offset] ^= 0x01
        path = tmp_path / "damaged.npz"
        path.write_bytes(bytes(damaged))
        target = _net(1)
        before = _arrays(target)
        try:
            load_checkpoint(path, target, Adam())
        except (ValueError, KeyError) as e:
            assert str(e).startswith(f"load_checkpoint({str(path)!r})"), (place, e)
            _assert_same(_arrays(target), before)


def test_saving_into_a_missing_folder_names_the_path_given_and_writes_nothing(tmp_path):
    net = _net()
    optimizer = MomentumSGD().setup(net)
    target = tmp_path / "no" / "such" / "folder" / "net.npz"
    with pytest.raises(FileNotFoundError, match=f"cannot write {str(target)!r}: the folder .* does not exist"):
        net.save_weights(target)
    with pytest.raises(FileNotFoundError, match=f"cannot write {str(target)!r}: the folder .* does not exist"):
        save_checkpoint(target, net, optimizer, epoch=1)
    with pytest.raises(FileNotFoundError, match="cannot write 'relative/net.npz'"):
        save_checkpoint("relative/net.npz", net)  # the path as passed, not made absolute
    assert os.listdir(tmp_path) == []


def test_saving_over_a_folder_names_the_path_and_keeps_the_folder(tmp_path):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "kept.txt").write_text("mine")
    with pytest.raises(IsADirectoryError, match=f"cannot write {str(folder)!r}: it is a folder"):
        _net().save_weights(folder)
    assert os.listdir(folder) == ["kept.txt"] and sorted(os.listdir(tmp_path)) == ["weights"]


def test_saving_into_a_read_only_folder_names_the_path_not_a_temporary_file(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the next test covers the message as root")
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match=f"cannot write {str(folder / 'net.npz')!r}: Permission denied"):
            _net().save_weights(folder / "net.npz")
    finally:
        folder.chmod(0o700)


def test_a_failed_write_names_the_path_not_a_temporary_file(tmp_path, monkeypatch):
    # Any OSError of the file system (a full disk, a read-only mount): here the
    # rename is made to fail, as root cannot be refused by permissions.
    def refuse(src, dst):
        raise OSError(errno.EROFS, "Read-only file system", src)

    monkeypatch.setattr(os, "replace", refuse)
    target = tmp_path / "net.npz"
    with pytest.raises(OSError, match=f"cannot write {str(target)!r}: Read-only file system") as raised:
        _net().save_weights(target)
    assert ".tmp" not in str(raised.value)
    assert os.listdir(tmp_path) == []  # the temporary file was removed


def test_a_file_name_as_long_as_the_file_system_allows_can_be_saved(tmp_path):
    target = tmp_path / ("w" * 251 + ".npz")  # 255 bytes, the usual limit
    _net().save_weights(target)
    assert os.listdir(tmp_path) == [target.name]


def test_loading_a_folder_or_a_missing_file_names_the_path(tmp_path):
    with pytest.raises(ValueError, match=f"load_weights.*{str(tmp_path)!r} is a folder, not an .npz archive"):
        _net().load_weights(tmp_path)
    with pytest.raises(FileNotFoundError, match=f"load_checkpoint.*no such file: {str(tmp_path / 'none.npz')!r}"):
        load_checkpoint(tmp_path / "none.npz", _net())


def test_saving_an_uninitialized_lazy_model_writes_nothing(tmp_path):
    model = MLP((3, 2))
    with pytest.raises(ValueError, match="'l0/W' of Linear is not initialized yet"):
        model.save_weights(tmp_path / "lazy.npz")
    assert os.listdir(tmp_path) == []


def test_saving_does_not_move_or_copy_the_model():
    net = _net()
    ids = {k: id(p.data) for k, p in net.named_params()}
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        net.save_weights(os.path.join(d, "w.npz"))
    assert {k: id(p.data) for k, p in net.named_params()} == ids


@pytest.mark.skipif(not gpu_enable, reason="CuPy or a CUDA device is missing")
def test_gpu_model_saves_from_and_loads_onto_the_gpu(tmp_path):
    import cupy

    net = _net().to_gpu()
    net.save_weights(tmp_path / "g.npz")
    assert all(isinstance(p.data, cupy.ndarray) for p in net.params())  # not moved by saving
    cpu = _net(5)
    cpu.load_weights(tmp_path / "g.npz")
    gpu = _net(6).to_gpu()
    gpu.load_weights(tmp_path / "g.npz")
    assert all(isinstance(p.data, cupy.ndarray) for p in gpu.params())
    assert isinstance(gpu.bn.avg_mean, cupy.ndarray)
    for (k, p), (_, q) in zip(cpu.named_params(), gpu.named_params()):
        np.testing.assert_array_equal(p.data, cupy.asnumpy(q.data), err_msg=k)


# =============================================================================
# Atomic writes
# =============================================================================
def _break_writer_midway(monkeypatch):
    real = np.lib.format.write_array
    calls = []

    def broken(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # two arrays written, the third half written, then the crash
            fp.write(b"\x93NUMPY half an array")
            raise OSError("disk on fire")
        return real(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", broken)


def test_crash_mid_save_leaves_the_old_file_intact(tmp_path, monkeypatch):
    old = _net(0)
    path = tmp_path / "w.npz"
    old.save_weights(path)
    _break_writer_midway(monkeypatch)
    with pytest.raises(OSError, match="disk on fire"):
        _net(1).save_weights(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["w.npz"]  # the temporary file was removed
    check = _net(2)
    check.load_weights(path)
    _assert_same(_arrays(check), _arrays(old))


def test_killed_process_mid_save_leaves_the_old_file_intact(tmp_path):
    old = _net(0)
    path = tmp_path / "w.npz"
    old.save_weights(path)
    marker = tmp_path / "writing"
    child = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {REPO!r})
        import numpy as np
        from tests.test_checkpoint import _net
        real = np.lib.format.write_array
        def slow(fp, array, *a, **k):
            real(fp, array, *a, **k)
            fp.flush()
            open({str(marker)!r}, "w").close()   # now in the middle of the archive
            time.sleep(60)
        np.lib.format.write_array = slow
        _net(1).save_weights({str(path)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", child])
    try:
        deadline = time.time() + 30
        while not marker.exists():
            assert proc.poll() is None, "the child died before reaching the middle of the save"
            assert time.time() < deadline, "the child never reached the middle of the save"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    check = _net(2)
    check.load_weights(path)
    _assert_same(_arrays(check), _arrays(old))
    leftovers = [n for n in os.listdir(tmp_path) if n not in ("w.npz", "writing")]
    assert len(leftovers) == 1 and leftovers[0].startswith(".w.npz.") and leftovers[0].endswith(".tmp")


def test_keys_and_order_are_the_same_in_every_process(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {REPO!r})
        import numpy as np
        from tests.test_checkpoint import _net
        _net(0).save_weights(sys.argv[1])
    """)
    orders = []
    for seed in ("1", "2"):
        out = tmp_path / f"w{seed}.npz"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
        with np.load(out) as f:
            orders.append((f.files, [f[k].tobytes() for k in f.files]))
    _net(0).save_weights(tmp_path / "here.npz")
    with np.load(tmp_path / "here.npz") as f:
        orders.append((f.files, [f[k].tobytes() for k in f.files]))
    assert orders[0] == orders[1] == orders[2]


# =============================================================================
# Checkpoints
# =============================================================================
def _train_steps(model, optimizer, n, start):
    for step in range(start, start + n):
        rng = np.random.default_rng(step)  # the data of a step depends on the step only
        x = rng.standard_normal((6, 3)).astype(np.float32)
        t = rng.integers(0, 2, size=6)
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()


@pytest.mark.parametrize(
    "make_optimizer", [lambda: MomentumSGD(lr=0.1), lambda: Adam(alpha=0.01)], ids=["MomentumSGD", "Adam"]
)
def test_resumed_training_is_bit_identical(tmp_path, make_optimizer):
    N = 5
    straight = _net(0)
    opt = make_optimizer().setup(straight)
    _train_steps(straight, opt, 2 * N, 0)

    first = _net(0)
    opt1 = make_optimizer().setup(first)
    _train_steps(first, opt1, N, 0)
    save_checkpoint(tmp_path / "ckpt.npz", first, opt1, epoch=N, tag="run-a", curve=np.arange(3.0))

    resumed = _net(99)  # fresh objects, different initial weights
    opt2 = make_optimizer()  # not even set up: load_checkpoint does it
    extra = load_checkpoint(tmp_path / "ckpt.npz", resumed, opt2)
    assert opt2.target is resumed
    assert extra["epoch"] == N and isinstance(extra["epoch"], int)
    assert extra["tag"] == "run-a" and isinstance(extra["tag"], str)
    np.testing.assert_array_equal(extra["curve"], np.arange(3.0))
    _train_steps(resumed, opt2, N, N)

    _assert_same(_arrays(resumed), _arrays(straight))
    if isinstance(opt, Adam):
        assert opt2.t == opt.t == 2 * N


class DropoutNet(Layer):
    def __init__(self):
        super().__init__()
        self.l1 = Linear(16)
        self.l2 = Linear(3)

    def forward(self, x):
        return self.l2(F.dropout(F.relu(self.l1(x)), 0.3))


class Items:
    """A small labelled dataset; the order the loader visits it in matters."""

    def __init__(self):
        rng = np.random.RandomState(7)
        self.x = rng.randn(23, 4).astype(np.float32)
        self.t = rng.randint(0, 3, size=23)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.t[i]


def _epochs(model, optimizer, loader, n):
    for _ in range(n):
        for x, t in loader:
            loss = F.softmax_cross_entropy(model(x), t)
            model.cleargrads()
            loss.backward()
            optimizer.update()


def _start(seed):
    np.random.seed(seed)  # a new process seeds (or not) as it likes
    model = DropoutNet()
    optimizer = Adam(alpha=0.01).setup(model)
    loader = DataLoader(Items(), batch_size=5)  # shuffles every epoch
    return model, optimizer, loader


@pytest.mark.parametrize("loader_made", ["before loading", "after loading"])
def test_training_with_shuffling_and_dropout_resumes_bit_identically(tmp_path, loader_made):
    model, optimizer, loader = _start(0)
    _epochs(model, optimizer, loader, 2)
    save_checkpoint(tmp_path / "ckpt.npz", model, optimizer, epoch=2)
    _epochs(model, optimizer, loader, 2)
    straight = _arrays(model)

    resumed, resumed_optimizer, resumed_loader = _start(12345)
    if loader_made == "after loading":
        resumed_loader = None
    resumed(np.zeros((1, 4), np.float32))  # sizes the lazy layers: they draw from np.random too
    assert load_checkpoint(tmp_path / "ckpt.npz", resumed, resumed_optimizer)["epoch"] == 2
    if resumed_loader is None:
        resumed_loader = DataLoader(Items(), batch_size=5)
    _epochs(resumed, resumed_optimizer, resumed_loader, 2)
    _assert_same(_arrays(resumed), straight)


def test_loading_a_checkpoint_can_leave_the_random_state_alone(tmp_path):
    net = _net()
    np.random.seed(1)
    save_checkpoint(tmp_path / "c.npz", net)
    saved_next = np.random.rand()
    np.random.seed(2)
    load_checkpoint(tmp_path / "c.npz", _net(), restore_random_state=False)
    assert np.random.rand() != saved_next
    load_checkpoint(tmp_path / "c.npz", _net())
    assert np.random.rand() == saved_next


def test_the_random_state_is_stored_as_plain_arrays_and_checked_on_load(tmp_path):
    net = _net()
    save_checkpoint(tmp_path / "c.npz", net)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    assert arrays["random/numpy/key"].shape == (624,) and arrays["random/numpy/key"].dtype == np.uint32
    target = _net(1)
    weights = _arrays(target)
    np.random.seed(3)
    before = np.random.get_state()[1].copy()
    for key, bad, message in [
        ("random/numpy/key", np.zeros(5, np.uint32), "'random/numpy/key' must be 624 uint32 values"),
        ("random/numpy/pos", np.asarray(999), r"the random state is out of range \(pos 999"),
        ("random/numpy/has_gauss", np.zeros(2), "'random/numpy/has_gauss' must be a 0-d integer"),
    ]:
        damaged = dict(arrays)
        damaged[key] = bad
        np.savez(tmp_path / "bad.npz", **damaged)
        with pytest.raises(ValueError, match=message):
            load_checkpoint(tmp_path / "bad.npz", target)
        _assert_same(_arrays(target), weights)  # nothing assigned
        np.testing.assert_array_equal(np.random.get_state()[1], before)
    partial = {k: v for k, v in arrays.items() if k != "random/numpy/pos"}
    np.savez(tmp_path / "partial.npz", **partial)
    with pytest.raises(ValueError, match=r"the random state is incomplete \(missing random/numpy/pos\)"):
        load_checkpoint(tmp_path / "partial.npz", target)


def test_a_checkpoint_of_the_first_format_without_random_state_still_loads(tmp_path):
    net = _net()
    save_checkpoint(tmp_path / "c.npz", net, epoch=4)
    with np.load(tmp_path / "c.npz", allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if not k.startswith("random/")}
    arrays["format"] = np.asarray("dezero-checkpoint/1")
    np.savez(tmp_path / "v1.npz", **arrays)
    target = _net(1)
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    assert load_checkpoint(tmp_path / "v1.npz", target) == {"epoch": 4}
    _assert_same(_arrays(target), _arrays(net))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # nothing to restore: untouched


def test_checkpoint_is_atomic_and_refuses_mismatches(tmp_path, monkeypatch):
    net = _net(0)
    opt = MomentumSGD().setup(net)
    _train_steps(net, opt, 1, 0)
    path = tmp_path / "c.npz"
    save_checkpoint(path, net, opt, epoch=1)
    _break_writer_midway(monkeypatch)
    with pytest.raises(OSError):
        save_checkpoint(path, net, opt, epoch=2)
    monkeypatch.undo()
    assert load_checkpoint(path, _net(1), MomentumSGD())["epoch"] == 1

    target = _net(2)
    before = _arrays(target)
    with pytest.raises(TypeError, match="state of a MomentumSGD, not of a Adam"):
        load_checkpoint(path, target, Adam())
    _assert_same(_arrays(target), before)
    # A bad optimizer entry leaves the model's weights untouched too.
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    arrays["optimizer/state/l1/W/v"] = np.ones((9, 9), dtype=np.float32)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match="'l1/W/v' has shape"):
        load_checkpoint(tmp_path / "bad.npz", target, MomentumSGD())
    _assert_same(_arrays(target), before)
    # A weights file is not a checkpoint, nor the other way round.
    net.save_weights(tmp_path / "w.npz")
    with pytest.raises(ValueError, match="not a dezero checkpoint"):
        load_checkpoint(tmp_path / "w.npz", target, MomentumSGD())
    with pytest.raises(ValueError, match="is a checkpoint; read it with"):
        target.load_weights(path)


def test_checkpoint_extra_values_must_not_need_pickle(tmp_path):
    net = _net()
    with pytest.raises(TypeError, match="'history'.*without pickle"):
        save_checkpoint(tmp_path / "c.npz", net, None, history={"a": 1})
    assert os.listdir(tmp_path) == []
    save_checkpoint(tmp_path / "c.npz", net)  # the optimizer is optional
    assert load_checkpoint(tmp_path / "c.npz", _net(1)) == {}


def test_a_ragged_extra_value_is_refused_naming_save_checkpoint_and_the_key(tmp_path):
    net = _net()
    path = tmp_path / "c.npz"
    save_checkpoint(path, net, epoch=1)
    before = path.read_bytes()
    with pytest.raises(ValueError) as raised:
        save_checkpoint(path, net, epoch=2, hist=[[1], [2, 3]])
    message = str(raised.value)
    assert message.startswith(f"save_checkpoint({str(path)!r}): extra value 'hist' cannot be made into one array")
    assert path.read_bytes() == before  # the checkpoint already there is kept
    assert load_checkpoint(path, _net(1)) == {"epoch": 1}


# =============================================================================
# Archives that lie about their sizes
# =============================================================================
def _npy_claiming(shape, data=b"\0" * 16):
    """An .npy member whose header declares ``shape`` (float64) followed by ``data``."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return header.getvalue() + data


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_an_archive_whose_header_claims_a_huge_array_is_refused_before_allocating(tmp_path, compression):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("format.npy", _npy_claiming((10**13,)))
    net = _net()
    before = _arrays(net)
    with pytest.raises(ValueError) as raised:  # not MemoryError
        load_checkpoint(path, net)
    assert str(raised.value) == (
        f"load_checkpoint({str(path)!r}): {str(path)!r} is damaged: entry 'format' cannot be read "
        "(the header of 'format.npy' declares a float64 array of shape (10000000000000,) "
        "(80000000000000 bytes) but the member holds 16 bytes of data)"
    )
    _assert_same(_arrays(net), before)


def test_an_archive_whose_directory_claims_a_huge_member_is_refused_before_allocating(tmp_path):
    # The header and the zip directory agree on 3.2 GB; the deflated member
    # holds a few bytes, which deflate could not expand that far.
    n = 400_000_000
    payload = _npy_claiming((n,))
    claimed = len(payload) - 16 + 8 * n
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("w.npy", payload)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, raw.index(b"PK\x03\x04") + 22, claimed)  # the local header's size
    struct.pack_into("<I", raw, raw.index(b"PK\x01\x02") + 24, claimed)  # the directory's size
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"'w.npy' claims {claimed} bytes, more than its .* compressed bytes can hold"):
        load_checkpoint(path, _net())
    with pytest.raises(ValueError, match="'w.npy' claims"):
        _net().load_weights(path)


def _npy_bytes(array):
    out = io.BytesIO()
    np.save(out, array)
    return out.getvalue()


def _write_members(path, members):
    """A zip archive with exactly ``members`` ((name, bytes) pairs), repeats included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about a repeated name
        with zipfile.ZipFile(path, "w") as archive:
            for name, payload in members:
                archive.writestr(name, payload)


def _weights_members(net):
    return [(key + ".npy", _npy_bytes(value)) for key, value in _arrays(net).items()]


def _load_weights(path, net):
    net.load_weights(path)


@pytest.mark.parametrize("load", [_load_weights, load_checkpoint], ids=["load_weights", "load_checkpoint"])
def test_an_archive_member_that_is_not_an_npy_array_is_refused_naming_it(tmp_path, load):
    net = _net()
    members = _weights_members(net)
    first = members[0][0][: -len(".npy")]
    members[0] = (first, b"hello")  # NumPy would hand back these bytes, not an array
    path = tmp_path / "raw.npz"
    _write_members(path, members)
    before = _arrays(net)
    with pytest.raises(ValueError) as raised:
        load(path, net)
    message = str(raised.value)
    assert message.startswith(f"{load.__name__.lstrip('_')}({str(path)!r})")
    assert f"member {first!r} is not an .npy array" in message and str(path) in message
    _assert_same(_arrays(net), before)


@pytest.mark.parametrize("load", [_load_weights, load_checkpoint], ids=["load_weights", "load_checkpoint"])
@pytest.mark.parametrize("extra_name", ["{}.npy", "{}"], ids=["same-name", "without-suffix"])
def test_an_archive_with_two_members_for_one_entry_is_refused_naming_them(tmp_path, load, extra_name):
    net = _net()
    members = _weights_members(net)
    name, payload = members[0]
    key = name[: -len(".npy")]
    members.append((extra_name.format(key), _npy_bytes(np.zeros(0))))  # the last one would win
    path = tmp_path / "twice.npz"
    _write_members(path, members)
    before = _arrays(net)
    with pytest.raises(ValueError) as raised:
        load(path, net)
    message = str(raised.value)
    assert message.startswith(f"{load.__name__.lstrip('_')}({str(path)!r})")
    if extra_name == "{}.npy":
        assert f"member {name!r} appears twice" in message
    else:
        assert f"members {name!r} and {key!r} would both load as entry {key!r}" in message
    _assert_same(_arrays(net), before)


def test_read_npz_refuses_members_it_cannot_read_as_arrays(tmp_path):
    path = tmp_path / "mixed.npz"
    _write_members(path, [("a.npy", _npy_bytes(np.ones(2))), ("notes.txt", b"hello")])
    with pytest.raises(ValueError, match=r"^here: '.*mixed.npz' is not a valid .npz archive: member 'notes.txt'"):
        read_npz(path, "here")


def test_arrays_of_every_shape_and_compression_still_load(tmp_path):
    arrays = {
        "empty": np.zeros((0, 3), np.float32),
        "scalar": np.float64(2.5),
        "zeros": np.zeros((300, 300)),  # deflates about 1000 to 1
        "fortran": np.asfortranarray(np.arange(12.0).reshape(3, 4)),
        "structured": np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]),
    }
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, **arrays)
        back = read_npz(path, "here")
        assert sorted(back) == sorted(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(back[key], value)
