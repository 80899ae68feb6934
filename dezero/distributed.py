"""Data-parallel training on MPI, in the style of ChainerMN.

Every process (a *rank*) holds a whole copy of the model and trains on its own
shard of the data. After each backward pass the gradients are averaged over
the ranks, so every rank applies the same update and the copies stay
identical, bit for bit::

    import dezero.distributed as dist

    comm = dist.create_communicator()            # MPI.COMM_WORLD; size 1 without mpiexec
    model = MLP((1000, 10))
    model(train_set[0][0][None])                 # lazy layers make their weights...
    comm.bcast_data(model)                       # ...then all ranks take rank 0's
    optimizer = dist.create_multi_node_optimizer(Adam(), comm).setup(model)
    shard = dist.scatter_dataset(train_set, comm, shuffle=True, seed=0)
    for x, t in DataLoader(shard, batch_size=100):
        loss = F.softmax_cross_entropy(model(x), t)
        model.cleargrads()
        loss.backward()
        optimizer.update()                       # mean of the gradients, then Adam

Started with ``mpiexec -n 4 python train.py``. MPI (through mpi4py) carries
the control messages and the CPU gradients; gradients of CuPy arrays go
through NCCL when CuPy has it and every rank has a GPU of its own. Only this
module imports mpi4py, and only when a communicator is created: ``import
dezero`` never needs it. The docs page ``docs/distributed.md`` says how to run
on several machines.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import sys
import threading
import traceback
import warnings
import weakref
from typing import Any, Dict, Iterator, List, Mapping, NoReturn, Optional, Sequence, Tuple

import numpy as np

from dezero import backend
from dezero.backend import as_numpy, get_array_module
from dezero.core import Variable

__all__ = [
    "MpiCommunicator",
    "SubDataset",
    "create_communicator",
    "scatter_dataset",
    "create_multi_node_optimizer",
    "local_launcher",
    "COMMUNICATOR_NAMES",
    "LOCAL_ONLY_ENV",
]

COMMUNICATOR_NAMES = ("auto", "naive", "pure_nccl")

_INSTALL_HINT = "pip install mpi4py mpich"


def _import_mpi():
    """Return mpi4py's ``MPI`` module; importing it initializes MPI."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"dezero.distributed needs mpi4py and an MPI library ({_INSTALL_HINT}): {e}") from e
    return MPI


def _import_nccl():
    """CuPy's NCCL binding, or None when CuPy or its NCCL library is missing."""
    try:
        from cupy.cuda import nccl
    except ImportError:
        return None
    if not getattr(nccl, "available", True) or not hasattr(nccl, "NcclCommunicator"):
        return None
    return nccl


def _current_gpu() -> str:
    """The current CUDA device, named so that two ranks on one machine that use the
    same GPU name it alike (its PCI bus id: device numbers differ between ranks
    whose ``CUDA_VISIBLE_DEVICES`` differ)."""
    import cupy

    device = cupy.cuda.Device()
    try:
        return str(device.pci_bus_id)
    except Exception:  # a CuPy or driver that cannot say: the number is the next best name
        return f"device {device.id}"


def _why_not_nccl(name: str, ranks: Sequence[Tuple[bool, int, Optional[str]]]) -> Optional[str]:
    """Why CuPy gradients cannot go through NCCL, or None when they can (as far as
    can be known before NCCL starts).

    Parameters
    ----------
    name : {'auto', 'naive', 'pure_nccl'}
        The communicator's name.
    ranks : sequence of (bool, int, str or None)
        For each rank, in rank order: whether CuPy has NCCL there, the rank's
        machine (``inter_rank``) and its GPU (:func:`_current_gpu`).

    Returns
    -------
    str or None
        The reason, worded to follow "because"; None when nothing stands in NCCL's way.
    """
    if name == "naive":
        return "the communicator is 'naive'"
    lacking = [str(rank) for rank, (has_nccl, _, _) in enumerate(ranks) if not has_nccl]
    if lacking:
        return f"CuPy's NCCL binding is not available on rank(s) {', '.join(lacking)} (install a CuPy with NCCL)"
    users: Dict[tuple, List[int]] = {}
    for rank, (_, machine, gpu) in enumerate(ranks):
        users.setdefault((machine, gpu), []).append(rank)
    shared = [
        f"ranks {', '.join(map(str, rank_list))} on GPU {gpu} of machine {machine}"
        for (machine, gpu), rank_list in users.items()
        if len(rank_list) > 1
    ]
    if shared:
        # NCCL refuses two ranks on one GPU ("duplicate GPU"), and only on the
        # ranks that share it, which could leave the others waiting in NCCL.
        return (
            f"ranks share a GPU ({'; '.join(shared)}) and NCCL needs one GPU per rank: give each rank "
            "its own, cupy.cuda.Device(comm.intra_rank).use(), with as many GPUs as ranks on each machine"
        )
    return None


# =============================================================================
# Packing arrays into one flat buffer per dtype
# =============================================================================
def _backend_name(array) -> str:
    return "numpy" if get_array_module(array) is np else "cupy"


