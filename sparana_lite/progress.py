"""Progress bars that stay cheap where nobody watches them.

A tqdm bar redraws up to ten times a second. In a terminal that is free; in a notebook kernel
every redraw is a message the kernel must send to its client, and a chapter that trains for
minutes sends thousands. On a busy machine the kernel then falls behind: ``make test`` (nbval)
stops waiting 5 s after a cell's reply and fails a cell that was still sending its progress
updates. Here a bar redraws at most every :data:`NON_INTERACTIVE_INTERVAL` seconds unless it
writes to a terminal.
"""
import sys

# Seconds between two redraws of a bar that does not write to a terminal (a notebook kernel,
# a log file, a test run): a training of minutes sends tens of updates, not thousands.
NON_INTERACTIVE_INTERVAL = 5.0
INTERACTIVE_INTERVAL = 0.1  # tqdm's own default


def interactive(stream=None):
    """Whether ``stream`` (default ``sys.stderr``, where tqdm writes) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def min_interval(stream=None):
    """Seconds between redraws: :data:`INTERACTIVE_INTERVAL` on a terminal, else
    :data:`NON_INTERACTIVE_INTERVAL`."""
    return INTERACTIVE_INTERVAL if interactive(stream) else NON_INTERACTIVE_INTERVAL


def bar(iterable=None, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)`` with ``mininterval`` from :func:`min_interval`
    (unless given)."""
    from tqdm.auto import tqdm
    kwargs.setdefault("mininterval", min_interval(kwargs.get("file")))
    return tqdm(iterable, **kwargs)
