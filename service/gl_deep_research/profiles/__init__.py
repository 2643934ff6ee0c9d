"""Research profiles: named engine configurations from `profiles.yaml` and the API."""
