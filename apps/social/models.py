"""Models of the social domain."""
