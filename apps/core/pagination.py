"""The two list shapes of the contract: page numbers for catalogs, cursors for time feeds."""

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class CursorPagination(pagination.CursorPagination):
    """Keyset pagination: page cost does not depend on how deep the client has scrolled.

    Subclasses must order on an indexed, unique column set (e.g. ("-created_at", "-id")).
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")
