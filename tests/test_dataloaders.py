"""DataLoader and SeqDataLoader."""

import os
import subprocess
import sys

import numpy as np
import pytest

from dezero import backend
from dezero.dataloaders import DataLoader, SeqDataLoader
from dezero.datasets import Dataset


class Numbered(Dataset):
    """Item i is (a float32 (2, 3) array filled with i, label i)."""

    def __init__(self, n, labelled=True):
        self.n, self.labelled = n, labelled
        super().__init__()

    def prepare(self):
        self.data = np.repeat(np.arange(self.n, dtype=np.float32), 6).reshape(self.n, 2, 3)
        self.label = np.arange(self.n) if self.labelled else None


def _epoch(loader):
    return [(x.copy(), None if t is None else t.copy()) for x, t in loader]


@pytest.mark.parametrize(
    "n, batch_size, drop_last, expected_len",
    [
        (10, 3, False, 4),
        (10, 3, True, 3),
        (9, 3, False, 3),
        (9, 3, True, 3),
        (2, 5, False, 1),
        (2, 5, True, 0),
        (0, 4, False, 0),
    ],
)
def test_len(n, batch_size, drop_last, expected_len):
    loader = DataLoader(Numbered(n), batch_size, drop_last=drop_last)
    assert len(loader) == expected_len
    assert len(_epoch(loader)) == expected_len


def test_every_sample_once_per_epoch_and_batches_well_formed():
    np.random.seed(0)
    loader = DataLoader(Numbered(10), batch_size=3)
    batches = _epoch(loader)
    assert [len(t) for _, t in batches] == [3, 3, 3, 1]  # the partial batch is kept
    for x, t in batches:
        assert x.dtype == np.float32 and x.shape == (len(t), 2, 3)
        assert t.dtype == np.int64
        # inputs and labels stay paired through the shuffle
        np.testing.assert_array_equal(x[:, 0, 0], t)
    seen = np.concatenate([t for _, t in batches])
    assert sorted(seen.tolist()) == list(range(10))


def test_drop_last_skips_only_the_partial_batch():
    loader = DataLoader(Numbered(10), batch_size=3, drop_last=True)
    batches = _epoch(loader)
    assert [len(t) for _, t in batches] == [3, 3, 3]
    assert len(set(np.concatenate([t for _, t in batches]).tolist())) == 9


def test_reshuffles_each_epoch_and_restarts_for_next_loop():
    np.random.seed(1)
    loader = DataLoader(Numbered(50), batch_size=8)
    orders = [np.concatenate([t for _, t in loader]) for _ in range(3)]
    for order in orders:
        assert sorted(order.tolist()) == list(range(50))  # a second `for` is a full new epoch
    assert not np.array_equal(orders[0], orders[1])
    assert not np.array_equal(orders[1], orders[2])
    assert not np.array_equal(orders[0], np.arange(50))


def test_stop_iteration_then_reset():
    loader = DataLoader(Numbered(4), batch_size=2, shuffle=False)
    next(loader)
    loader.next()  # the book's spelling
    with pytest.raises(StopIteration):
        next(loader)
    x, t = next(loader)  # the loader has reset itself
    np.testing.assert_array_equal(t, [0, 1])


def test_no_shuffle_keeps_order():
    loader = DataLoader(Numbered(7), batch_size=3, shuffle=False)
    assert [t.tolist() for _, t in loader] == [[0, 1, 2], [3, 4, 5], [6]]


def test_seeded_shuffle_is_repeatable():
    np.random.seed(42)
    a = [t.tolist() for _, t in DataLoader(Numbered(20), batch_size=5)]
    np.random.seed(42)
    b = [t.tolist() for _, t in DataLoader(Numbered(20), batch_size=5)]
    assert a == b


def test_unlabelled_dataset_gives_none_labels():
    x, t = next(DataLoader(Numbered(5, labelled=False), batch_size=2))
    assert t is None and x.shape == (2, 2, 3)


def test_transform_is_applied_per_item():
    ds = Numbered(6)
    ds.transform = lambda a: a.reshape(-1) * 2
    x, t = next(DataLoader(ds, batch_size=6, shuffle=False))
    assert x.shape == (6, 6) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], 2 * t)


