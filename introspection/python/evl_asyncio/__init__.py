"""evl_asyncio: ordinary asyncio code on an evloop-glib (Evl) loop.

Python's asyncio runs on top of an ``Evl.Loop`` (GI namespace ``Evl-1``), the
same loop that drives -- or is driven by -- GLib's ``GMainContext``, so that
asyncio tasks and GTK/GIO share one thread and one wait.

Quick start::

    import asyncio, evl_asyncio

    asyncio.run(main(), loop_factory=evl_asyncio.new_event_loop)  # 3.12+
    with asyncio.Runner(loop_factory=evl_asyncio.new_event_loop) as r:  # 3.11
        r.run(main())

    # or, with the (deprecated from 3.14) policy system:
    asyncio.set_event_loop_policy(evl_asyncio.EvlEventLoopPolicy())
    asyncio.run(main())

Both directions of the GLib bridge
----------------------------------
*asyncio drives GLib.* On the main thread the loop is made by
``Evl.new_event_loop()``, whose Evl loop drives GLib's default
``GMainContext`` while it runs: ``GLib.timeout_add``, GIO callbacks and GTK
widgets keep working during ``asyncio.run()`` / ``run_until_complete()``.

*GLib drives asyncio.* ``EvlEventLoop.attach(context=None)`` attaches the
Evl loop to a ``GMainContext`` (by default the one it drives, else GLib's
default one) as one GSource, so whoever iterates that context --
``GLib.MainLoop.run()``, ``Gtk.Application.run()``, a modal dialog -- also
runs the asyncio loop's callbacks, timers and I/O. ``detach()`` undoes it;
closing the loop detaches it too. ``new_event_loop()`` and
``EvlEventLoopPolicy`` attach the loops they make on the main thread
automatically, so this works::

    asyncio.set_event_loop_policy(evl_asyncio.EvlEventLoopPolicy())
    loop = asyncio.get_event_loop()
    loop.create_task(main())     # runs while ...
    app.run()                    # ... Gtk.Application.run() runs

While GLib dispatches the loop, the loop counts as running inside its
callbacks (``asyncio.get_running_loop()`` works in them, as for
``run_forever``) and as not running between them. A loop created with
``EvlEventLoop()`` directly is not attached: it behaves exactly as asyncio's
own loops, which CPython's test suite checks.

Nested runs
-----------
By default the loop follows asyncio's rules: ``run_until_complete()`` while
the loop runs raises ``RuntimeError('This event loop is already running')``,
and running while another loop runs in the thread raises too.
``EvlEventLoop(allow_nested=True)`` (or ``new_event_loop(allow_nested=True)``,
``EvlEventLoopPolicy(allow_nested=True)``) allows the loop to be run again on
its own thread while it runs -- typically ``run_until_complete(coro)`` from a
GTK callback dispatched by the running loop -- using the C library's nested
runs. ``stop()`` ends the innermost run. A task that is being stepped while a
nested run starts is set aside for that run, so the nested run may step
other tasks.

How it maps onto Evl
--------------------
The loop subclasses ``asyncio.SelectorEventLoop`` so that asyncio's own
transports (TCP, UDP, Unix sockets, pipes, subprocesses, SSL, sock_* and
sendfile) run unchanged; only the selector-driven internals are replaced:

* ``call_soon`` appends the asyncio ``Handle`` to a Python queue and schedules
  ONE ``Evl.Loop.call_soon`` that runs the queue as a snapshot (a GI callback
  per handle costs about 2 us more than asyncio's own call_soon; one per
  batch keeps asyncio's order: FIFO, callbacks scheduled while the queue runs
  wait for the next iteration, after that iteration's I/O and timers).
* ``call_at``/``call_later`` are ``Evl.Loop.call_at`` timers on the Evl clock:
  ``loop.time()`` is ``Evl.Loop.time()``. Cancelling the ``TimerHandle``
  cancels the Evl timer.
* ``add_reader``/``add_writer`` (and every transport) use
  ``Evl.Loop.add_reader``/``add_writer``; on the proactor loop
  (``EVL_LOOP=proactor``) these are io_uring poll requests.
* ``add_signal_handler`` uses ``Evl.Loop.add_signal_handler``, with asyncio's
  rules (main thread only; ``ValueError``/``RuntimeError`` as asyncio).
* ``call_soon_threadsafe`` queues the handle and wakes the loop with
  ``Evl.Loop.call_soon_threadsafe``.
* ``run_forever``/``stop`` are ``Evl.Loop.run_forever``/``stop``; the
  exception handler, debug mode (slow callbacks, handle tracebacks, thread
  checks), async generators, the default executor are asyncio's.
* Python signal handlers run promptly while the loop waits in C (a wakeup fd
  as in asyncio and PyGObject); an exception raised by one (KeyboardInterrupt
  from Ctrl-C) ends the run and is raised by ``run_forever()``.

Private asyncio internals this module relies on are listed in one place,
``_compat`` below, with the Python versions they were checked against.

Known limitations
-----------------
* PyGObject before 3.44.2 (Debian 12 ships 3.42) leaks about 110 bytes of
  libffi closure memory for every Python callback handed to a C function
  that frees it later -- ``GLib.idle_add`` included. Here that is one per
  batch of ``call_soon`` callbacks (one per loop iteration that has some),
  per timer, per fd watch and per ``call_soon_threadsafe`` wake-up. Newer
  PyGObject does not leak.
* A loop that is never closed stays alive while the Evl loop holds one of
  its timers or fd watches (the callbacks reference the loop); close loops.
"""

