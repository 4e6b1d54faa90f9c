"""Roles are Django Groups; what each may do is the permissions listed here.

Views never check group names: they check permissions (apps.accounts.permissions).
"""

STUDENT = "student"
INSTRUCTOR = "instructor"
MODERATOR = "moderator"
ADMIN = "admin"
ALL_ROLES = (STUDENT, INSTRUCTOR, MODERATOR, ADMIN)
DEFAULT_ROLE = STUDENT
# Roles that may open the Django admin (staff flag follows the role).
STAFF_ROLES = frozenset({ADMIN})
