"""Models of the mailing domain."""