# SPDX-License-Identifier: LGPL-2.1-or-later

import asyncio
import collections
import errno
import logging
import selectors
import signal
import socket
import sys
import threading
import weakref

import gi

gi.require_version('GLib', '2.0')
gi.require_version('Evl', '1')
from gi.repository import GLib, Evl  # noqa: E402

from asyncio import coroutines, events, tasks  # noqa: E402

__all__ = ('EvlEventLoop', 'EvlEventLoopPolicy', 'new_event_loop', 'TimerHandle')

logger = logging.getLogger('asyncio')


# ---------------------------------------------------------------------------
# _compat: every private asyncio name used here, checked against CPython
# 3.11 -- 3.13 (and 3.14 where noted). Nothing else in this module touches
# asyncio internals; the loop's own attributes inherited from BaseEventLoop
# (_ready, _debug, _closed, _thread_id, _check_closed, _check_thread,
# _check_callback, _set_coroutine_origin_tracking, _asyncgen_*_hook,
# _current_handle) are used as BaseEventLoop itself uses them.

class _compat:
    # events._get_running_loop / _set_running_loop: in events.__all__ since
    # 3.7 (C-accelerated); stable.
    get_running_loop = staticmethod(events._get_running_loop)
    set_running_loop = staticmethod(events._set_running_loop)

    # The base class. asyncio.SelectorEventLoop is public; on Unix it is
    # unix_events._UnixSelectorEventLoop, which brings pipes, Unix sockets,
    # subprocesses (child watchers in 3.11/3.12/3.13, pidfd/thread watchers
    # built in from 3.14) and the signal-handler argument checks.
    SelectorEventLoop = asyncio.SelectorEventLoop

    # The policy base: DefaultEventLoopPolicy until 3.13; 3.14 deprecates
    # the public name and keeps the class as asyncio._DefaultEventLoopPolicy.
    PolicyBase = getattr(asyncio, '_DefaultEventLoopPolicy', None)
    if PolicyBase is None:
        PolicyBase = asyncio.DefaultEventLoopPolicy

    # tasks._enter_task / _leave_task (C-accelerated, 3.7 -- 3.14): a nested
    # run sets aside the task being stepped so that it may step others.
    enter_task = staticmethod(tasks._enter_task)
    leave_task = staticmethod(tasks._leave_task)

    # selector_events.BaseSelectorEventLoop calls these hooks, which this
    # module overrides: _add_reader, _remove_reader, _add_writer,
    # _remove_writer (3.7+; they return the Handle since 3.11's sock_*
    # rework, which this module does too), _make_self_pipe,
    # _close_self_pipe, _read_from_self, _process_self_data, _write_to_self,
    # _process_events, _run_once. BaseEventLoop.run_until_complete calls
    # _check_running (3.8+).