class _Group:
    """Arrays of one dtype and backend laid out one after the other in a flat buffer,
    followed by ``n_flags`` extra slots (see :meth:`MpiCommunicator.multi_node_mean_grad`)."""

    def __init__(self, dtype, module_name: str):
        self.dtype = np.dtype(dtype)
        self.module_name = module_name  # 'numpy' or 'cupy'
        self.items: List[Tuple[int, slice, tuple]] = []  # (index in the caller's list, place, shape)
        self.size = 0
        self.buffer = None

    @property
    def xp(self):
        return np if self.module_name == "numpy" else backend.cupy

    def add(self, index: int, shape: tuple) -> None:
        n = int(np.prod(shape, dtype=np.int64))
        self.items.append((index, slice(self.size, self.size + n), shape))
        self.size += n

    def allocate(self, n_flags: int = 0):
        """The flat buffer (made once and reused: one allocation per layout, not per step)."""
        if self.buffer is None:
            self.buffer = self.xp.empty(self.size + n_flags, dtype=self.dtype)
        return self.buffer


def _groups(arrays: Sequence) -> List[_Group]:
    """Group ``arrays`` (all initialized) by (dtype, backend), in order of first appearance."""
    groups: Dict[tuple, _Group] = {}
    for index, array in enumerate(arrays):
        key = (np.dtype(array.dtype).str, _backend_name(array))
        if key not in groups:
            groups[key] = _Group(array.dtype, key[1])
        groups[key].add(index, tuple(array.shape))
    return list(groups.values())


def _names(entries) -> str:
    return ", ".join(path for path, _ in entries) or "nothing"


def _describe(entry) -> str:
    shape, dtype, backend = entry
    if shape is None:
        return "not initialized (lazy)"
    where = "GPU" if backend == "cupy" else "CPU"
    return f"shape {shape} {dtype} on the {where}"


# =============================================================================
# The communicator
# =============================================================================
_ABORT_HOOKS_INSTALLED = False
# The status last passed to sys.exit by the main thread, once create_communicator
# has wrapped sys.exit: read at exit, after SystemExit has been handled.
_exit_status: List[Any] = [None]


