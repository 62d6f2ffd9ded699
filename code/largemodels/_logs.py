"""Quiet a library's loggers for the length of a ``with`` block."""
import contextlib
import logging


@contextlib.contextmanager
def quiet_loggers(*names):
    """Drop the records below ERROR of the loggers ``names``; their levels are restored on
    exit."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