def _fileobj_to_fd(fileobj):
    """An fd from an int or an object with fileno(), as selectors does."""
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return fd


def _gerror_to_exception(error, default=RuntimeError):
    """A Python exception for a GLib.Error from the Evl loop."""
    message = error.message
    if error.matches(Evl.LoopError.quark(), Evl.LoopError.CLOSED):
        return RuntimeError('Event loop is closed')
    if error.matches(Evl.LoopError.quark(), Evl.LoopError.INVALID):
        return OSError(errno.EBADF, message)
    if error.domain == 'g-io-error-quark':
        return OSError(message)
    return default(message)


def _format_handle(handle):
    # As base_events._format_handle: a task's step is shown as the task.
    cb = handle._callback
    if isinstance(getattr(cb, '__self__', None), tasks.Task):
        return repr(cb.__self__)
    return str(handle)


class TimerHandle(events.TimerHandle):
    """asyncio's TimerHandle, which also holds the Evl timer behind it."""

    __slots__ = ('_evl_handle',)


class _EvlSelector(selectors.BaseSelector):
    """What the asyncio loop watches, as a read-only selector.

    asyncio's transports only look at loop._selector to describe themselves
    (``polling`` in their repr); the waiting is the Evl loop's."""

    def __init__(self, loop):
        self._loop_ref = weakref.ref(loop)

    def _maps(self):
        loop = self._loop_ref()
        if loop is None:
            return {}, {}
        return loop._readers, loop._writers

    def register(self, fileobj, events, data=None):
        raise NotImplementedError('the Evl loop watches file descriptors')

    def unregister(self, fileobj):
        raise NotImplementedError('the Evl loop watches file descriptors')

    def select(self, timeout=None):
        raise NotImplementedError('the Evl loop waits for events')

    def get_key(self, fileobj):
        fd = _fileobj_to_fd(fileobj)
        readers, writers = self._maps()
        reader, writer = readers.get(fd), writers.get(fd)
        if reader is None and writer is None:
            raise KeyError(f"{fileobj!r} is not registered")
        mask = ((selectors.EVENT_READ if reader is not None else 0) |
                (selectors.EVENT_WRITE if writer is not None else 0))
        return selectors.SelectorKey(fileobj, fd, mask, (reader, writer))

    def get_map(self):
        readers, writers = self._maps()
        return {fd: self.get_key(fd) for fd in set(readers) | set(writers)}

    def close(self):
        pass


# ---------------------------------------------------------------------------
# Callbacks given to the Evl loop. They are module functions whose data is a
# weak reference to the asyncio loop or a Handle (which references its loop),
# so an idle loop that is dropped without close() can still be collected and
# warned about, as asyncio's own loops are.

def _drain_cb(ref):
    loop = ref()
    if loop is not None:
        loop._run_ready()


def _kick_cb(ref):
    # Posted by call_soon_threadsafe from any thread.
    loop = ref()
    if loop is not None:
        loop._kick_pending = False
        if loop._ready and not loop._drain_scheduled:
            loop._run_ready()


def _timer_cb(timer):
    timer._evl_handle = None
    timer._scheduled = False
    if not timer._cancelled:
        timer._loop._run_handle(timer)


def _io_cb(data):
    handle, fd, writer = data
    loop = handle._loop
    if handle._cancelled:
        # asyncio drops a watch whose handle was cancelled when it fires.
        watches = loop._writers if writer else loop._readers
        if watches.get(fd) is handle:
            if writer:
                loop._remove_writer(fd)
            else:
                loop._remove_reader(fd)
        return
    loop._run_handle(handle)