class MpiCommunicator:
    """Collective operations over the ranks of an MPI communicator.

    Made by :func:`create_communicator`. Every method that communicates is *collective*: all
    ranks must call it, in the same order, or the job waits forever. A rank
    that raises aborts the whole job instead (see :meth:`abort_on_error`).

    Attributes
    ----------
    mpi_comm : mpi4py.MPI.Comm
        The wrapped communicator, for anything not offered here.
    rank, size : int
        This process's rank and the number of ranks.
    intra_rank, intra_size : int
        Rank among the ranks of this machine, and their number: use
        ``intra_rank`` to pick this rank's GPU (``cupy.cuda.Device(comm.intra_rank).use()``).
    inter_rank, inter_size : int
        This machine's index and the number of machines.
    name : str
        How CuPy gradients travel: ``'auto'``, ``'naive'`` or ``'pure_nccl'``.
    last_allreduce_bytes : int
        Bytes of the buffers the last :meth:`multi_node_mean_grad` summed (per rank).

    Parameters
    ----------
    mpi_comm : mpi4py.MPI.Comm
        The communicator to wrap (``MPI.COMM_WORLD`` from :func:`create_communicator`).
    name : str
        ``'auto'``, ``'naive'`` or ``'pure_nccl'``: how CuPy gradients travel.
    """

    def __init__(self, mpi_comm, name: str = "auto"):
        MPI = _import_mpi()
        self._MPI = MPI
        self.mpi_comm = mpi_comm
        self.name = name
        self.rank = mpi_comm.Get_rank()
        self.size = mpi_comm.Get_size()
        node = mpi_comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.intra_rank, self.intra_size = node.Get_rank(), node.Get_size()
        # Machines are numbered by their first rank's order: the leaders form a
        # communicator of their own, and each tells its machine its index.
        leaders = mpi_comm.Split(0 if self.intra_rank == 0 else MPI.UNDEFINED, key=self.rank)
        machine = (leaders.Get_rank(), leaders.Get_size()) if self.intra_rank == 0 else None
        if leaders != MPI.COMM_NULL:
            leaders.Free()
        self.inter_rank, self.inter_size = node.bcast(machine, root=0)
        node.Free()
        self._synced: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._grad_layouts: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
        self._nccl_comm = None
        self._nccl_decided = False
        self.last_allreduce_bytes = 0

    def __repr__(self) -> str:
        return (
            f"MpiCommunicator(rank={self.rank}, size={self.size}, intra_rank={self.intra_rank}, "
            f"machines={self.inter_size}, name={self.name!r})"
        )

    # --- objects ---------------------------------------------------------------------
    def barrier(self) -> None:
        """Wait until every rank has called it."""
        self.mpi_comm.Barrier()

    def bcast_obj(self, obj: Any, root: int = 0) -> Any:
        """Rank ``root``'s ``obj``, on every rank (pickled: small objects only).

        Parameters
        ----------
        obj : object
            The value to send (read on rank ``root`` only).
        root : int
            The sending rank.

        Returns
        -------
        object
            A copy of rank ``root``'s ``obj``.
        """
        return self.mpi_comm.bcast(obj, root=root)

    def gather_obj(self, obj: Any, root: int = 0) -> Optional[list]:
        """Collect every rank's ``obj`` on rank ``root``.

        Parameters
        ----------
        obj : object
            This rank's value (pickled: small objects only).
        root : int
            The receiving rank.

        Returns
        -------
        list or None
            On rank ``root``, every rank's ``obj`` in rank order; None elsewhere.
        """
        return self.mpi_comm.gather(obj, root=root)

    def allgather_obj(self, obj: Any) -> list:
        """Collect every rank's ``obj`` on every rank.

        Parameters
        ----------
        obj : object
            This rank's value (pickled: small objects only).

        Returns
        -------
        list
            Every rank's ``obj``, in rank order.
        """
        return self.mpi_comm.allgather(obj)

    def allreduce_obj(self, obj: Any, op: str = "sum") -> Any:
        """Combine every rank's ``obj`` and return the result on every rank.

        Parameters
        ----------
        obj : number or NumPy array
            This rank's value; arrays are combined elementwise and must have
            the same shape on every rank.
        op : {'sum', 'mean', 'max', 'min'}
            ``'mean'`` is the sum divided by ``size``.

        Returns
        -------
        The combined value, the same on every rank (the values are gathered
        and combined in rank order, so the result does not depend on the rank).

        Raises
        ------
        ValueError
            For an unknown ``op``.
        """
        if op not in ("sum", "mean", "max", "min"):
            raise ValueError(f"allreduce_obj: op must be 'sum', 'mean', 'max' or 'min', got {op!r}")
        values = self.mpi_comm.allgather(obj)
        shapes = {np.shape(v) for v in values}
        if len(shapes) > 1:
            raise ValueError(
                f"allreduce_obj: the ranks passed values of different shapes "
                f"{[np.shape(v) for v in values]} (rank order)"
            )
        if op in ("max", "min"):
            reduce = np.maximum if op == "max" else np.minimum
            result = values[0]
            for value in values[1:]:
                result = reduce(result, value)
            return result
        result = values[0]
        for value in values[1:]:
            result = result + value
        return result / self.size if op == "mean" else result

    def mean_metrics(self, metrics: Mapping[str, float], count: Optional[int] = None) -> Dict[str, float]:
        """Average evaluation results (loss, accuracy...) over the ranks.

        Parameters
        ----------
        metrics : mapping of str to float
            This rank's results, each a mean over the ``count`` items it saw;
            the same keys on every rank.
        count : int, optional
            How many items this rank's means are over. Given, the result is
            the mean over all items of all ranks (shards of different sizes
            weigh what they hold); omitted, every rank weighs the same.

        Returns
        -------
        dict
            ``{name: mean}``, the same floats on every rank.

        Raises
        ------
        ValueError
            When the ranks pass different keys, or ``count`` on some ranks only.
        """
        local = (sorted(metrics), [float(metrics[k]) for k in sorted(metrics)], count)
        everyone = self.mpi_comm.allgather(local)
        keys = everyone[0][0]
        for rank, (other_keys, _, other_count) in enumerate(everyone):
            if other_keys != keys:
                raise ValueError(f"mean_metrics: rank {rank} passed the metrics {other_keys}, rank 0 passed {keys}")
            if (other_count is None) != (count is None) or (other_count is not None and other_count < 0):
                raise ValueError(
                    f"mean_metrics: count must be given on every rank or on none, and be >= 0 "
                    f"(counts in rank order: {[c for _, _, c in everyone]})"
                )
        weights = np.array([1.0 if c is None else float(c) for _, _, c in everyone])
        total = weights.sum()
        if total == 0:
            raise ValueError("mean_metrics: every rank passed count=0, so there is nothing to average")
        values = np.array([v for _, v, _ in everyone], dtype=np.float64).reshape(len(everyone), len(keys))
        means = (weights[:, None] * values).sum(axis=0) / total
        return {key: float(mean) for key, mean in zip(keys, means)}

    # --- models --------------------------------------------------------------------------
    @staticmethod
    def _entry(array) -> tuple:
        if array is None:
            return (None, None, None)
        return (tuple(array.shape), np.dtype(array.dtype).name, _backend_name(array))

    def _check_same_everywhere(self, slots: List[tuple], where: str) -> None:
        """Raise the same error on every rank when the ranks' slots differ."""
        mine = [(path, kind, self._entry(value)) for path, kind, value in slots]
        everyone = self.mpi_comm.allgather(mine)
        reference = everyone[0]
        ref_paths = [(p, k) for p, k, _ in reference]
        for rank, other in enumerate(everyone):
            paths = [(p, k) for p, k, _ in other]
            if paths != ref_paths:
                raise ValueError(
                    f"{where}: the model on rank {rank} has the parameters {_names(paths)}, "
                    f"but on rank 0: {_names(ref_paths)}; every rank must build the same model"
                )
        for i, (path, kind, _) in enumerate(reference):
            entries = [other[i][2] for other in everyone]
            lazy = [rank for rank, e in enumerate(entries) if e[0] is None]
            if lazy:
                raise ValueError(
                    f"{where}: {'parameter' if kind == 'param' else 'persistent array'} '{path}' is not "
                    f"initialized on rank(s) {', '.join(map(str, lazy))}: a lazy layer creates its weights on "
                    "its first call, so run one forward pass on every rank (or give in_size/in_channels) first"
                )
            for rank, entry in enumerate(entries):
                if entry != entries[0]:
                    raise ValueError(
                        f"{where}: '{path}' has {_describe(entries[0])} on rank 0 but "
                        f"{_describe(entry)} on rank {rank}; every rank must build the same "
                        "model, on the same kind of device"
                    )

    @staticmethod
    def _slots(model) -> List[tuple]:
        if not hasattr(model, "named_params"):
            raise TypeError(f"expected a Layer or Model, got {type(model).__name__}")
        slots = [(path, "param", param.data) for path, param in model.named_params()]
        slots += [(path, "persistent", value) for path, value in model.named_persistents()]
        return slots

    @staticmethod
    def _signature(model) -> tuple:
        # Identity too: a Parameter replaced after bcast_data is a new, unsynced one.
        return tuple((id(p), MpiCommunicator._entry(p.data)) for p in model.params())

    def bcast_data(self, model, root: int = 0) -> None:
        """Copy rank ``root``'s parameters and persistent arrays into every rank's model.

        Call it once, before training: after the model was built (and moved to
        the GPU, if it is to train there), and after one forward pass when it
        has lazy layers, so that every weight exists.

        Parameters
        ----------
        model : Layer
            The same architecture on every rank.
        root : int
            The rank whose values every rank starts from.

        Raises
        ------
        ValueError
            On every rank, when the models differ between ranks (parameter
            names, shapes, dtypes, CPU/GPU) or a weight is not initialized yet;
            the message names the parameter and the ranks.
        TypeError
            When ``model`` is not a Layer.
        """
        where = f"{type(self).__name__}.bcast_data"
        try:
            slots = self._slots(model)
        except TypeError as e:
            raise TypeError(f"{where}: {e}") from None
        self._check_same_everywhere(slots, where)
        arrays = [value for _, _, value in slots]
        for group in _groups(arrays):
            # Through host memory: this runs once, so simplicity beats speed.
            buffer = np.empty(group.size, dtype=group.dtype)
            if self.rank == root:
                for index, place, _ in group.items:
                    buffer[place] = as_numpy(arrays[index]).reshape(-1)
            self.mpi_comm.Bcast(buffer, root=root)
            if self.rank != root:
                for index, place, shape in group.items:
                    arrays[index][...] = group.xp.asarray(buffer[place].reshape(shape))
        self._synced[model] = self._signature(model)

    def _grad_layout(self, model, where: str) -> Tuple[list, List[_Group]]:
        signature = self._signature(model)
        synced = self._synced.get(model)
        if synced is None:
            raise RuntimeError(
                f"{where}: the model was never broadcast; call comm.bcast_data(model) on every "
                "rank before the first update (after one forward pass if it has lazy layers)"
            )
        if signature != synced:
            raise RuntimeError(
                f"{where}: the model's parameters changed since comm.bcast_data(model) (a "
                "parameter was replaced, reshaped or moved between CPU and GPU); call "
                "comm.bcast_data(model) again on every rank"
            )
        cached = self._grad_layouts.get(model)
        if cached is None or cached[0] != signature:
            params = list(model.params())
            cached = (signature, params, _groups([p.data for p in params]))
            self._grad_layouts[model] = cached
        return cached[1], cached[2]

    def multi_node_mean_grad(self, model) -> None:
        """Replace every parameter's gradient by its mean over the ranks.

        The gradients are packed into one flat buffer per dtype (one for an
        all-float32 model), summed over the ranks by a single Allreduce (or
        NCCL all-reduce for CuPy arrays), divided by ``size`` and written
        back into each ``param.grad``. Rank ``r`` contributes zeros for a
        parameter that got no gradient on it; a parameter with no gradient on
        any rank keeps ``grad = None`` everywhere, as in a single process.

        Parameters
        ----------
        model : Layer
            The model given to :meth:`bcast_data`.

        Raises
        ------
        RuntimeError
            When :meth:`bcast_data` was not called for this model, or its
            parameters changed since (the ranks' buffers might not line up).
        """
        where = f"{type(self).__name__}.multi_node_mean_grad"
        params, groups = self._grad_layout(model, where)
        if self.size == 1:
            return
        self.last_allreduce_bytes = 0
        for group in groups:
            self._mean_group(params, group)

    allreduce_grad = multi_node_mean_grad  # ChainerMN's earlier name

    def _mean_group(self, params: list, group: _Group) -> None:
        n_params = len(group.items)
        buffer = group.allocate(n_flags=n_params)
        # The flags count the ranks that have a gradient, so that a parameter
        # unused everywhere can stay without one (an update would move it).
        flags = np.zeros(n_params, dtype=group.dtype)
        missing = False
        for k, (index, place, _) in enumerate(group.items):
            grad = params[index].grad
            view = buffer[place]
            if grad is None:
                view.fill(0)
                missing = True
            else:
                view[...] = grad.data.reshape(-1)
                flags[k] = 1
        buffer[group.size :] = group.xp.asarray(flags)
        self._allreduce_sum(buffer)
        self.last_allreduce_bytes += buffer.nbytes
        values = buffer[: group.size]
        values /= self.size
        counts = as_numpy(buffer[group.size :]) if missing else None
        written = set()
        for k, (index, place, shape) in enumerate(group.items):
            param = params[index]
            mean = values[place].reshape(shape)
            grad = param.grad
            if grad is None:
                if counts is not None and counts[k] > 0:
                    param.grad = Variable(mean.copy())
                continue
            data = grad.data
            # In place, unless the array is shared, read-only or part of a
            # recorded graph (backward with create_graph): then a fresh Variable.
            if (
                grad.creator is None
                and id(data) not in written
                and getattr(data.flags, "writeable", True)
                and data.shape == shape
            ):
                data[...] = mean
                written.add(id(data))
            else:
                param.grad = Variable(mean.astype(data.dtype, copy=True))

    def _allreduce_sum(self, buffer) -> None:
        """Sum ``buffer`` over the ranks, in place."""
        MPI = self._MPI
        if get_array_module(buffer) is np:
            self.mpi_comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            return
        nccl_comm = self._nccl()
        if nccl_comm is not None:
            cupy = backend.cupy
            nccl = _import_nccl()
            types = {"e": nccl.NCCL_FLOAT16, "f": nccl.NCCL_FLOAT32, "d": nccl.NCCL_FLOAT64}
            if buffer.dtype.char not in types:
                raise TypeError(f"multi_node_mean_grad: NCCL cannot reduce gradients of dtype {buffer.dtype}")
            nccl_comm.allReduce(
                buffer.data.ptr,
                buffer.data.ptr,
                buffer.size,
                types[buffer.dtype.char],
                nccl.NCCL_SUM,
                cupy.cuda.get_current_stream().ptr,
            )
            return
        host = backend.cupy.asnumpy(buffer)
        self.mpi_comm.Allreduce(MPI.IN_PLACE, host, op=MPI.SUM)
        buffer.set(host)

    def _nccl(self):
        """The NCCL communicator for CuPy gradients, decided at their first reduction
        (collective); None when they go through host memory instead."""
        if self._nccl_decided:
            return self._nccl_comm
        nccl = _import_nccl() if self.name != "naive" else None
        mine = (nccl is not None, self.inter_rank, _current_gpu() if nccl is not None else None)
        # Every rank decides from the same gathered facts, so all take the same
        # path: one waiting in NCCL while another waits in MPI would hang.
        why_not = _why_not_nccl(self.name, self.mpi_comm.allgather(mine))
        if why_not is None:
            assert nccl is not None  # every rank, this one included, has it
            why_not = self._start_nccl(nccl)
        if why_not is not None and self.name == "pure_nccl":
            raise RuntimeError(
                f"{type(self).__name__} 'pure_nccl' cannot reduce CuPy gradients through NCCL: {why_not}; "
                "create_communicator('auto') would reduce them through host memory and MPI instead"
            )
        if why_not is not None and self.name == "auto" and self.rank == 0:
            # Rank 0 only: every rank knows the same reason, one copy is enough.
            warnings.warn(
                f"{type(self).__name__} 'auto': CuPy gradients go through host memory and MPI, "
                f"not NCCL, because {why_not}",
                UserWarning,
                stacklevel=4,
            )
        self._nccl_decided = True
        return self._nccl_comm

    def _start_nccl(self, nccl) -> Optional[str]:
        """Create the NCCL communicator on every rank (collective); return why it
        could not start, the same text on every rank, or None when it did."""
        uid, error = None, None
        if self.rank == 0:
            try:
                uid = nccl.get_unique_id()
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
        uid, error = self.mpi_comm.bcast((uid, error), root=0)
        if error is not None:
            return f"NCCL could not make its unique id on rank 0 ({error})"
        nccl_comm = None
        try:
            nccl_comm = nccl.NcclCommunicator(self.size, uid, self.rank)
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
        errors = self.mpi_comm.allgather(error)
        failed = [(rank, message) for rank, message in enumerate(errors) if message is not None]
        if not failed:
            self._nccl_comm = nccl_comm
            return None
        if nccl_comm is not None:
            # Started here but not everywhere: NCCL would wait for the missing ranks.
            with contextlib.suppress(Exception):
                nccl_comm.destroy()
        details = "; ".join(f"rank {rank}: {message}" for rank, message in failed)
        return f"NCCL could not start on rank(s) {', '.join(str(rank) for rank, _ in failed)} ({details})"

    def allreduce_persistent(self, model) -> None:
        """Average the floating-point persistent arrays (BatchNorm's running mean
        and variance) over the ranks, e.g. before evaluating or saving.

        Each rank's statistics follow its own batches during training; they
        are not averaged at every step.

        Parameters
        ----------
        model : Layer
            The model given to :meth:`bcast_data`.

        Raises
        ------
        ValueError
            When a persistent array is not initialized, or the ranks' arrays differ.
        """
        where = f"{type(self).__name__}.allreduce_persistent"
        slots = [(path, "persistent", value) for path, value in model.named_persistents()]
        self._check_same_everywhere(slots, where)
        values = [value for _, _, value in slots if value.dtype.kind == "f"]
        for group in _groups(values):
            buffer = np.empty(group.size, dtype=group.dtype)
            for index, place, _ in group.items:
                buffer[place] = as_numpy(values[index]).reshape(-1)
            self.mpi_comm.Allreduce(self._MPI.IN_PLACE, buffer, op=self._MPI.SUM)
            buffer /= self.size
            for index, place, shape in group.items:
                values[index][...] = group.xp.asarray(buffer[place].reshape(shape))

    # --- failures --------------------------------------------------------------------------
    def abort(self, errorcode: int = 1) -> None:
        """End every rank of the job now (``MPI_Abort``); mpiexec exits with an error.

        Never returns: MPICH's ``MPI_Abort`` may return to the caller before the
        launcher kills the processes, so this process then exits by itself.

        Parameters
        ----------
        errorcode : int
            The exit status asked of the job.
        """
        import os
        import time

        sys.stdout.flush()
        sys.stderr.flush()
        # The launcher stops forwarding output once it starts killing the job:
        # give it a moment to pass on what this rank has just written (the
        # traceback, the reason), which was lost now and then on a busy machine.
        time.sleep(0.2)
        self.mpi_comm.Abort(errorcode)
        os._exit(errorcode)

    @contextlib.contextmanager
    def abort_on_error(self) -> Iterator["MpiCommunicator"]:
        """Within this block, an exception on any rank ends the whole job.

        Without it, a rank that fails leaves the others waiting forever in
        their next collective operation. The traceback is printed with the
        rank's number, then the job is aborted (exit status 1). ``sys.exit(0)``
        passes through; with one rank, exceptions propagate as usual.
        :func:`create_communicator` also installs this behaviour for the
        whole program, for uncaught exceptions and for ``sys.exit`` with an
        error status; this block covers what those hooks cannot see, such as
        ``raise SystemExit(2)``.

        Yields
        ------
        MpiCommunicator
            This communicator.
        """
        try:
            yield self
        except SystemExit as e:
            if self.size == 1 or e.code in (None, 0):
                raise
            self._report_and_abort(type(e), e, e.__traceback__)
        except BaseException as e:
            if self.size == 1:
                raise
            self._report_and_abort(type(e), e, e.__traceback__)

    def _report_and_abort(self, exc_type, exc, tb) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(
            f"[rank {self.rank} of {self.size}] {text}"
            f"[rank {self.rank} of {self.size}] aborting every rank of the job\n"
        )
        self.abort(1)

    def _install_abort_hooks(self) -> None:
        """Abort the job when this process ends with an uncaught exception or after
        ``sys.exit`` with an error status (once per process, with more than one rank)."""
        global _ABORT_HOOKS_INSTALLED
        if _ABORT_HOOKS_INSTALLED or self.size == 1:
            return

        def abort_on_uncaught(exc_type, exc, tb):
            # SystemExit never comes here: the exit hook below covers sys.exit.
            self._report_and_abort(exc_type, exc, tb)

        original_exit = sys.exit

        @functools.wraps(original_exit)
        def exit_and_remember(status: Any = None, /) -> NoReturn:
            # SystemExit reaches neither sys.excepthook nor atexit handlers, so the
            # status is noted here; it still raises, so finally blocks run as usual.
            # In another thread, SystemExit ends only that thread, not the process.
            if threading.current_thread() is threading.main_thread():
                _exit_status[0] = status
            original_exit(status)

        def abort_on_error_exit() -> None:
            # Runs before mpi4py finalizes MPI (its own exit hook runs after Python's).
            status = _exit_status[0]
            if status is None or status == 0 or self._MPI.Is_finalized():
                return
            sys.stderr.write(
                f"[rank {self.rank} of {self.size}] exiting with sys.exit({status!r}), while the other "
                f"ranks may be waiting for this one; aborting every rank of the job\n"
            )
            self.abort(status if isinstance(status, int) and 0 < status < 256 else 1)

        sys.excepthook = abort_on_uncaught
        sys.exit = exit_and_remember
        atexit.register(abort_on_error_exit)
        _ABORT_HOOKS_INSTALLED = True


