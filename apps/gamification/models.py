"""Models of the gamification domain."""
