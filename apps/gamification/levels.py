"""The level curve (configured in settings): level L starts at STEP * L * (L - 1) / 2 XP."""

import math

from django.conf import settings


def level_threshold(level: int) -> int:
    return settings.GAMIFICATION_LEVEL_STEP_XP * level * (level - 1) // 2


def level_for_xp(xp: int) -> int:
    step = settings.GAMIFICATION_LEVEL_STEP_XP
    level = int((1 + math.sqrt(1 + 8 * xp / step)) / 2)
    # Guard against floating-point edges right at a threshold.
    while level_threshold(level + 1) <= xp:
        level += 1
    while level > 1 and level_threshold(level) > xp:
        level -= 1
    return max(level, 1)
