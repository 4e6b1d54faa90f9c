import django_filters

from apps.core.input import IdFilter
from apps.courses.models import Course


class CatalogFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(field_name="category__slug", max_length=100)
    level = django_filters.ChoiceFilter(choices=Course.Level.choices)
    language = django_filters.CharFilter(max_length=10)
    tag = django_filters.CharFilter(field_name="tags__slug", max_length=100)
    instructor = IdFilter(field_name="instructor_id")

    class Meta:
        model = Course
        fields = ["category", "level", "language", "tag", "instructor"]
