"""Models of the media domain."""