def create_communicator(communicator_name: str = "auto", mpi_comm=None, abort_on_error: bool = True) -> MpiCommunicator:
    """Create the communicator of a data-parallel job (collective: every rank calls it).

    Parameters
    ----------
    communicator_name : {'auto', 'naive', 'pure_nccl'}
        How gradients held in CuPy arrays are summed: ``'auto'`` through NCCL
        when CuPy has it on every rank and every rank has a GPU of its own,
        else through host memory and MPI (with a warning, on rank 0, that says
        why: a missing NCCL, ranks that share a GPU, or NCCL failing to
        start); ``'naive'`` always through host memory and MPI;
        ``'pure_nccl'`` through NCCL or not at all (an error at the first
        update that says why). NumPy gradients always go through MPI.
    mpi_comm : mpi4py.MPI.Comm, optional
        The MPI communicator to use; ``MPI.COMM_WORLD`` by default. Without
        mpiexec that is a single rank, so the same script runs alone.
    abort_on_error : bool
        Abort every rank when one of them ends with an error, so that the
        others do not wait for it forever in their next collective (only when
        there is more than one rank, once per process): an uncaught exception
        (a ``sys.excepthook``), or ``sys.exit`` called with a status other
        than 0 or None (``sys.exit`` is wrapped to note the status, then
        raises ``SystemExit`` as usual, so ``finally`` blocks still run; the
        job is aborted at exit). ``raise SystemExit(2)``, ``exit()`` and
        ``os._exit`` are not seen: put the code in
        :meth:`MpiCommunicator.abort_on_error` for those. A ``SystemExit``
        from ``sys.exit(2)`` that the program catches and swallows still
        aborts the job when the process ends.

    Returns
    -------
    MpiCommunicator

    Raises
    ------
    ImportError
        When mpi4py (or an MPI library) is missing.
    ValueError
        For an unknown ``communicator_name``.
    """
    if communicator_name not in COMMUNICATOR_NAMES:
        raise ValueError(
            f"create_communicator: communicator_name must be one of {', '.join(COMMUNICATOR_NAMES)}, "
            f"got {communicator_name!r}"
        )
    MPI = _import_mpi()
    comm = MpiCommunicator(MPI.COMM_WORLD if mpi_comm is None else mpi_comm, communicator_name)
    if abort_on_error:
        comm._install_abort_hooks()
    return comm


