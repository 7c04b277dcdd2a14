"""pytest settings for every run in this repository, the unit tests (tests/) and the chapters
(book/, executed by nbval) alike, whichever of them a command names.

nbval waits at most 5 s for each message a cell's kernel sends after the cell's reply (a
constant of its ``IPyNbCell``, not an option). A kernel on a busy machine can fall further
behind than that while it sends a long cell's output, and nbval then fails the cell with
"Timeout ... waiting for output". Here the wait is ``--nbval-output-timeout`` seconds
(default :data:`NBVAL_OUTPUT_TIMEOUT`); a cell that runs too long is still stopped by nbval's
own ``--nbval-cell-timeout``.
"""
NBVAL_OUTPUT_TIMEOUT = 120.0


def pytest_addoption(parser):
    parser.addoption("--nbval-output-timeout", type=float, default=NBVAL_OUTPUT_TIMEOUT,
                     help="seconds nbval waits for each output message of a cell after its "
                          f"reply (nbval's own: 5; here: {NBVAL_OUTPUT_TIMEOUT:g})")


def pytest_collection_modifyitems(config, items):
    seconds = config.getoption("nbval_output_timeout")
    for item in items:
        if type(item).__module__.startswith("nbval") and hasattr(item, "output_timeout"):
            item.output_timeout = seconds
