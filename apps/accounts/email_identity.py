"""One canonical form of an email address: the account's identity.

Two spellings name the same account exactly when their canonical forms are equal. The form is
Unicode NFKC, then full case folding, then NFKC again (Unicode's NFKC_Casefold, in effect):
compatibility characters become their plain letters (fullwidth letters, the Kelvin sign
U+212A, the ligature U+FB01), case goes (U+017F long s folds to `s`, sharp s to `ss`), and
composed and decomposed accents meet. It is stored in `User.email_canonical` (UNIQUE) and
every lookup, lockout key, reset and resend goes through it.

Some look-alikes are not the same canonical string (dotless i U+0131, dotted I U+0130,
Cyrillic and Greek letters). New addresses must therefore be ASCII once canonical: whatever
folds to ASCII is the same account as its ASCII spelling, and whatever does not is refused at
registration, so no non-ASCII look-alike of an account can be created (mail to non-ASCII
local parts needs SMTPUTF8, which the mail path does not promise). The domain is kept in its
ASCII IDNA form (`xn--`): `café.test` and `xn--caf-dma.test` are one domain, and a domain
spelled with look-alike letters is stored and shown as its `xn--` form, another mailbox that
looks like no one's (browsers treat homograph domains the same way). ASCII look-alikes such
as `rn`/`m` or `l`/`1` are different mailboxes and stay allowed: a TR39 skeleton check would
refuse real addresses and guards nothing, since a distinct canonical string can never sign in
to, or lock, another account.
"""

import contextlib
import unicodedata

from django.core.exceptions import ValidationError


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def canonical_email(raw: str | None) -> str:
    local, at, domain = _fold((raw or "").strip()).rpartition("@")
    if not at:
        return domain  # not an address; folded all the same (a lockout key, say)
    # The ASCII form of the domain (IDNA, as Django's email validator and mail sending use);
    # a name that is no valid domain stays folded, so it is never registrable.
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def registrable_email(raw: str) -> str:
    """The canonical form of an address a new account may use; ValidationError otherwise."""
    email = canonical_email(raw)
    if not email.isascii():
        raise ValidationError(
            "Use an address written in plain ASCII letters (an international domain in its "
            "xn-- form).",
            code="email_not_ascii",
        )
    return email
