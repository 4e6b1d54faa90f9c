"""A password validator that refuses what is easy to guess, not only what is short or listed.

Django's validators pass "            " and "aaaaaaaaaaaa" (long enough, on no list). zxcvbn
estimates how many guesses a password takes, seeing repeats, sequences, keyboard patterns,
dates, common words and the person's own email and name; Lyo asks for a score of 3 ("safely
unguessable": about 10^8 guesses or more) and composes no rules (OWASP ASVS 5.0, 6.2).
It is one entry of AUTH_PASSWORD_VALIDATORS, so registration, password change and reset (API
and browser) and the admin all use it.
"""

import threading

from django.core.exceptions import ValidationError
from zxcvbn import zxcvbn

# zxcvbn scores at most this many characters (it refuses longer input); a longer password is
# judged by its beginning, which must already be hard to guess.
SCORED_LENGTH = 72
# zxcvbn keeps the user inputs of a call in a module global: one call at a time per process.
_scoring = threading.Lock()


class PasswordStrengthValidator:
    def __init__(self, min_score: int = 3):
        self.min_score = min_score

    def validate(self, password: str, user=None) -> None:
        inputs = []
        if user is not None:
            email = getattr(user, "email", "") or ""
            inputs = [email, email.split("@", 1)[0], getattr(user, "display_name", "") or ""]
        with _scoring:
            result = zxcvbn(password[:SCORED_LENGTH], user_inputs=[i for i in inputs if i])
        if result["score"] >= self.min_score:
            return
        feedback = result["feedback"]
        hints = " ".join(filter(None, [feedback.get("warning"), *feedback.get("suggestions", [])]))
        raise ValidationError(
            "This password is too easy to guess. %(hints)s",
            code="password_too_guessable",
            params={"hints": hints or "Use a few uncommon words."},
        )

    def get_help_text(self) -> str:
        return (
            "Your password must be hard to guess: no repeated characters, sequences, keyboard "
            "patterns, common words alone, or your name or email. A few uncommon words work."
        )