def _signal_cb(data):
    handle, sig = data
    loop = handle._loop
    if handle._cancelled:
        loop.remove_signal_handler(sig)
    else:
        loop._run_handle(handle)


def _self_pipe_cb(ref):
    # The read end of the wakeup fd: reading it is enough, the interpreter
    # runs pending Python signal handlers as soon as Python code runs.
    loop = ref()
    if loop is not None:
        loop._read_from_self()


def _exception_cb(evl_loop, error, message, ref):
    loop = ref()
    context = {'message': message or 'Unhandled error in event loop'}
    if error is not None:
        context['exception'] = _gerror_to_exception(error)
    if loop is None or loop.is_closed():
        logger.error('%s', context['message'], exc_info=context.get('exception'))
    else:
        loop.call_exception_handler(context)


def _sighandler_noop(signum, frame):
    """Python's handler for signals the Evl loop handles."""


# How many EvlEventLoops handle each signal: Python's handler is restored
# when the last one stops handling it (main thread only).
_signal_users = collections.Counter()


class _SignalWrapper:
    """Wraps the Python handler of SIGINT while a loop runs on the main thread.

    The interpreter runs a Python signal handler at the first Python code it
    executes after the signal; while the loop waits in C, that is the entry
    of the next callback the C loop calls, where an exception (Ctrl-C's
    KeyboardInterrupt) could only be printed by PyGObject and lost. There the
    wrapper hands it to the loop instead, which stops and raises it from
    run_forever(); anywhere else it is raised where it happened, as in
    asyncio."""

    __slots__ = ('handler', 'loop_ref')

    def __init__(self, handler, loop):
        self.handler = handler
        self.loop_ref = weakref.ref(loop)

    def __call__(self, signum, frame):
        try:
            return self.handler(signum, frame)
        except BaseException as exc:
            loop = self.loop_ref()
            if loop is None or not loop._in_c:
                raise
            loop._stash(exc)


# ---------------------------------------------------------------------------

