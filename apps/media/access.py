"""Who may see a media file besides its owner: one rule set per purpose, registered by the apps
that attach files.

    from apps.media.access import register_visibility_rule
    register_visibility_rule("course_cover", lambda user, media: ...)  # in AppConfig.ready()

A rule is asked only about ready, attached files and answers whether `user` (possibly
anonymous) may see one; any rule saying yes makes the file visible. Keep rules to one query.
The owner always sees their files. Everyone else gets 404 for what they may not see, so the
existence of a file is never revealed.
"""

from collections import defaultdict
from collections.abc import Callable

from .models import MediaFile
from .policies import Purpose

VisibilityRule = Callable[..., bool]  # (user, media_file) -> bool

_rules: dict[str, list[VisibilityRule]] = defaultdict(list)


def register_visibility_rule(purpose: str, rule: VisibilityRule) -> None:
    purpose = Purpose(purpose)  # a typo fails at start-up, not silently
    if rule not in _rules[purpose]:
        _rules[purpose].append(rule)


def unregister_visibility_rule(purpose: str, rule: VisibilityRule) -> None:
    if rule in _rules[purpose]:
        _rules[purpose].remove(rule)


def media_is_visible_to(*, media: MediaFile, user) -> bool:
    if user.is_authenticated and media.owner_id == user.pk:
        return True
    if not (media.is_ready and media.is_attached):
        return False
    return any(rule(user, media) for rule in _rules.get(media.purpose, ()))


def avatar_is_visible(user, media: MediaFile) -> bool:
    """The current avatar of an active account is visible to every signed-in person."""
    from apps.accounts.models import User

    return user.is_authenticated and User.objects.filter(avatar=media, is_active=True).exists()
