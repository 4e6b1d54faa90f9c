from django.urls import path

from . import views

urlpatterns = [
    path("categories/", views.CategoryListView.as_view(), name="category-list"),
    path("courses/", views.CourseListView.as_view(), name="course-list"),
    path("courses/<slug:slug>/", views.CourseDetailView.as_view(), name="course-detail"),
    path("courses/<slug:slug>/publish/", views.CoursePublishView.as_view(), name="course-publish"),
    path("courses/<slug:slug>/lessons/", views.CourseLessonsView.as_view(), name="course-lessons"),
    path(
        "courses/<slug:slug>/enrollment/", views.EnrollmentView.as_view(), name="course-enrollment"
    ),
    path("courses/<slug:slug>/reviews/", views.ReviewsView.as_view(), name="course-reviews"),
    path("courses/<slug:slug>/stats/", views.CourseStatsView.as_view(), name="course-stats"),
    path("lessons/<id:lesson_id>/", views.LessonDetailView.as_view(), name="lesson-detail"),
    path(
        "lessons/<id:lesson_id>/quiz/attempts/",
        views.QuizAttemptView.as_view(),
        name="lesson-quiz-attempts",
    ),
    path(
        "lessons/<id:lesson_id>/complete/",
        views.LessonCompleteView.as_view(),
        name="lesson-complete",
    ),
    path("me/enrollments/", views.MyEnrollmentsView.as_view(), name="my-enrollments"),
]
