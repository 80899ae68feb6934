"""Mini-batches from a dataset.

:class:`DataLoader` shuffles a dataset and yields stacked ``(x, t)`` batches,
one epoch per ``for`` loop::

    loader = DataLoader(train_set, batch_size=100)
    for epoch in range(10):
        for x, t in loader:      # a fresh shuffle every epoch
            ...

:class:`SeqDataLoader` walks a time series in order with several parallel
streams, for truncated backpropagation through time.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from typing import Optional

import numpy as np

from dezero.backend import array_types, as_cupy, as_numpy
from dezero.optional import progress_bar

__all__ = ["DataLoader", "SeqDataLoader", "pil_available"]


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ValueError:
        # find_spec refuses a module already imported whose __spec__ is None
        # (a stub some test suites or frameworks put in sys.modules): it is
        # there, so it counts as available unless it is None, the marker that
        # hides a package.
        return sys.modules.get(name) is not None


# The book's flag: whether Pillow is installed. Looked up, not imported: the
# loaders never need it, and importing it would slow every `import dezero`
# (the image transforms import it when called).
pil_available: bool = _module_available("PIL")


class DataLoader:
    """Iterate over ``dataset`` in mini-batches.

    Parameters
    ----------
    dataset
        Anything with ``__len__`` and ``__getitem__(i) -> (x, t)``.
    batch_size : int
        Items per batch.
    shuffle : bool
        Visit the items in a new random order every epoch, drawn from
        ``np.random`` (so ``np.random.seed`` makes runs repeatable) when the
        epoch's first batch is taken, not before: a checkpoint saved between
        epochs holds the generator's state, and a loader created before or
        after loading it draws the same next order (see
        :func:`dezero.serialization.save_checkpoint`).
    gpu : bool
        Return CuPy arrays (see :meth:`to_gpu`).
    drop_last : bool
        Skip the last batch when it is smaller than ``batch_size``. By
        default it is kept, so every item is seen once per epoch.
    progress : bool
        Show a tqdm progress bar over each epoch (only when stderr is a terminal).

    Notes
    -----
    Each step returns ``(x, t)``: the items' inputs stacked along a new first
    axis (dtype kept, e.g. float32) and their labels as one array (int64 for
    int labels), or None when the dataset has no labels. ``len(loader)`` is
    the number of batches per epoch. At the end of an epoch the loader raises
    StopIteration and resets itself, so the next ``for`` loop starts a new
    epoch; a loop left early with ``break`` resumes where it stopped unless
    :meth:`reset` is called.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        shuffle: bool = True,
        gpu: bool = False,
        drop_last: bool = False,
        progress: bool = False,
    ):
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"{type(self).__name__}: batch_size must be a positive int, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.progress = progress
        self.data_size = len(dataset)
        self.gpu = False
        if gpu:
            self.to_gpu()
        self._bar = None
        self.reset()

    def __len__(self) -> int:
        if self.drop_last:
            return self.data_size // self.batch_size
        return math.ceil(self.data_size / self.batch_size)

    @property
    def max_iter(self) -> int:
        """Batches per epoch (the book's name for ``len(loader)``)."""
        return len(self)

    def reset(self) -> None:
        """Start a new epoch (with a new order when shuffling, drawn when its
        first batch is taken)."""
        self.iteration = 0
        self.index: Optional[np.ndarray] = None

    def _draw_order(self) -> np.ndarray:
        if self.shuffle:
            return np.random.permutation(self.data_size)
        return np.arange(self.data_size)

    def _batch_index(self, i: int) -> np.ndarray:
        if self.index is None:
            self.index = self._draw_order()
        return self.index[i * self.batch_size : (i + 1) * self.batch_size]

    def __iter__(self):
        return self

    def __next__(self):
        if self.iteration >= len(self):
            if self._bar is not None:
                self._bar.close()
                self._bar = None
            self.reset()
            raise StopIteration
        if self.progress and self._bar is None:
            self._bar = progress_bar(total=len(self), initial=self.iteration, unit="batch", leave=False)
        batch = [self.dataset[int(i)] for i in self._batch_index(self.iteration)]
        x, t = self._collate(batch)
        self.iteration += 1
        if self._bar is not None:
            self._bar.update(1)
        return x, t

    def next(self):
        """Python-2 style alias of ``__next__``, as in the book.

        Returns
        -------
        tuple
            The next ``(x, t)`` batch.
        """
        return self.__next__()

    def _collate(self, batch):
        # as_numpy, not np.asarray: a dataset may hold CuPy arrays, which NumPy
        # refuses to convert implicitly.
        xs = [as_numpy(item[0]) for item in batch]
        shapes = {x.shape for x in xs}
        if len(shapes) > 1:
            raise ValueError(
                f"{type(self).__name__}: items of one batch must have the same shape to be "
                f"stacked, got {sorted(shapes)}; add a transform that makes them equal"
            )
        x = np.stack(xs)
        labels = [as_numpy(item[1]) if isinstance(item[1], array_types) else item[1] for item in batch]
        t = None if all(label is None for label in labels) else np.asarray(labels)
        if self.gpu:
            x = as_cupy(x)
            t = None if t is None else as_cupy(t)
        return x, t

    def to_cpu(self) -> None:
        """Return NumPy batches from now on."""
        self.gpu = False

    def to_gpu(self) -> None:
        """Return CuPy batches from now on; raises a clear error at once when
        CuPy or a CUDA device is missing."""
        try:
            as_cupy(np.empty(0, dtype=np.float32))
        except RuntimeError as e:
            raise RuntimeError(f"{type(self).__name__}.to_gpu: {e}") from e
        self.gpu = True


class SeqDataLoader(DataLoader):
    """Batches of a time series for truncated BPTT: ``batch_size`` streams walk
    the series in order, in parallel, never shuffled.

    With ``jump = len(dataset) // batch_size``, stream k reads items
    ``k * jump, k * jump + 1, ...``; step i of an epoch returns items
    ``[i, jump + i, 2 * jump + i, ...]``, i.e. one time step of every stream,
    so a recurrent state carried from one step to the next follows each
    stream's own history. An epoch has ``jump`` steps; the last
    ``len(dataset) % batch_size`` items are not visited.

    Parameters
    ----------
    dataset
        A time series: ``dataset[i]`` is the pair of step i.
    batch_size : int
        The number of parallel streams.
    gpu : bool
        Return CuPy arrays.
    progress : bool
        Show a progress bar over each epoch (on a terminal only).
    """

    def __init__(self, dataset, batch_size: int, gpu: bool = False, progress: bool = False):
        super().__init__(dataset, batch_size, shuffle=False, gpu=gpu, drop_last=False, progress=progress)
        if self.data_size < self.batch_size:
            raise ValueError(
                f"SeqDataLoader: batch_size {self.batch_size} is larger than the series "
                f"({self.data_size} items), so a stream would be empty"
            )

    def __len__(self) -> int:
        return self.data_size // self.batch_size

    def _batch_index(self, i: int) -> np.ndarray:
        jump = self.data_size // self.batch_size
        return np.arange(self.batch_size) * jump + i
