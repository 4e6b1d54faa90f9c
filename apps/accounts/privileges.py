"""Who may grant what: the one rule every path that changes a person's access asks.

- A superuser may change anyone and grant anything.
- A role admin (the `admin` role: accounts.manage_roles) manages learners and instructors
  only: accounts that are not staff, not superusers and hold no role beyond student and
  instructor. They may grant those two roles and nothing else; they never edit is_staff,
  is_superuser, permissions or passwords of staff, and never their own account.
- Everyone else changes no one's access.

The Django admin (apps.accounts.admin), the roles API and the services behind both ask
`may_manage` / `grantable_roles`; nothing else decides.
"""

from . import roles

# The roles a role admin may hold out and take back; more than these is staff business.
LEARNER_ROLES = frozenset({roles.STUDENT, roles.INSTRUCTOR})


def _role_names(user) -> set[str]:
    return {group.name for group in user.groups.all()}


def is_privileged(user) -> bool:
    """An account only a superuser may change: staff, superusers, moderators and admins."""
    return user.is_superuser or user.is_staff or bool(_role_names(user) - LEARNER_ROLES)


def grantable_roles(actor) -> frozenset[str]:
    if actor.is_active and actor.is_superuser:
        return frozenset(roles.ALL_ROLES)
    if actor.has_perm("accounts.manage_roles"):
        return LEARNER_ROLES
    return frozenset()


def may_manage(actor, target) -> bool:
    """May `actor` change `target`'s account (profile, roles, password, activation)?"""
    if actor.is_active and actor.is_superuser:
        return True
    if not actor.has_perm("accounts.manage_roles") or actor.pk == target.pk:
        return False
    return not is_privileged(target)
