"""Media endpoints."""

urlpatterns: list = []
