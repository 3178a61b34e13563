"""Employees who sign in: password hashing, roles, and what each role may do.

Passwords are hashed with Argon2id (argon2-cffi). A `User` is the signed-in
employee as the pages see it: who, which legal entity, which role, which language.
"""

from dataclasses import dataclass
from enum import StrEnum

import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.models import Employee, OrgUnit

log = structlog.get_logger(__name__)

_hasher = PasswordHasher()

#: A hash verified when the login is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


def configure_hasher(time_cost: int, memory_cost: int) -> None:
    """Use other Argon2 costs from now on (tests make hashing cheap this way)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
    _DUMMY_HASH = _hasher.hash("not a password of anyone")


MIN_PASSWORD_LENGTH = 10
LANGUAGES = ("sl", "en")


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Permission(StrEnum):
    WORK_TICKETS = "work_tickets"  # read and change the entity's tickets, reply, close
    ASSIGN_OTHERS = "assign_others"  # give a ticket to another agent
    SEE_TEAM = "see_team"  # the team's presence and load
    MANAGE_USERS = "manage_users"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.AGENT: frozenset({Permission.WORK_TICKETS}),
    Role.SUPERVISOR: frozenset(
        {Permission.WORK_TICKETS, Permission.ASSIGN_OTHERS, Permission.SEE_TEAM}
    ),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class User:
    """The signed-in employee."""

    id: int
    login: str
    full_name: str
    role: Role
    legal_entity: str
    org_unit: str
    language: str = "sl"

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


class PasswordTooShort(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Tell whether `password` matches; an absent hash never matches but costs the same."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def authenticate(session: AsyncSession, login: str, password: str) -> Employee | None:
    """Return the active employee whose login and password these are, else None."""
    employee = await session.scalar(select(Employee).where(Employee.login == login.strip()))
    stored = employee.password_hash if employee is not None and employee.active else None
    if not check_password(stored, password):
        return None
    assert employee is not None
    if _hasher.check_needs_rehash(employee.password_hash or ""):
        employee.password_hash = _hasher.hash(password)
    return employee


async def add_employee(
    session: AsyncSession,
    *,
    login: str,
    password: str,
    role: Role,
    legal_entity: str,
    org_unit: OrgUnit,
    full_name: str | None = None,
    email: str | None = None,
    languages: list[str] | None = None,
) -> Employee:
    """Create an employee who can sign in; the login must be new."""
    employee = Employee(
        login=login,
        full_name=full_name or login,
        email=email,
        role=role,
        legal_entity=legal_entity,
        org_unit=org_unit,
        languages=languages or ["sl"],
        password_hash=hash_password(password),
    )
    session.add(employee)
    await session.flush()
    log.info("employee_added", employee_id=employee.id, role=role, legal_entity=legal_entity)
    return employee
