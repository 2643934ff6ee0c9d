"""One router per resource of the published API."""
