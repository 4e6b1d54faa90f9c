"""Lyo's URLs plus the baseline endpoint, which exists only in the benchmark settings.

The baseline is what a request costs with the whole production middleware stack, the request
transaction and one primary-key query, and nothing else: endpoint throughput is reported as a
ratio to it, so numbers from a noisy or slower machine stay comparable.
"""

from django.http import JsonResponse
from django.urls import path

from apps.accounts.models import User
from lyo.urls import handler400, handler403, handler404, handler500
from lyo.urls import urlpatterns as lyo_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]


def baseline(request, pk: int):
    row = User.objects.filter(pk=pk).values("id", "display_name").first()
    return JsonResponse(row or {"id": None}, status=200 if row else 404)


urlpatterns = [path("bench/baseline/<int:pk>/", baseline, name="bench-baseline"), *lyo_urlpatterns]
