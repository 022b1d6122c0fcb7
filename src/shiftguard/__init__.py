"""shiftguard: know when your data changed, when a prediction can't be trusted, and what
you can still validly conclude -- with stated statistical guarantees."""

from shiftguard.errors import (
    BudgetExhaustedError,
    EstimatorError,
    InputError,
    NotFittedError,
    ParameterError,
    ReadError,
    SchemaError,
    ShiftguardError,
    StateError,
)

__version__ = "0.1.0"

__all__ = [
    "BudgetExhaustedError",
    "EstimatorError",
    "InputError",
    "NotFittedError",
    "ParameterError",
    "ReadError",
    "SchemaError",
    "ShiftguardError",
    "StateError",
    "__version__",
]
