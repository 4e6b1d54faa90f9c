"""A small, realistic demo catalog for `manage.py seed_demo` (idempotent)."""

from django.db import transaction

from . import services
from .models import Course, Quiz

CATALOG = [
    (
        "Data",
        "SQL from zero",
        "Query, join and index your way around a real database.",
        ["sql", "databases"],
        [
            ("Why databases?", "Tables, rows and **why** they beat spreadsheets.", True),
            ("Your first SELECT", "```sql\nSELECT title FROM courses;\n```", False),
            ("Joins without fear", "Inner, left and the one you will actually use.", False),
        ],
    ),
    (
        "Programming",
        "Python for curious people",
        "Write small, useful programs from the first hour.",
        ["python"],
        [
            ("Hello, Python", "Install, run, `print()`.", True),
            ("Lists and loops", "Do something to everything.", False),
        ],
    ),
    (
        "Design",
        "Colour for interfaces",
        "Contrast, palettes and accessibility for everyday screens.",
        ["design", "accessibility"],
        [("Contrast matters", "WCAG ratios in practice.", True)],
    ),
]


@transaction.atomic
def seed(*, instructor, learners) -> int:
    created = 0
    for category_name, title, summary, tags, lessons in CATALOG:
        if Course.objects.filter(title=title).exists():
            continue
        category = services.category_get_or_create(name=category_name)
        course = services.course_create(
            instructor=instructor,
            data={"title": title, "summary": summary, "category": category, "tags": tags},
        )
        for position, (lesson_title, body, preview) in enumerate(lessons):
            quiz = None
            if position == len(lessons) - 1:
                quiz = {
                    "pass_mark": 50,
                    "questions": [
                        {
                            "text": f"Did you enjoy “{lesson_title}”?",
                            "kind": "single",
                            "choices": [
                                {"text": "Yes", "is_correct": True},
                                {"text": "No", "is_correct": False},
                            ],
                        }
                    ],
                }
            services.lesson_create(
                course=course,
                actor=instructor,
                data={
                    "title": lesson_title,
                    "body_markdown": body,
                    "is_preview": preview,
                    "duration_seconds": 300,
                    "quiz": quiz,
                },
            )
        course = services.course_publish(course=course)
        for index, learner in enumerate(learners):
            services.enrollment_create(user=learner, course=course)
            first_lessons = list(course.lessons.order_by("position")[: index + 1])
            for lesson in first_lessons:
                _learn(learner, lesson)
        created += 1
    return created


def _learn(learner, lesson) -> None:
    """Complete the lesson as a learner would: a quiz lesson by passing its quiz."""
    quiz = Quiz.objects.filter(lesson=lesson).first()
    if quiz is None:
        services.lesson_complete(user=learner, lesson=lesson)
        return
    answers = {
        str(question.pk): [choice.pk for choice in question.choices.all() if choice.is_correct]
        for question in quiz.questions.prefetch_related("choices")
    }
    services.quiz_attempt_submit(user=learner, lesson=lesson, answers=answers)
