"""Work a sending worker does on the side, in its own thread: never in the send path.

Sign-ups waiting to be carried out, outgoing webhooks, and whatever else an
app registers (in its AppConfig.ready) as a step: a function that does a
bounded amount of work and returns True when it found some. The worker starts
one SideWork thread and stops it when it stops, so a web hook endpoint that
takes its whole timeout to answer, or a slow confirmation email, costs the
campaigns nothing: they are sent by the worker's main loop meanwhile.

Every step keeps its state in the database (claimed by a conditional update,
held by a lease), so a worker killed in the middle of one loses nothing:
another worker's side thread takes the work when the lease runs out.
"""

import logging
import threading
from collections.abc import Callable

from django.db import close_old_connections, connection

log = logging.getLogger("postroom.background")

Step = Callable[[], bool]
_steps: dict[str, Step] = {}
# Per step, a cheap question "is work waiting for you now?", so a worker run
# `--until-idle` does not leave while side work that leads to mail is due.
_pending: dict[str, Step] = {}

# With nothing to do the thread looks again after this long.
IDLE_SECONDS = 1.0


def register(name: str, step: Step, pending: Step | None = None) -> None:
    """Run `step` in every worker's side thread (registering a name twice replaces it);
    `pending` tells whether it has work due (see `pending`)."""
    _steps[name] = step
    if pending is not None:
        _pending[name] = pending
    else:
        _pending.pop(name, None)


def pending() -> bool:
    """True when a step says work is due that will lead to mail (a worker's idle check)."""
    return any(check() for check in list(_pending.values()))


def steps() -> dict[str, Step]:
    return dict(_steps)


def run_steps_once() -> bool:
    """Every step once; True when one of them found work. Tests drive the side work with it."""
    found = False
    for name, step in steps().items():
        try:
            found = bool(step()) or found
        except Exception:  # one broken step must not stop the others, nor the thread
            log.exception("background step %s failed", name)
    return found


class SideWork(threading.Thread):
    """The worker's side thread: runs the registered steps until told to stop."""

    def __init__(self) -> None:
        super().__init__(name="postroom-side-work", daemon=True)
        self._stop_event = threading.Event()

    def run(self) -> None:
        try:
            while not self._stop_event.is_set():
                close_old_connections()
                if not run_steps_once():
                    self._stop_event.wait(IDLE_SECONDS)
        finally:
            connection.close()  # this thread's own connection

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the thread to stop after the step it is in, and wait for that."""
        self._stop_event.set()
        if self.is_alive():
            self.join(timeout)
