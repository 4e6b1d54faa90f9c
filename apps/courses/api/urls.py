"""Courses endpoints."""

urlpatterns: list = []
