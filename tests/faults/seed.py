"""The data every fault module starts from, written by a `manage.py shell` of the stack under
test (production settings, its own database): an instructor with a published two-lesson course
and a post, and a pool of enrolled learners with verified emails and access tokens. Prints one
JSON line (the last of its output) that tests/faults/harness.py reads."""

import json

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.db import transaction
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.models import User
from apps.courses import services as courses
from apps.social import services as social

PASSWORD = "a long fault-injection passphrase 42"


def _person(email: str, name: str, password_hash: str, role: str) -> User:
    user = User.objects.create_user(email=email, password=None, display_name=name)
    user.password = password_hash  # one PBKDF2 run for the whole pool, not one per person
    user.save(update_fields=["password"])
    user.groups.add(Group.objects.get(name=role))
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def _summary(user: User) -> dict:
    return {
        "id": user.pk,
        "email": user.email,
        "token": str(RefreshToken.for_user(user).access_token),
    }


@transaction.atomic
def seed(*, learners: int) -> None:
    password_hash = make_password(PASSWORD)
    instructor = _person("ines@faults.example.com", "Ines", password_hash, "instructor")
    course = courses.course_create(
        instructor=instructor,
        data={"title": "Failing well", "summary": "What a system does when parts of it die."},
    )
    lessons = [
        courses.lesson_create(
            course=course, actor=instructor, data={"title": title, "body_markdown": body}
        )
        for title, body in (
            ("Timeouts", "Every call has **one**."),
            ("Idempotence", "Twice is once."),
        )
    ]
    course = courses.course_publish(course=course)
    post = social.post_create(author=instructor, body="Ask me anything about outages.")
    pool = []
    for number in range(learners):
        learner = _person(
            f"learner{number}@faults.example.com", f"Learner {number}", password_hash, "student"
        )
        courses.enrollment_create(user=learner, course=course)
        pool.append(learner)
    transaction.on_commit(
        lambda: print(
            json.dumps(
                {
                    "password": PASSWORD,
                    "instructor": _summary(instructor),
                    "course": {
                        "id": course.pk,
                        "slug": course.slug,
                        "lessons": [lesson.pk for lesson in lessons],
                    },
                    "post": post.pk,
                    "learners": [_summary(learner) for learner in pool],
                }
            )
        )
    )
