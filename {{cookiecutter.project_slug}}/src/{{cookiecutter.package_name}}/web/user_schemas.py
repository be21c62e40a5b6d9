"""The bodies of ``/users``: what a request sends and what it gets back.

Every limit matches the column it fills: what passes validation can be stored.
"""

from typing import Annotated

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

# No control characters (a database may refuse NUL), and one character that is
# not a space. A pattern, so the OpenAPI description states the rule.
CONTROL = r"\x00-\x1f\x7f-\x9f"
NAME_PATTERN = rf"^[^{CONTROL}]*[^\s{CONTROL}][^{CONTROL}]*$"

Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NAME_PATTERN)]


def any_case(word: str) -> str:
    """``test`` as ``[tT][eE][sS][tT]``: JSON Schema patterns have no flags."""
    return "".join(f"[{letter}{letter.upper()}]" for letter in word)


# email-validator refuses reserved domains (.test, .local, ...); saying so in
# the OpenAPI description lets clients and generated tests know the rule.
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
    id: int
    task_id: str
