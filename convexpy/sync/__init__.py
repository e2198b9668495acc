"""The WebSocket sync protocol: sessions, subscriptions and shared query results."""
