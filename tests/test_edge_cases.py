"""Edge cases found in review: each test failed before its fix."""
import gzip
import os
import pickle
import stat

import numpy as np
import pytest

import dezero.functions as F
import dezero.layers as L
import dezero.optimizers as optim
from dezero.datasets import read_idx
from dezero.files import get_file
from dezero.models import MLP, Sequential


@pytest.mark.parametrize("later_hook", [optim.ClipGrad(0.1), optim.WeightDecay(0.1)], ids=["ClipGrad", "WeightDecay"])
def test_hooks_after_freeze_param_see_only_the_remaining_gradients(later_hook):
    model = MLP((4, 2))
    x = np.ones((2, 3), np.float32)
    model(x)
    optimizer = optim.SGD(lr=0.1).setup(model)
    optimizer.add_hook(optim.FreezeParam(model.l0))
    optimizer.add_hook(later_hook)
    frozen = model.l0.W.data.copy()
    trained = model.l1.W.data.copy()
    model.cleargrads()
    F.sum(model(x)).backward()
    optimizer.update()
    np.testing.assert_array_equal(model.l0.W.data, frozen)
    assert not np.array_equal(model.l1.W.data, trained)


@pytest.mark.parametrize("layer_class", [L.RNN, L.LSTM])
def test_recurrent_state_from_another_batch_size_is_an_error(layer_class):
    layer = layer_class(3, in_size=2)
    layer(np.ones((4, 2), np.float32))
    with pytest.raises(ValueError, match="batch size 1 but the state has 4; call reset_state"):
        layer(np.ones((1, 2), np.float32))
    layer.reset_state()
    assert layer(np.ones((1, 2), np.float32)).shape == (1, 3)


def test_layers_pickle_after_a_forward_pass():
    model = Sequential(L.LSTM(4, in_size=3), L.Linear(2))
    x = np.ones((2, 3), np.float32)
    y = model(x)
    clone = pickle.loads(pickle.dumps(model))
    for (name, p), (name2, q) in zip(model.named_params(), clone.named_params()):
        assert name == name2
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_allclose(clone(x).data, model(x).data)
    assert y.shape == (2, 2)


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


def test_read_idx_accepts_path_objects(tmp_path):
    data = np.arange(6, dtype=np.uint8).reshape(2, 3)
    header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    path = tmp_path / "a.idx.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + data.tobytes())
    np.testing.assert_array_equal(read_idx(path), data)
