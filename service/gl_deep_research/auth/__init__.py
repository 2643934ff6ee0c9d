"""API keys: the master key and bcrypt-hashed account keys."""
