import factory
from django.utils import timezone

from apps.media.services import media_attach
from apps.social.models import Comment, Follow, Membership, Post, StudyGroup
from tests.factories import UserFactory
from tests.media.factories import media_for


class StudyGroupFactory(factory.django.DjangoModelFactory):
    """A group whose owner is its active owner member, as group_create makes it."""

    class Meta:
        model = StudyGroup
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Study group {n}")
    description = "We read together."
    owner = factory.SubFactory(UserFactory)

    @factory.post_generation
    def owner_membership(group, create, extracted, **kwargs):
        if create:
            Membership.objects.create(
                group=group,
                user=group.owner,
                role=Membership.Role.OWNER,
                status=Membership.Status.ACTIVE,
                approved_at=timezone.now(),
            )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    group = factory.SubFactory(StudyGroupFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER
    status = Membership.Status.ACTIVE


class PostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Post

    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"Post number {n}")
    visibility = factory.LazyAttribute(
        lambda post: Post.Visibility.GROUP if post.group else Post.Visibility.PUBLIC
    )
    group = None


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    post = factory.SubFactory(PostFactory)
    author = factory.SubFactory(UserFactory)
    body = factory.Sequence(lambda n: f"Comment number {n}")


class FollowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Follow

    follower = factory.SubFactory(UserFactory)
    followee = factory.SubFactory(UserFactory)


def users_bulk(count: int, *, prefix: str = "bulk"):
    """Many active users in one INSERT (no password hashing, no email rows): for query-budget
    and volume tests where nobody signs in."""
    from apps.accounts.models import User

    return User.objects.bulk_create(
        [
            User(email=f"{prefix}{index}@example.com", display_name=f"{prefix} {index}")
            for index in range(count)
        ]
    )


def give_images(posts) -> None:
    """Attach a real uploaded post_image (its author's) to each post, as post_create does."""
    for post in posts:
        media = media_for(post.author, purpose="post_image")
        media_attach(media_id=media.pk, owner=post.author, purpose="post_image")
        Post.objects.filter(pk=post.pk).update(media=media)
