"""Typed exceptions raised by shiftguard.

Every error a user can cause derives from :class:`ShiftguardError`, so one ``except``
catches them all; the subclasses also derive from the built-in exception a Python user
would expect (``ValueError`` for bad values, ``RuntimeError`` for misuse of state), so
code written against scikit-learn conventions keeps working. Where a column is at fault
its name is in the message and in the ``column`` attribute.
"""

from __future__ import annotations


class ShiftguardError(Exception):
    """Base class of every error shiftguard raises on purpose."""


class InputError(ShiftguardError, ValueError):
    """Input data is unusable: NaN/inf, empty, constant, wrong type or shape.

    Parameters
    ----------
    message
        What is wrong, in one line.
    column
        The column (or argument) at fault, when there is one; it is prefixed to the message.
    """

    def __init__(self, message: str, column: str | None = None) -> None:
        self.column = column
        super().__init__(f"column {column!r}: {message}" if column is not None else message)


class SchemaError(InputError):
    """Reference and current data disagree on columns or column kinds."""


class ReadError(InputError):
    """A file could not be read (missing, unreadable, unknown format)."""


class ParameterError(ShiftguardError, ValueError):
    """An argument is outside its valid range (``alpha`` outside (0, 1), say)."""


class EstimatorError(ShiftguardError, TypeError):
    """A wrapped model lacks a method the requested procedure needs."""


class NotFittedError(ShiftguardError, RuntimeError):
    """A method that needs ``fit``/``calibrate`` was called before it."""


class BudgetExhaustedError(ShiftguardError, RuntimeError):
    """A query budget (reusable holdout, say) is used up; further answers would be invalid."""


class StateError(ShiftguardError, ValueError):
    """A serialised state cannot be restored (wrong kind, version or fields)."""
