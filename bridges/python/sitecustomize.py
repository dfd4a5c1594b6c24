# sitecustomize.py - the Python runtime bridge of libautotrace
# (hooks/runtime/at_bridge.c has the design of the channel).
#
# Carries context only: which server request the code a thread runs
# belongs to, written into a 16-byte slot of the thread's own memory that
# the library reads when a span starts.  No span, no protocol work, no
# dependency; every step guarded so that the program runs as without it.
#
# - A contextvar holds the request: the server connection's fd + 1 and
#   the request's number on that connection (0: the oldest still open),
#   int32 [2] and [3] of the slot, as the one int64 they make.  It is set
#   where asyncio makes a server connection's transport (every callback
#   and task of the connection inherits it), and per request where aiohttp
#   starts handling one (its number).
# - asyncio.events.Handle._run runs every callback and task step inside
#   its context: the slot says that context's request while it runs (the
#   running thread's slot is kept on the loop for the loop's run).
# - ThreadPoolExecutor.submit (so loop.run_in_executor, asyncio.to_thread)
#   carries the submitter's request to the worker, which says it in its
#   own slot while the function runs.  Only the bridge's own variable
#   travels: the program's contextvars are as without the library.
# - Nothing is imported up front: the hooks wait for the program to
#   import asyncio, concurrent.futures or aiohttp.  A thread registers its
#   slot (one os.write on the channel, no system call: the library's write
#   hook takes it) the first time it runs code for a request.
import os as _os
import sys as _sys


def _autotrace_bridge():
    env = _os.environ
    here = _os.path.dirname(_os.path.abspath(__file__))
    chan = env.get("AUTOTRACE_BRIDGE")
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
    try:
        pid, fd = chan.split(":")
        if int(pid) == _os.getpid() and int(fd) >= 0:
            _install(int(fd))
    except Exception:
        pass
    return here


# The import system's own modules, loaded before site runs (importing
# importlib.util would cost milliseconds at every start).
_boot = _sys.modules.get("_frozen_importlib")
_ext = _sys.modules.get("_frozen_importlib_external")


def _chain(here):
    """The program's own sitecustomize, if there is one further on the
    path (Debian's /etc/python3.N/sitecustomize.py, a virtualenv's...),
    runs as without the library: what it raises, site reports.  With none,
    this module says it is not there either (site ignores an ImportError
    for the name sitecustomize; sys.modules keeps no entry)."""
    try:
        try:
            spec = None
            path = [p for p in _sys.path
                    if _os.path.abspath(p or ".") != here]
            spec = _ext.PathFinder.find_spec("sitecustomize", path)
        except Exception:
            pass
        if spec is None or spec.loader is None:
            raise ImportError("No module named 'sitecustomize'",
                              name="sitecustomize")
        mod = _boot.module_from_spec(spec)
        # The import system keeps what sys.modules holds at the end.
        _sys.modules["sitecustomize"] = mod
        spec.loader.exec_module(mod)
    finally:
        # Modules the program's sitecustomize imported already.
        for name in list(_hooks):
            try:
                if name in _sys.modules:
                    _hooks.pop(name)(_sys.modules[name])
            except Exception:
                pass