# Shared memory only: MPICH's default network modules (UCX, libfabric) would
# otherwise also listen on every network interface of the machine.
LOCAL_ONLY_ENV = {"UCX_TLS": "self,sm", "FI_PROVIDER": "shm"}


def local_launcher(n: int) -> Tuple[List[str], Dict[str, str]]:
    """How to start ``n`` ranks on this machine only, without listening on the network.

    Prefers MPICH's ``mpiexec.gforker`` (processes forked on this machine,
    talking through pipes and shared memory); else hydra's ``mpiexec`` with
    ``-launcher fork -hosts localhost``. The one that comes with the Python
    running this (the ``mpich`` wheel installs it next to the interpreter) is
    preferred to one on ``PATH``. Used by the tests and ``benchmarks/distributed.py``.

    Parameters
    ----------
    n : int
        Number of ranks.

    Returns
    -------
    (list of str, dict)
        The command prefix (append ``sys.executable, script, args...``) and the
        environment variables to add (:data:`LOCAL_ONLY_ENV`).

    Raises
    ------
    FileNotFoundError
        When no mpiexec is found.
    """
    import os
    import shutil
    import sysconfig

    folders = [
        sysconfig.get_path("scripts"),
        os.path.join(sys.base_prefix, "bin"),
        os.path.dirname(os.path.realpath(sys.executable)),
    ]
    candidates = [os.path.join(d, name) for d in folders for name in ("mpiexec.gforker", "mpiexec")]
    candidates += [shutil.which(name) or "" for name in ("mpiexec.gforker", "mpiexec")]
    for path in candidates:
        if not path or not os.access(path, os.X_OK):
            continue
        if os.path.basename(path) == "mpiexec.gforker":
            return [path, "-n", str(n)], dict(LOCAL_ONLY_ENV)
        return [path, "-launcher", "fork", "-hosts", "localhost", "-n", str(n)], dict(LOCAL_ONLY_ENV)
    raise FileNotFoundError(f"local_launcher: no mpiexec next to {sys.executable} nor on PATH ({_INSTALL_HINT})")


