"""Shared pieces for API views."""

from django.db import transaction
from rest_framework.views import APIView


class NonAtomicAPIView(APIView):
    """An API view that runs outside the request transaction (ATOMIC_REQUESTS).

    For the few endpoints whose failed attempts must leave a trace (sign-in: audit rows,
    lockout counters). Their services open their own transactions where they write together,
    and the error handler does not mark a surrounding transaction for rollback. Also for hot
    read-only endpoints of a single query (the feed), where the transaction's BEGIN and COMMIT
    would be two of its three round trips to the database.
    """

    atomic_request = False

    @classmethod
    def as_view(cls, **initkwargs):
        return transaction.non_atomic_requests(super().as_view(**initkwargs))