def test_items_of_different_shapes_give_clear_error():
    class Ragged(Dataset):
        def prepare(self):
            self.data = [np.zeros(2), np.zeros(3)]
            self.label = np.array([0, 1])

    with pytest.raises(ValueError, match=r"same shape.*\(2,\).*\(3,\)"):
        next(DataLoader(Ragged(), batch_size=2, shuffle=False))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(Numbered(4), bad)


@pytest.mark.skipif(backend.gpu_enable, reason="checks the error raised without a GPU")
def test_to_gpu_without_gpu_is_a_clear_error():
    loader = DataLoader(Numbered(4), batch_size=2)
    with pytest.raises(RuntimeError, match="DataLoader.to_gpu: as_cupy"):
        loader.to_gpu()
    assert loader.gpu is False
    with pytest.raises(RuntimeError, match="to_gpu"):
        DataLoader(Numbered(4), batch_size=2, gpu=True)
    loader.to_cpu()
    x, _ = next(loader)
    assert isinstance(x, np.ndarray)


@pytest.mark.skipif(not backend.gpu_enable, reason="CuPy or a CUDA device is missing")
def test_gpu_batches_are_cupy():
    loader = DataLoader(Numbered(4), batch_size=2, gpu=True)
    x, t = next(loader)
    assert isinstance(x, backend.cupy.ndarray) and isinstance(t, backend.cupy.ndarray)
    loader.to_cpu()
    x, t = next(loader)
    assert isinstance(x, np.ndarray)


def test_progress_bar_counts_batches_on_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    loader = DataLoader(Numbered(10), batch_size=4, progress=True)
    counts = [(loader._bar.n, loader._bar.total) for _ in loader]
    assert counts == [(1, 3), (2, 3), (3, 3)]
    assert loader._bar is None  # closed at the end of the epoch
    assert "0/3" in capsys.readouterr().err  # drawn on stderr


def test_progress_bar_writes_nothing_when_stderr_is_not_a_terminal(capsys):
    # A log file would fill with carriage-return updates.
    loader = DataLoader(Numbered(10), batch_size=4, progress=True)
    assert len([batch for batch in loader]) == 3
    assert capsys.readouterr().err == ""


# =============================================================================
# SeqDataLoader
# =============================================================================
def test_seq_loader_stream_layout():
    n, batch_size = 11, 3  # jump = 3; items 9 and 10 are left out
    loader = SeqDataLoader(Numbered(n), batch_size)
    assert len(loader) == 3
    steps = [t.tolist() for _, t in loader]
    assert steps == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    # each column is one stream reading consecutive items
    streams = np.array(steps).T
    for k, stream in enumerate(streams):
        np.testing.assert_array_equal(stream, np.arange(k * 3, k * 3 + 3))


def test_seq_loader_matches_plain_loop_and_repeats_each_epoch():
    n, batch_size = 20, 4
    jump = n // batch_size
    expected = [[(k * jump + i) for k in range(batch_size)] for i in range(jump)]
    loader = SeqDataLoader(Numbered(n), batch_size)
    for _ in range(2):
        got = []
        for x, t in loader:
            assert x.shape == (batch_size, 2, 3) and x.dtype == np.float32
            np.testing.assert_array_equal(x[:, 0, 0], t)
            got.append(t.tolist())
        assert got == expected  # never shuffled


def test_seq_loader_too_large_batch():
    with pytest.raises(ValueError, match="larger than the series"):
        SeqDataLoader(Numbered(3), batch_size=4)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code: str) -> str:
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_pil_available_says_whether_pillow_is_installed_without_importing_it():
    import importlib.util

    from dezero import dataloaders

    assert dataloaders.pil_available is (importlib.util.find_spec("PIL") is not None)
    out = _run("import sys, dezero.dataloaders as d; print(d.pil_available, 'PIL' in sys.modules)")
    assert out.split() == [str(dataloaders.pil_available), "False"]


def test_pil_available_is_false_when_pillow_cannot_be_found():
    out = _run("import sys; sys.modules['PIL'] = None; import dezero.dataloaders as d; print(d.pil_available)")
    assert out.strip() == "False"


def test_import_dezero_survives_a_stub_pil_module_without_a_spec():
    # A stub module (as test suites make with types.ModuleType) has __spec__
    # None, which importlib.util.find_spec refuses with a ValueError.
    code = (
        "import sys, types; stub = types.ModuleType('PIL'); stub.__spec__ = None; "
        "sys.modules['PIL'] = stub; import dezero; print(dezero.dataloaders.pil_available)"
    )
    assert _run(code).strip() == "True"
