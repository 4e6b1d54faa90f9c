"""Input rules shared by every endpoint: ids within the database's range, unknown fields refused.

Ids are bigint-sized at most (PostgreSQL's bigint, SQLite's INTEGER): a larger number can name
nothing, and passed to the database it overflows (a 500 on SQLite, an error on insert on
PostgreSQL). So every id a client sends, in a body, a query or a path, is checked here first.
"""

from collections.abc import Mapping

import django_filters
from django import forms
from rest_framework import serializers

MAX_ID = 2**63 - 1


class IdField(serializers.IntegerField):
    """The id of a row: an integer from 1 to MAX_ID (anything else is a 400 on this field)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFormField(forms.IntegerField):
    """IdField's rule for django-filter filters and forms."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class StrictInput:
    """Serializer mixin for write input: a key the serializer does not know is refused (400
    `validation_error`, one entry per unknown key in details) instead of silently dropped, so
    a misspelt field (`visibility` for `is_private`) never does the default thing. Nested
    input serializers apply it to their own keys."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            known = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(key) for key in data if key not in known)
            if unknown:
                raise serializers.ValidationError(
                    {key: ["Unknown field; it is not accepted here."] for key in unknown}
                )
        return super().to_internal_value(data)


class InputSerializer(StrictInput, serializers.Serializer):
    """Base of every write input serializer (JSON bodies)."""


class IdFilter(django_filters.NumberFilter):
    """A django-filter filter on a row id, with IdField's range (400 outside it)."""

    field_class = IdFormField
