"""Social endpoints."""

urlpatterns: list = []
