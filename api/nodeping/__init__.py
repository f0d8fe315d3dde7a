"""NodePing-compatible API (``/api/1/...``)."""