class EvlEventLoop(_compat.SelectorEventLoop):
    """An asyncio event loop driven by an ``Evl.Loop``.

    evl_loop: the ``Evl.Loop`` to run (default: ``Evl.new_event_loop()``,
    which honours ``EVL_LOOP=selector|proactor`` and, on the main thread,
    drives GLib's default main context). allow_nested: allow running the loop
    again while it runs on its thread (see the module documentation).
    """

    def __init__(self, evl_loop=None, *, allow_nested=False):
        self._closed = True   # until set up (BaseEventLoop.__del__ looks)
        if evl_loop is None:
            evl_loop = Evl.new_event_loop()
        elif not isinstance(evl_loop, Evl.Loop):
            raise TypeError(f'an Evl.Loop was expected, got {evl_loop!r}')
        elif evl_loop.is_closed():
            raise RuntimeError('Event loop is closed')
        # Everything the base classes' __init__ may use (_make_self_pipe).
        self._evl = evl_loop
        self._weakself = weakref.ref(self)
        self._allow_nested = bool(allow_nested)
        self._readers = {}
        self._writers = {}
        self._drain_scheduled = False
        self._kick_pending = False
        self._evl_lock = threading.RLock()  # orders threadsafe posts and close
        self._evl_closed = False
        self._pending_exc = None
        self._run_depth = 0
        self._in_c = False                  # inside Evl's run, outside callbacks
        self._attached = None               # (GLib.MainContext, source id)
        super().__init__(_EvlSelector(self))
        evl_loop.set_exception_handler(_exception_cb, self._weakself)

    def __repr__(self):
        return (f'<{self.__class__.__name__} running={self.is_running()} '
                f'closed={self.is_closed()} debug={self.get_debug()} '
                f'evl={type(self._evl).__name__}>')

    @property
    def evl_loop(self):
        """The ``Evl.Loop`` behind this asyncio loop."""
        return self._evl

    # -- the GLib bridge ----------------------------------------------------

    def attach(self, context=None):
        """Lets whoever iterates a GMainContext run this loop.

        context: a ``GLib.MainContext``; by default the one the Evl loop
        drives, else GLib's default one. Returns the GSource id. Attaching
        again to the same context does nothing; to another one, moves it."""
        self._check_closed()
        if context is None:
            context = self._evl.get_context() or GLib.MainContext.default()
        if self._attached is not None:
            if self._attached[0] == context:
                return self._attached[1]
            self.detach()
        source_id = self._evl.attach(context)
        self._attached = (context, source_id)
        return source_id

    def detach(self):
        """Undoes attach(); returns whether the loop was attached."""
        attached, self._attached = self._attached, None
        if attached is None:
            return False
        context, source_id = attached
        source = context.find_source_by_id(source_id)
        if source is not None and not source.is_destroyed():
            source.destroy()
        return True

    def is_attached(self):
        """Whether attach() was called (and not undone)."""
        return self._attached is not None

    # -- time and callbacks -------------------------------------------------

    def time(self):
        return self._evl.time()

    def call_soon(self, callback, *args, context=None):
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_soon')
        handle = events.Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._ready.append(handle)
        if not self._drain_scheduled:
            self._schedule_drain()
        return handle

    def call_soon_threadsafe(self, callback, *args, context=None):
        self._check_closed()
        if self._debug:
            self._check_callback(callback, 'call_soon_threadsafe')
        handle = events.Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._ready.append(handle)   # deque.append is thread-safe
        self._write_to_self()
        return handle

    def call_at(self, when, callback, *args, context=None):
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, 'call_at')
        timer = TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        # asyncio runs a timer due at NaN at once; Evl refuses NaN.
        evl_when = when if when == when else 0.0
        timer._evl_handle = self._evl.call_at(evl_when, _timer_cb, timer)
        timer._scheduled = True
        return timer

    def _timer_handle_cancelled(self, handle):
        evl_handle = getattr(handle, '_evl_handle', None)
        if evl_handle is not None:
            handle._evl_handle = None
            handle._scheduled = False
            evl_handle.cancel()

    def _add_callback(self, handle):
        if not handle._cancelled:
            self._ready.append(handle)
            if not self._drain_scheduled:
                self._schedule_drain()

    def _add_callback_signalsafe(self, handle):
        self._ready.append(handle)
        self._write_to_self()

    def _schedule_drain(self):
        self._drain_scheduled = True
        self._evl.call_soon(_drain_cb, self._weakself)

    def _write_to_self(self):
        # Wakes the loop from any thread; the posted callback runs what
        # other threads queued unless a drain is already scheduled.
        if self._kick_pending:
            return
        with self._evl_lock:
            if self._evl_closed or self._kick_pending:
                return
            self._kick_pending = True
            self._evl.call_soon_threadsafe(_kick_cb, self._weakself)

    def _run_ready(self):
        """Runs the queued handles as a snapshot (one asyncio iteration)."""
        self._drain_scheduled = False
        ready = self._ready
        ntodo = len(ready)
        if not ntodo:
            return
        # Outside run_forever(), GLib is dispatching the loop (attach()).
        # (Not asked of _get_running_loop(): it costs a getpid() in 3.11.)
        dispatching = not self._run_depth
        if dispatching:
            saved = self._enter_dispatch()
        in_c, self._in_c = self._in_c, False
        try:
            if self._debug:
                for _ in range(ntodo):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        self._run_debug(handle)
            else:
                for _ in range(ntodo):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
        except BaseException as exc:
            # SystemExit or KeyboardInterrupt (Handle._run reports the
            # rest): the rest of the snapshot runs in the next iteration.
            if ready and not self._drain_scheduled and not self._closed:
                self._schedule_drain()
            if dispatching:
                raise
            self._stash(exc)
        finally:
            self._in_c = in_c
            if dispatching:
                self._leave_dispatch(saved)

    def _run_handle(self, handle):
        """Runs one handle called by the Evl loop (timer, fd, signal)."""
        dispatching = not self._run_depth
        if dispatching:
            saved = self._enter_dispatch()
        in_c, self._in_c = self._in_c, False
        try:
            if self._debug:
                self._run_debug(handle)
            else:
                handle._run()
        except BaseException as exc:
            if dispatching:
                raise
            self._stash(exc)
        finally:
            self._in_c = in_c
            if dispatching:
                self._leave_dispatch(saved)

    def _run_debug(self, handle):
        try:
            self._current_handle = handle
            t0 = self.time()
            handle._run()
            dt = self.time() - t0
            if dt >= self.slow_callback_duration:
                logger.warning('Executing %s took %.3f seconds',
                               _format_handle(handle), dt)
        finally:
            self._current_handle = None

    def _stash(self, exc):
        """Ends the innermost run, which then raises exc."""
        if self._pending_exc is None:
            self._pending_exc = exc
        self._evl.stop()

    def _enter_dispatch(self):
        # GLib runs this loop (attach()): it counts as running while its
        # callbacks run, as asyncio's loop does inside run_forever().
        saved = (self._thread_id, _compat.get_running_loop(),
                 sys.get_asyncgen_hooks())
        self._thread_id = threading.get_ident()
        _compat.set_running_loop(self)
        sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                               finalizer=self._asyncgen_finalizer_hook)
        return saved

    def _leave_dispatch(self, saved):
        thread_id, running, hooks = saved
        self._thread_id = thread_id
        _compat.set_running_loop(running)
        sys.set_asyncgen_hooks(*hooks)

    # -- running ------------------------------------------------------------

    def _check_running(self):
        if self.is_running():
            if (self._allow_nested and self._thread_id == threading.get_ident()
                    and _compat.get_running_loop() is self):
                return True
            raise RuntimeError('This event loop is already running')
        if _compat.get_running_loop() is not None:
            raise RuntimeError(
                'Cannot run the event loop while another loop is running')
        return False

    def run_forever(self):
        """Runs until stop() is called (Evl.Loop.run_forever)."""
        self._check_closed()
        if self._check_running():
            return self._run_nested()
        self._set_coroutine_origin_tracking(self._debug)
        old_agen_hooks = sys.get_asyncgen_hooks()
        main_thread = threading.current_thread() is threading.main_thread()
        try:
            self._thread_id = threading.get_ident()
            sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                   finalizer=self._asyncgen_finalizer_hook)
            _compat.set_running_loop(self)
            if main_thread:
                with self._python_signals():
                    self._evl_run()
            else:
                self._evl_run()
        finally:
            self._thread_id = None
            _compat.set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            sys.set_asyncgen_hooks(*old_agen_hooks)

    def _run_nested(self):
        # allow_nested: the C library runs the loop again inside the
        # current callback; the task being stepped, if any, steps no more
        # until the nested run returns.
        task = tasks.current_task(self)
        if task is not None:
            _compat.leave_task(self, task)
        try:
            self._evl_run()
        finally:
            if task is not None:
                _compat.enter_task(self, task)

    def _evl_run(self):
        self._run_depth += 1
        in_c, self._in_c = self._in_c, True
        try:
            try:
                self._evl.run_forever()
            except GLib.Error as error:
                raise _gerror_to_exception(error) from None
        finally:
            self._in_c = in_c
            self._run_depth -= 1
        exc, self._pending_exc = self._pending_exc, None
        if exc is not None:
            try:
                raise exc
            finally:
                exc = None

    def _run_once(self):
        """One iteration of the Evl loop (for code that calls asyncio's
        private _run_once; run_forever does not): a run after a stop."""
        self.stop()
        self.run_forever()

    def _python_signals(self):
        return _PythonSignals(self)

    def stop(self):
        """Ends the innermost run after the current iteration (Evl.Loop.stop;
        safe from any thread). Before a run: the next run does one
        iteration."""
        self._evl.stop()

    def is_running(self):
        return self._thread_id is not None

    def close(self):
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        try:
            super().close()   # self-pipe, executor, signal handlers
        finally:
            self.detach()
            readers, writers = self._readers, self._writers
            self._readers, self._writers = {}, {}
            for handle in (*readers.values(), *writers.values()):
                handle.cancel()
            with self._evl_lock:
                self._evl_closed = True
                self._evl.set_exception_handler(None, None)
                try:
                    self._evl.close()
                except GLib.Error as error:
                    raise _gerror_to_exception(error) from None

    # -- file descriptors ---------------------------------------------------

    def _make_self_pipe(self):
        # The Evl loop has its own wakeup; this socket pair is the wakeup fd
        # for Python signal handlers (signal.set_wakeup_fd) while the loop
        # runs on the main thread. It is watched without an asyncio Handle,
        # so that it does not keep the loop alive.
        self._ssock, self._csock = socket.socketpair()
        self._ssock.setblocking(False)
        self._csock.setblocking(False)
        self._internal_fds += 1
        self._evl.add_reader(self._ssock.fileno(), _self_pipe_cb, self._weakself)

    def _close_self_pipe(self):
        if self._ssock is None:
            return
        if not self._evl.is_closed():
            self._evl.remove_reader(self._ssock.fileno())
        self._ssock.close()
        self._ssock = None
        self._csock.close()
        self._csock = None
        self._internal_fds -= 1

    def _process_self_data(self, data):
        # Signals are dispatched by the Evl loop, not read from here.
        pass

    def _process_events(self, event_list):
        raise NotImplementedError('the Evl loop dispatches events')

    def _watch(self, fd, callback, args, writer):
        self._check_closed()
        fd = _fileobj_to_fd(fd)
        handle = events.Handle(callback, args, self, None)
        watches = self._writers if writer else self._readers
        add = self._evl.add_writer if writer else self._evl.add_reader
        try:
            add(fd, _io_cb, (handle, fd, writer))
        except GLib.Error as error:
            # The previous watch of fd, if any, is gone with the fd.
            old = watches.pop(fd, None)
            if old is not None:
                old.cancel()
            raise _gerror_to_exception(error) from None
        old = watches.get(fd)
        watches[fd] = handle
        if old is not None:
            old.cancel()
        return handle

    def _unwatch(self, fd, writer):
        if self.is_closed():
            return False
        fd = _fileobj_to_fd(fd)
        watches = self._writers if writer else self._readers
        handle = watches.pop(fd, None)
        if handle is None:
            return False
        if writer:
            self._evl.remove_writer(fd)
        else:
            self._evl.remove_reader(fd)
        handle.cancel()
        return True

    def _add_reader(self, fd, callback, *args):
        return self._watch(fd, callback, args, False)

    def _remove_reader(self, fd):
        return self._unwatch(fd, False)

    def _add_writer(self, fd, callback, *args):
        return self._watch(fd, callback, args, True)

    def _remove_writer(self, fd):
        return self._unwatch(fd, True)

    # -- signals ------------------------------------------------------------

    def add_signal_handler(self, sig, callback, *args):
        """Adds a handler for a signal (Evl.Loop.add_signal_handler). UNIX
        only, main thread only.

        Raise ValueError if the signal number is invalid or uncatchable.
        Raise RuntimeError if there is a problem setting up the handler."""
        if (coroutines.iscoroutine(callback) or
                coroutines.iscoroutinefunction(callback)):
            raise TypeError("coroutines cannot be used "
                            "with add_signal_handler()")
        self._check_signal(sig)
        self._check_closed()
        if threading.current_thread() is not threading.main_thread():
            # asyncio's message, from signal.set_wakeup_fd().
            raise RuntimeError(
                'set_wakeup_fd only works in main thread of the main interpreter')
        handle = events.Handle(callback, args, self, None)
        previous = signal.getsignal(sig)
        # Python's own handler only forwards to the wakeup fd; the Evl loop
        # chains to it. It is installed once: installing it again would
        # replace the Evl loop's handler under its feet.
        if previous is not _sighandler_noop:
            try:
                signal.signal(sig, _sighandler_noop)
                signal.siginterrupt(sig, False)
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    raise RuntimeError(f'sig {sig} cannot be caught')
                raise
        try:
            self._evl.add_signal_handler(sig, _signal_cb, (handle, sig))
        except GLib.Error as error:
            if previous is not _sighandler_noop and not _signal_users[sig]:
                signal.signal(sig, previous)
            raise RuntimeError(f'sig {sig} cannot be caught: {error.message}') from None
        if sig not in self._signal_handlers:
            _signal_users[sig] += 1
        self._signal_handlers[sig] = handle

    def _handle_signal(self, sig):
        handle = self._signal_handlers.get(sig)
        if handle is not None and not handle._cancelled:
            self._add_callback_signalsafe(handle)

    def remove_signal_handler(self, sig):
        """Removes the handler of a signal; returns whether there was one."""
        self._check_signal(sig)
        handle = self._signal_handlers.pop(sig, None)
        if handle is None:
            return False
        if not self._evl.is_closed():
            self._evl.remove_signal_handler(sig)
        _signal_users[sig] -= 1
        if _signal_users[sig] <= 0:
            del _signal_users[sig]
            handler = (signal.default_int_handler if sig == signal.SIGINT
                       else signal.SIG_DFL)
            try:
                signal.signal(sig, handler)
            except OSError as exc:
                if exc.errno == errno.EINVAL:
                    raise RuntimeError(f'sig {sig} cannot be caught')
                raise
            except ValueError:
                # Not the main thread (close() from another thread).
                pass
        return True


