"""Accounts endpoints (auth flows, /me/, users) — filled in by the accounts work."""

urlpatterns: list = []
