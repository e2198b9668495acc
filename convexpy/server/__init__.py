"""The HTTP edge: API port, site port, auth and errors."""