class _PythonSignals:
    """While a loop runs on the main thread: Python signal handlers are woken
    through the loop's self-pipe, and SIGINT's is wrapped (_SignalWrapper)."""

    __slots__ = ('loop', 'old_wakeup_fd', 'sigint', 'wrapper')

    def __init__(self, loop):
        self.loop = loop

    def __enter__(self):
        loop = self.loop
        self.old_wakeup_fd = None
        self.wrapper = None
        if loop._csock is not None:
            try:
                self.old_wakeup_fd = signal.set_wakeup_fd(loop._csock.fileno())
            except ValueError:
                pass
        handler = signal.getsignal(signal.SIGINT)
        if (callable(handler) and handler is not _sighandler_noop
                and not isinstance(handler, _SignalWrapper)):
            self.sigint = handler
            self.wrapper = _SignalWrapper(handler, loop)
            signal.signal(signal.SIGINT, self.wrapper)
        return self

    def __exit__(self, *exc_info):
        loop = self.loop
        if self.wrapper is not None:
            if signal.getsignal(signal.SIGINT) is self.wrapper:
                signal.signal(signal.SIGINT, self.sigint)
            self.wrapper = None
        if self.old_wakeup_fd is not None:
            fd = signal.set_wakeup_fd(self.old_wakeup_fd)
            ours = loop._csock.fileno() if loop._csock is not None else -1
            if fd != ours:
                # Someone set another wakeup fd meanwhile: keep theirs.
                signal.set_wakeup_fd(fd)
        return False


def new_event_loop(*, allow_nested=False, attach=None):
    """A new EvlEventLoop, for ``asyncio.run(..., loop_factory=...)``.

    attach: attach the loop to the GMainContext it drives (see
    EvlEventLoop.attach) so that GLib main loops run it too; by default,
    done on the main thread, where that context is GLib's default one."""
    loop = EvlEventLoop(allow_nested=allow_nested)
    if attach is None:
        attach = threading.current_thread() is threading.main_thread()
    if attach:
        loop.attach()
    return loop


class EvlEventLoopPolicy(_compat.PolicyBase):
    """asyncio's default policy, making EvlEventLoops (see new_event_loop).

    On the main thread its loop drives GLib's default main context and is
    attached to it: asyncio code runs during ``Gtk.Application.run()`` and
    GLib sources fire during ``asyncio.run()``."""

    def __init__(self, *, allow_nested=False):
        super().__init__()
        self._allow_nested = allow_nested

    def new_event_loop(self):
        return new_event_loop(allow_nested=self._allow_nested)
