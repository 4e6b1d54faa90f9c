import django_filters

from apps.courses.models import Course


class CatalogFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(field_name="category__slug")
    level = django_filters.ChoiceFilter(choices=Course.Level.choices)
    language = django_filters.CharFilter()
    tag = django_filters.CharFilter(field_name="tags__slug")
    instructor = django_filters.NumberFilter(field_name="instructor_id")

    class Meta:
        model = Course
        fields = ["category", "level", "language", "tag", "instructor"]
