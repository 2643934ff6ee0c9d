"""Task event streams: the store protocol and its Redis and in-memory adapters."""
