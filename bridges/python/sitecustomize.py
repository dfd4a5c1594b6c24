# sitecustomize.py - the Python runtime bridge of libautotrace
# (hooks/runtime/at_bridge.c has the design).  Placeholder: puts the
# environment back and chains to the next sitecustomize on the path.
import importlib.util
import os as _os
import sys as _sys


def _autotrace_bridge():
    env = _os.environ
    here = _os.path.dirname(_os.path.abspath(__file__))
    try:
        if "AUTOTRACE_BRIDGE_ORIG" in env:
            env["PYTHONPATH"] = env.pop("AUTOTRACE_BRIDGE_ORIG")
        else:
            env.pop("PYTHONPATH", None)
        env.pop("AUTOTRACE_BRIDGE", None)
        if here in _sys.path:
            _sys.path.remove(here)
    except Exception:
        pass
    # The program's own sitecustomize, if there is one further on the path
    # (Debian's /etc/python3.N/sitecustomize.py, a virtualenv's...).
    try:
        import importlib.machinery
        path = [p for p in _sys.path if _os.path.abspath(p or ".") != here]
        spec = importlib.machinery.PathFinder.find_spec("sitecustomize", path)
        if spec is not None and spec.loader is not None:
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            # The import system keeps what sys.modules holds at the end.
            _sys.modules["sitecustomize"] = mod
    except Exception:
        pass

_autotrace_bridge()
