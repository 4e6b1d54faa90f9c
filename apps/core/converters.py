"""Path converter for row ids: `<id:post_id>` matches digits within the database's id range.

Django's `<int:>` takes any number of digits; a 23-digit id then reaches the database and
overflows. Out of range is simply no such row: the URL does not match, so 404.
"""

from django.urls import register_converter

from .input import MAX_ID


class IdConverter:
    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise ValueError("out of the id range")
        return number

    def to_url(self, value: int) -> str:
        return str(value)


def register() -> None:
    register_converter(IdConverter, "id")
