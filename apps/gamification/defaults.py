"""The starting XP rules and achievements (data; editable in the admin afterwards)."""

RULES = [
    ("lesson.completed", 10, None, "A lesson completed"),
    ("quiz.passed", 20, None, "A quiz passed (first pass only)"),
    ("quiz.perfect", 10, None, "Bonus for a perfect quiz score"),
    ("course.completed", 100, None, "A whole course completed"),
    ("post.created", 2, 20, "A post shared (at most 20 XP a day)"),
    ("comment.created", 1, 10, "A comment written (at most 10 XP a day)"),
    ("streak.daily", 5, 5, "Learning on another day in a row"),
    ("achievement.unlocked", 0, None, "Points come from the achievement itself"),
]

ACHIEVEMENTS = [
    (
        "first-lesson",
        "First steps",
        "Complete your first lesson.",
        "action_count",
        "lesson.completed",
        1,
        10,
        "footprints",
    ),
    (
        "ten-lessons",
        "Getting serious",
        "Complete 10 lessons.",
        "action_count",
        "lesson.completed",
        10,
        50,
        "books",
    ),
    ("quiz-whiz", "Quiz whiz", "Pass 5 quizzes.", "action_count", "quiz.passed", 5, 50, "bulb"),
    ("first-course", "Graduate", "Complete a course.", "courses_completed", "", 1, 100, "cap"),
    ("streak-3", "On a roll", "Learn 3 days in a row.", "streak", "", 3, 30, "flame"),
    ("streak-7", "Week warrior", "Learn 7 days in a row.", "streak", "", 7, 70, "flame"),
    ("level-5", "Level 5", "Reach level 5.", "level", "", 5, 50, "star"),
    (
        "social-butterfly",
        "Social butterfly",
        "Share 10 posts.",
        "action_count",
        "post.created",
        10,
        20,
        "chat",
    ),
    (
        "weekly-champion",
        "Weekly champion",
        "Top the weekly leaderboard.",
        "weekly_champion",
        "",
        1,
        100,
        "trophy",
    ),
]


def defaults_ensure(*, rule_model, achievement_model) -> None:
    """Create the default rules and achievements that are missing; never changes existing ones
    (admins edit them freely; deactivate rather than delete, or they come back on migrate)."""
    XPRule, Achievement = rule_model, achievement_model
    for action, points, cap, description in RULES:
        XPRule.objects.get_or_create(
            action=action,
            defaults={"points": points, "daily_cap": cap, "description": description},
        )
    for code, name, description, criterion, action, threshold, reward, icon in ACHIEVEMENTS:
        Achievement.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "criterion": criterion,
                "action": action,
                "threshold": threshold,
                "xp_reward": reward,
                "icon": icon,
            },
        )