# =============================================================================
# Data
# =============================================================================
class SubDataset:
    """The items ``indices`` of ``dataset``, in that order (a shard made by
    :func:`scatter_dataset`); items are read from ``dataset`` when asked for.

    Parameters
    ----------
    dataset
        Anything with ``__len__`` and ``__getitem__``.
    indices : sequence of int
        Positions in ``dataset``.
    """

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"SubDataset[index]: index must be an int, got {type(index).__name__}")
        n = len(self.indices)
        if not -n <= index < n:
            raise IndexError(f"SubDataset[{index}]: index out of range for {n} items")
        return self.dataset[int(self.indices[index])]

    def __repr__(self) -> str:
        return f"SubDataset({len(self)} of the {len(self.dataset)} items of {self.dataset!r})"


def scatter_dataset(
    dataset, comm: MpiCommunicator, shuffle: bool = False, seed: Optional[int] = None, force_equal_length: bool = True
) -> SubDataset:
    """Give each rank its own shard of ``dataset`` (collective).

    Every rank passes the same dataset (each loads it itself: only positions
    travel). Rank 0 draws the order (``0, 1, ... N-1``, or a permutation with
    ``shuffle``) and broadcasts it; rank ``r`` then takes the positions
    ``order[r], order[r + size], order[r + 2 * size], ...``. With per-rank
    loaders that do not shuffle (``DataLoader(shard, B, shuffle=False)``),
    step ``k`` of all ranks together therefore sees exactly the items of step
    ``k`` of one process at batch ``size * B`` with the same order.

    Parameters
    ----------
    dataset
        Anything with ``__len__`` and ``__getitem__``.
    comm : MpiCommunicator
    shuffle : bool
        Permute the order first.
    seed : int, optional
        Seed of the permutation (``np.random.RandomState(seed)``, so the same
        seed gives the same order on any number of ranks); rank 0's value is
        used. None draws it from rank 0's ``np.random``.
    force_equal_length : bool
        When ``N`` is not a multiple of ``size``, repeat the first
        ``size - N % size`` items of the order, so that every shard has
        ``ceil(N / size)`` items: the ranks then run the same number of steps,
        which training needs (a rank with one step more would wait forever for
        the others). False leaves the shards unpadded (sizes differ by at most
        one, every item exactly once): for evaluation, with
        :meth:`MpiCommunicator.mean_metrics` and ``count=len(shard)``.

    Returns
    -------
    SubDataset
        This rank's shard.

    Raises
    ------
    ValueError
        When the ranks' datasets have different lengths, or the dataset is empty.
    """
    if not isinstance(comm, MpiCommunicator):
        raise TypeError(f"scatter_dataset: comm must come from create_communicator(), got {type(comm).__name__}")
    n = len(dataset)
    lengths = comm.allgather_obj(n)
    if len(set(lengths)) > 1:
        raise ValueError(
            f"scatter_dataset: the ranks hold datasets of different lengths {lengths} "
            "(rank order); every rank must pass the same dataset"
        )
    if n == 0:
        raise ValueError("scatter_dataset: the dataset is empty")
    if comm.rank == 0:
        if not shuffle:
            order = np.arange(n, dtype=np.int64)
        elif seed is None:
            order = np.random.permutation(n).astype(np.int64)
        else:
            order = np.random.RandomState(seed).permutation(n).astype(np.int64)
    else:
        order = np.empty(n, dtype=np.int64)
    comm.mpi_comm.Bcast(order, root=0)
    if force_equal_length and n % comm.size:
        order = np.resize(order, n + comm.size - n % comm.size)  # repeats from the start
    return SubDataset(dataset, order[comm.rank :: comm.size])


