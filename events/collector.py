"""Python's cycle collector held off while a request or an import makes many short-lived objects."""

import contextlib
import gc


@contextlib.contextmanager
def collector_paused():
    """Hold off the cycle collector for the block; it runs again, as it would have, after.

    Tens of thousands of rows and records made at once (none in a cycle: reference counting
    frees them) would otherwise set off collections of the whole process's heap: a third of a
    large consensus series' time, and a third of an unchanged file's re-import.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
