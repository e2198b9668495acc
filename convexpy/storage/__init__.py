"""Persistence on PostgreSQL and the embedded server."""
