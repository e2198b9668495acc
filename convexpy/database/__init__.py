"""Transactions, read sets, the committer and snapshot reads over the storage log."""

from .database import Database
from .transaction import Transaction

__all__ = ["Database", "Transaction"]
