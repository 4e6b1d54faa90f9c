import factory
from django.utils import timezone

from apps.courses.cache import enrolled_courses_invalidate
from apps.courses.markdown import render_markdown
from apps.courses.models import Category, Choice, Course, Enrollment, Lesson, Question, Quiz
from tests.factories import UserFactory


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class CourseFactory(factory.django.DjangoModelFactory):
    """A published course by a fresh instructor; pass status="draft" for a draft."""

    class Meta:
        model = Course

    title = factory.Sequence(lambda n: f"Course number {n}")
    slug = factory.Sequence(lambda n: f"course-number-{n}")
    summary = "Learn something useful."
    instructor = factory.SubFactory(UserFactory, roles=["instructor"])
    status = Course.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


class LessonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lesson

    course = factory.SubFactory(CourseFactory)
    position = factory.Sequence(lambda n: n)
    title = factory.Sequence(lambda n: f"Lesson {n}")
    body_markdown = "Some **content**."
    body_html = factory.LazyAttribute(lambda o: render_markdown(o.body_markdown))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        lesson = super()._create(model_class, *args, **kwargs)
        Course.objects.filter(pk=lesson.course_id).update(
            lesson_count=Lesson.objects.filter(course_id=lesson.course_id).count()
        )
        return lesson


def course_with_lessons(count: int = 3, **course_kwargs) -> tuple[Course, list[Lesson]]:
    course = CourseFactory(**course_kwargs)
    lessons = [LessonFactory(course=course, position=i) for i in range(count)]
    course.refresh_from_db()
    return course, lessons


def add_quiz(lesson: Lesson, pass_mark: int = 50) -> tuple[Quiz, list[tuple[Question, Choice]]]:
    """Two single-choice questions; returns each question with its correct choice."""
    quiz = Quiz.objects.create(lesson=lesson, pass_mark=pass_mark)
    answers = []
    for position in range(2):
        question = Question.objects.create(quiz=quiz, position=position, text=f"Q{position}?")
        right = Choice.objects.create(question=question, text="right", is_correct=True)
        Choice.objects.create(question=question, text="wrong", is_correct=False)
        answers.append((question, right))
    return quiz, answers


def enroll(user, course: Course) -> Enrollment:
    """Enroll without the service's rules (drafts too); keeps what the service keeps."""
    enrollment = Enrollment.objects.create(user=user, course=course)
    Course.objects.filter(pk=course.pk).update(
        enrollment_count=Enrollment.objects.filter(course=course).count()
    )
    enrolled_courses_invalidate(user_id=user.pk)
    return enrollment
