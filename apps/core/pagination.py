"""The two list shapes of the contract: page numbers for catalogs, cursors for time feeds."""

from rest_framework import pagination
from rest_framework.exceptions import ValidationError


class StrictPageSizeMixin:
    """`?page_size=` must be a whole number of at least 1 (400 otherwise, as documented);
    DRF alone would silently fall back to the default. Above max_page_size it is capped."""

    def get_page_size(self, request):
        name = self.page_size_query_param
        raw = request.query_params.get(name)
        if raw is not None:
            try:
                value = int(raw)
            except ValueError:
                raise ValidationError({name: ["A whole number."]}) from None
            if value < 1:
                raise ValidationError({name: ["At least 1."]})
        return super().get_page_size(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = (
                    f"Results per page (at most {self.max_page_size}; larger asks get that many)."
                )
        return parameters


class PageNumberPagination(StrictPageSizeMixin, pagination.PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class CursorPagination(StrictPageSizeMixin, pagination.CursorPagination):
    """Keyset pagination: page cost does not depend on how deep the client has scrolled.

    Subclasses must order on an indexed, unique column set (e.g. ("-created_at", "-id")).
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")
