"""Ctrl-C (SIGINT) and SIGTERM for the local servers' entry points (``python -m devstack``,
``python -m devstack.fakes``): noted from the moment a ``StopSignals`` exists, waited for by
``wait()`` in the main thread, which they always wake.

Python runs a signal's handler in the main thread, between two bytecodes. The kernel may deliver a
process-wide signal to any thread that does not block it, and these processes run dozens (servers,
their per-connection handlers, pollers); there the C-level handler only notes the signal. A main
thread blocked in ``Event.wait()`` with no timeout is then never woken: the process runs on and
the signal is lost. ``wait()`` blocks in ``select`` on a socket that ``signal.set_wakeup_fd``
writes to from whichever thread took the signal, so the main thread wakes and runs the handler.
"""

from __future__ import annotations

import contextlib
import select
import signal
import socket
import threading


class StopSignals:
    def __init__(self) -> None:
        self.received = threading.Event()
        self._wakeup, self._wakeup_writer = socket.socketpair()
        for end in (self._wakeup, self._wakeup_writer):
            end.setblocking(False)
        signal.set_wakeup_fd(self._wakeup_writer.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self.received.set()

    def wait(self) -> None:
        """Blocks until SIGINT or SIGTERM arrived (at once if one already did). Main thread only."""
        while not self.received.is_set():
            select.select([self._wakeup], [], [])  # woken by any signal; its handler runs on return
            with contextlib.suppress(BlockingIOError):  # already read
                self._wakeup.recv(64)
