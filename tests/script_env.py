"""The environment the tests run scripts in (steps, examples, the demo), each in
its own process."""

import os

# Any download fails at once against a closed local port: tests never use the network.
_NO_NETWORK = {name: "http://127.0.0.1:9" for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")}

# no_proxy would exempt hosts from the closed proxy; PYTHONPATH would let a script
# find dezero by the tests' path rather than by its own installation.
_DROPPED = ("no_proxy", "NO_PROXY", "DEZERO_QUICK", "PYTHONPATH")


def script_env(home, out=None, quick=True, **extra):
    """The environment for a script run by a test.

    The script gets its own dezero home (``DEZERO_HOME``) and, if given, output
    folder (``DEZERO_OUTPUT``); one BLAS thread (the suite runs two tests at a
    time); matplotlib without a display; no network; quick mode (``DEZERO_QUICK``)
    unless ``quick`` is false. ``extra`` adds or overrides variables.
    """
    env = {key: value for key, value in os.environ.items() if key not in _DROPPED}
    env.update(
        DEZERO_HOME=str(home),
        MPLBACKEND="Agg",
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        **_NO_NETWORK,
    )
    if out is not None:
        env["DEZERO_OUTPUT"] = str(out)
    if quick:
        env["DEZERO_QUICK"] = "1"
    env.update(extra)
    return env
