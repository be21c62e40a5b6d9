"""The bodies the web API reads and writes, validated by pydantic.

Every limit here matches the column it fills, so input that passes validation
can always be stored, and input that cannot be stored is refused with a
message naming the field, before it reaches the database.
"""

from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

# No control characters (Unicode category Cc: PostgreSQL refuses NUL, and none
# belongs in a name), and at least one character that is not a space. A pattern,
# not code, so the OpenAPI description states the rule to every client.
CONTROL = r"\x00-\x1f\x7f-\x9f"
NAME_PATTERN = rf"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$"

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NAME_PATTERN)]


def any_case(word: str) -> str:
    """``test`` as the regular expression ``[tT][eE][sS][tT]``: JSON Schema has no flags."""
    return "".join(f"[{letter}{letter.upper()}]" for letter in word)


# email-validator (what pydantic's EmailStr runs) refuses addresses at reserved
# domains (.test, .local, .invalid, ...); the OpenAPI description says so too,
# so clients and generated tests know the rule rather than meet it.
RESERVED_DOMAIN = rf"[.@]({'|'.join(map(any_case, SPECIAL_USE_DOMAIN_NAMES))})$"

Email = Annotated[EmailStr, Field(json_schema_extra={"not": {"pattern": RESERVED_DOMAIN}})]


class NewUser(BaseModel):
    """``POST /users``: unknown fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str


class UserCreated(BaseModel):
    """The new user's id, and the id of the task sent about it."""

    id: int
    task_id: str


class TaskStatus(BaseModel):
    """A task as the result backend knows it.

    ``state`` is PENDING for a task not started yet and for an id no task has:
    Celery cannot tell the two apart.
    """

    id: str
    state: str
    retries: int | None = None
    result: Any = None
    error: str | None = None


class Problem(BaseModel):
    """Every error answer: what went wrong, in words."""

    detail: str