# =============================================================================
# The optimizer
# =============================================================================
class _MultiNodeOptimizer:
    """Wraps an optimizer: ``update()`` averages the gradients over the ranks, then
    runs the wrapped optimizer (its hooks included). Everything else (``setup``,
    ``add_hook``, ``lr``, ``state_dict``...) is the wrapped optimizer's."""

    def __init__(self, actual_optimizer, communicator: MpiCommunicator):
        object.__setattr__(self, "actual_optimizer", actual_optimizer)
        object.__setattr__(self, "communicator", communicator)

    def setup(self, target) -> "_MultiNodeOptimizer":
        self.actual_optimizer.setup(target)
        return self

    def update(self) -> None:
        target = self.actual_optimizer.target
        if target is None:
            raise RuntimeError(
                f"MultiNodeOptimizer({type(self.actual_optimizer).__name__}).update: call setup(model) first"
            )
        self.communicator.multi_node_mean_grad(target)
        self.actual_optimizer.update()

    def __getattr__(self, name: str):
        return getattr(self.actual_optimizer, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self.actual_optimizer, name, value)

    def __repr__(self) -> str:
        return f"MultiNodeOptimizer({type(self.actual_optimizer).__name__}, {self.communicator!r})"


def create_multi_node_optimizer(actual_optimizer, communicator: MpiCommunicator):
    """Wrap ``actual_optimizer`` so that its ``update()`` first averages the
    gradients over the ranks (:meth:`MpiCommunicator.multi_node_mean_grad`).

    The wrapped optimizer's hooks (weight decay, gradient clipping...) then
    see the averaged gradients, as they would see the gradient of the whole
    batch in a single process. ``setup``, ``add_hook`` and every attribute
    are the wrapped optimizer's; save its state with
    ``save_checkpoint(path, model, optimizer.actual_optimizer)``.

    Parameters
    ----------
    actual_optimizer : dezero.optimizers.Optimizer
    communicator : MpiCommunicator

    Returns
    -------
    The wrapper (``setup(model)`` returns it too).

    Raises
    ------
    TypeError
        When the arguments are not an optimizer and a communicator.
    """
    if not callable(getattr(actual_optimizer, "update", None)) or not hasattr(actual_optimizer, "setup"):
        raise TypeError(
            f"create_multi_node_optimizer: actual_optimizer must be an Optimizer, got {type(actual_optimizer).__name__}"
        )
    if not isinstance(communicator, MpiCommunicator):
        raise TypeError(
            f"create_multi_node_optimizer: communicator must come from create_communicator(), "
            f"got {type(communicator).__name__}"
        )
    return _MultiNodeOptimizer(actual_optimizer, communicator)
