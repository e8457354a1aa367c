"""The simulation API: act as any user (write, read, react) over HTTP, for tests and demos."""