def _install(fd):
    import _contextvars
    import _thread

    var = _contextvars.ContextVar("autotrace_request", default=0)
    tls = _thread._local()
    keep = []   # every slot registered, alive as long as the process
    # v (fd + 1, number) as the int64 at bytes 8..15 of the slot.
    little = _sys.byteorder == "little"
    step = 1 << 32 if little else 1

    def ident(fd1):
        return fd1 if little else fd1 << 32

    def number(v):
        return v >> 32 if little else v & 0xFFFFFFFF

    def slot():
        # The calling thread's slot (int64 [0] the magic, [1] the request),
        # registered on first use; None if it cannot be.
        try:
            return tls.s
        except AttributeError:
            pass
        s = None
        try:
            import array
            if _os.readlink("/proc/self/fd/%d" % fd) == "anon_inode:[eventfd]":
                buf = array.array("q", [0, 0])
                buf[0] = int.from_bytes(b"ATBRIDGE", _sys.byteorder)
                if buf.itemsize == 8 and _os.write(fd, buf) == 16:
                    s = buf
                    keep.append(s)
        except Exception:
            s = None
        tls.s = s
        return s

    def loop_slot(loop):
        # The slot of the thread running loop, kept on the loop for this
        # run (run_forever forgets it: a loop may run on another thread
        # next time).
        s = slot()
        try:
            loop._autotrace_slot = s
        except Exception:
            pass
        return s

    def hook_base_events(mod):
        Handle = mod.events.Handle
        orig = Handle._run
        loop_cls = mod.BaseEventLoop
        orig_run_forever = loop_cls.run_forever

        def _run(self):
            try:
                v = self._context.get(var)
            except Exception:
                v = 0
            if not v:
                return orig(self)
            try:
                s = self._loop._autotrace_slot
            except AttributeError:
                s = loop_slot(self._loop)
            if s is None:
                return orig(self)
            s[1] = v
            try:
                return orig(self)
            finally:
                s[1] = 0

        def run_forever(self, *args, **kwargs):
            try:
                self.__dict__.pop("_autotrace_slot", None)
            except Exception:
                pass
            return orig_run_forever(self, *args, **kwargs)
        run_forever.__doc__ = orig_run_forever.__doc__
        loop_cls.run_forever = run_forever
        Handle._run = _run

    def under(v, fn, args, kwargs):
        # fn(*args, **kwargs) with the bridge's variable set to v in the
        # current context.
        tok = None
        try:
            tok = var.set(v)
        except Exception:
            pass
        try:
            return fn(*args, **kwargs)
        finally:
            if tok is not None:
                try:
                    var.reset(tok)
                except Exception:
                    pass

    def hook_selector_events(mod):
        cls = mod._SelectorSocketTransport
        orig = cls.__init__

        # The callbacks a transport schedules as it is made
        # (connection_made, its reader) copy the context: a server
        # connection's carry the connection (fd + 1; its requests
        # numbered later), a client connection's carry no request (it may
        # serve many: what its tasks write says theirs).
        def __init__(self, loop, sock, *args, **kwargs):
            try:
                server = kwargs.get("server", args[3] if len(args) > 3 else None)
                v = ident(sock.fileno() + 1) if server is not None else 0
            except Exception:
                return orig(self, loop, sock, *args, **kwargs)
            return under(v, orig, (self, loop, sock) + args, kwargs)
        cls.__init__ = __init__

        # Bytes left over by a write are sent later by a writer callback,
        # maybe with other writers' bytes queued behind them: it carries
        # no request.
        loop_cls = mod.BaseSelectorEventLoop
        orig_add_writer = loop_cls._add_writer

        def _add_writer(self, *args, **kwargs):
            return under(0, orig_add_writer, (self,) + args, kwargs)
        loop_cls._add_writer = _add_writer

    def carry(v, fn, args, kwargs):
        # In the worker: the submitter's request while fn runs.
        s = None
        try:
            s = slot()
            if s is not None:
                s[1] = v
        except Exception:
            pass
        try:
            return under(v, fn, args, kwargs)
        finally:
            if s is not None:
                s[1] = 0

    def hook_futures_thread(mod):
        cls = mod.ThreadPoolExecutor
        orig = cls.submit

        def submit(*args, **kwargs):
            try:
                v = var.get() if len(args) > 1 else 0
            except Exception:
                v = 0
            if not v:
                return orig(*args, **kwargs)
            return orig(args[0], carry, v, args[1], args[2:], kwargs)
        submit.__doc__ = orig.__doc__
        cls.submit = submit

    def hook_aiohttp(mod):
        cls = mod.RequestHandler
        orig = cls._handle_request

        # Called in the connection's task right before the request's own
        # task is made (which copies the context): one more request on
        # this connection.
        def _handle_request(self, *args, **kwargs):
            try:
                v = var.get()
                if v:
                    # (0, the oldest open, after 2^31 - 1 requests)
                    var.set(v + step if number(v) < 0x7FFFFFFF
                            else v - number(v) * step)
            except Exception:
                pass
            return orig(self, *args, **kwargs)
        cls._handle_request = _handle_request

    _hooks.update({
        "asyncio.base_events": hook_base_events,
        "asyncio.selector_events": hook_selector_events,
        "concurrent.futures.thread": hook_futures_thread,
        "aiohttp.web_protocol": hook_aiohttp,
    })
    _sys.meta_path.insert(0, _Finder())


# Module name -> what to patch once the module has run.
_hooks = {}


class _Finder:
    """Finds nothing itself: when a module the bridge hooks is imported,
    lets its own loader run it, then patches it."""

    def find_spec(self, name, path=None, target=None):
        if name not in _hooks:
            return None
        try:
            for f in _sys.meta_path:
                if f is self or not hasattr(f, "find_spec"):
                    continue
                spec = f.find_spec(name, path, target)
                if spec is not None:
                    break
            else:
                return None
            loader = spec.loader
            if not isinstance(loader, (_ext.SourceFileLoader,
                                       _ext.SourcelessFileLoader)):
                return spec
            run = loader.exec_module

            def exec_module(module):
                try:
                    del loader.exec_module
                except Exception:
                    pass
                run(module)
                try:
                    fn = _hooks.pop(name, None)
                    if fn is not None:
                        fn(module)
                except Exception:
                    pass
            loader.exec_module = exec_module
            return spec
        except Exception:
            return None


_chain(_autotrace_bridge())
