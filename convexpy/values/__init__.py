"""Convex values: the Python model, JSON encodings, ids, sort keys and validators."""

from .ids import DocumentId, InvalidId
from .model import Int64
from .validators import ValidationFailure, Validator, v

__all__ = ["DocumentId", "InvalidId", "Int64", "ValidationFailure", "Validator", "v"]
