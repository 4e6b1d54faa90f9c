"""A small world with one object of every kind the API addresses by id, and who owns what.

Used by the authorization sweep (tests/security) and the OpenAPI fuzzing (tests/fuzz):

- `owner` (student) wrote the posts and comment, owns both study groups and the media files
  (the unattached `media`, and the images of the public and the followers-only post), is
  enrolled in the course and filed the report;
- `instructor` teaches the published course (with a quiz lesson, a lesson with an attachment
  and a preview lesson with one) and the draft course;
- `other` (student) is an active member of the public group and follows nobody;
- `moderator` and `admin` have those roles.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from apps.courses.models import Course
from apps.social.models import Membership, Notification, Post, Report
from tests.courses.factories import add_quiz, course_with_lessons, enroll
from tests.factories import UserFactory, client_for
from tests.social.factories import CommentFactory, PostFactory, StudyGroupFactory


@dataclass
class World:
    owner: object
    other: object
    instructor: object
    moderator: object
    admin: object
    course: Course
    draft: Course
    lesson: object
    quiz_lesson: object
    post: Post
    followers_post: Post
    comment: object
    group: object
    private_group: object
    report: Report
    media: object
    post_image: object
    followers_post_image: object
    lesson_attachment: object
    preview_attachment: object
    ids: dict = field(default_factory=dict)

    def client(self, who: str | None):
        """An API client for a role name of the world, or anonymous for None."""
        if who is None:
            from rest_framework.test import APIClient

            return APIClient()
        return client_for(getattr(self, who))

    def path_values(self) -> dict:
        """Values for every path parameter name used under /api/v1/ (fuzzing, the sweep)."""
        return {
            "slug": self.course.slug,
            "lesson_id": self.lesson.pk,
            "post_id": self.post.pk,
            "comment_id": self.comment.pk,
            "user_id": self.other.pk,
            "group_id": self.group.pk,
            "report_id": self.report.pk,
            "media_id": str(self.media.pk),
            "period": "weekly",
        }


def build_world() -> World:
    owner = UserFactory(display_name="Owner")
    other = UserFactory(display_name="Other")
    instructor = UserFactory(roles=["student", "instructor"], display_name="Instructor")
    moderator = UserFactory(roles=["student", "moderator"], display_name="Moderator")
    admin = UserFactory(roles=["admin"], display_name="Admin")

    course, lessons = course_with_lessons(3, instructor=instructor)
    add_quiz(lessons[1])
    draft, _ = course_with_lessons(1, instructor=instructor, status=Course.Status.DRAFT)
    draft.published_at = None
    draft.save(update_fields=["published_at"])
    enroll(owner, course)

    post = PostFactory(author=owner)
    followers_post = PostFactory(author=owner, visibility=Post.Visibility.FOLLOWERS)
    comment = CommentFactory(post=post, author=owner)
    Post.objects.filter(pk=post.pk).update(comment_count=1)
    group = StudyGroupFactory(owner=owner)
    Membership.objects.create(group=group, user=other, approved_at=timezone.now())
    private_group = StudyGroupFactory(owner=owner, is_private=True)
    report = Report.objects.create(
        reporter=owner, target_type=Report.TargetType.USER, target_id=other.pk, reason="spam"
    )
    Notification.objects.create(
        recipient=owner, actor=other, verb=Notification.Verb.FOLLOW, target_type="user"
    )
    from apps.courses.models import LessonAttachment
    from apps.media.services import media_attach
    from tests.media.factories import media_for

    def attach(owner, purpose: str):
        media = media_for(owner, purpose=purpose)
        return media_attach(media_id=media.pk, owner=owner, purpose=purpose)

    media = media_for(owner)
    post_image = attach(owner, "post_image")
    Post.objects.filter(pk=post.pk).update(media=post_image)
    followers_post_image = attach(owner, "post_image")
    Post.objects.filter(pk=followers_post.pk).update(media=followers_post_image)
    lesson_attachment = attach(instructor, "lesson_attachment")
    LessonAttachment.objects.create(lesson=lessons[0], media=lesson_attachment, position=0)
    preview = lessons[2]
    preview.is_preview = True
    preview.save(update_fields=["is_preview"])
    preview_attachment = attach(instructor, "lesson_attachment")
    LessonAttachment.objects.create(lesson=preview, media=preview_attachment, position=0)
    return World(
        owner=owner,
        other=other,
        instructor=instructor,
        moderator=moderator,
        admin=admin,
        course=course,
        draft=draft,
        lesson=lessons[0],
        quiz_lesson=lessons[1],
        post=post,
        followers_post=followers_post,
        comment=comment,
        group=group,
        private_group=private_group,
        report=report,
        media=media,
        post_image=post_image,
        followers_post_image=followers_post_image,
        lesson_attachment=lesson_attachment,
        preview_attachment=preview_attachment,
    )
