"""Optional packages: imported where they are used, with a one-line install hint.

``import dezero`` needs NumPy only. tqdm (progress bars), graphviz (drawing),
Pillow (images), matplotlib (plots) and scikit-learn (the Digits data set) are
imported the first time a feature needs them; when one is missing, the error
names the package to install (the PyPI name ``dezero`` belongs to an unrelated
old release, so hints never point at ``dezero[...]``).
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

__all__ = ["import_optional", "progress_bar"]


def import_optional(module: str, package: str, feature: str) -> ModuleType:
    """Import ``module`` or raise an ImportError saying how to get it.

    Parameters
    ----------
    module : str
        The module to import, e.g. ``"sklearn.datasets"``.
    package : str
        The name to ``pip install``, e.g. ``"scikit-learn"``.
    feature : str
        What needs it, for the message, e.g. ``"Digits"``.

    Returns
    -------
    types.ModuleType
        The imported module.

    Raises
    ------
    ImportError
        ``"<feature> needs <package>: pip install <package>"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{feature} needs {package}: pip install {package}") from e


def progress_bar(total=None, disable: bool = False, **kwargs):
    """A tqdm progress bar on stderr, shown only when stderr is a terminal.

    In a log file or a CI job a bar is a stream of carriage-return updates
    (tens of KB per run), so it is off there; tqdm's ``disable=None`` makes the
    same choice. Without tqdm installed there is no bar at all, only the work.

    Parameters
    ----------
    total : int, optional
        The number of steps (None: unknown).
    disable : bool
        Turn the bar off even on a terminal.
    **kwargs
        Passed on to ``tqdm.auto.tqdm`` (``unit``, ``desc``, ``leave``...).

    Returns
    -------
    tqdm.tqdm or _NoBar
        An object with ``update(n)``, ``close()`` and the context-manager protocol.
    """
    interactive = getattr(sys.stderr, "isatty", lambda: False)()
    if disable or not interactive:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar()
    return tqdm(total=total, **kwargs)


class _NoBar:
    """Stands in for a tqdm bar that is not shown."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass

    @staticmethod
    def write(text: str) -> None:
        """Print ``text``: what ``tqdm.write`` does when no bar is drawn."""
        print(text, flush=True)

    def __enter__(self) -> "_NoBar":
        return self

    def __exit__(self, *exc) -> None:
        pass
