"""``/users``: sign a user up, read one back."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status

from ...models import User
from ..deps import SessionDep
from ..idempotent_post import IDEMPOTENCY_RESPONSES, IdempotentPostDep
from ..schemas import Problem
from ..user_registration import EmailTaken, register_user
from ..user_schemas import NewUser, UserCreated, UserOut

router = APIRouter(prefix="/users")

# users.id is a 32-bit integer on every database.
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        **IDEMPOTENCY_RESPONSES,
        400: {"model": Problem, "description": "The body is not JSON, or a malformed key"},
        409: {"model": Problem, "description": "The email is taken, or the key is in use"},
    },
)
def create_user(new_user: NewUser, session: SessionDep, once: IdempotentPostDep) -> UserCreated:
    """Create a user, and look it up with a task sent once the user is committed."""
    try:
        user, result = register_user(session, new_user.name, new_user.email)
    except EmailTaken as error:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"a user with email {error} already exists"
        ) from error
    return once.commit(UserCreated(id=user.id, task_id=result.id), status.HTTP_201_CREATED)


@router.get("/{user_id}", responses={404: {"model": Problem}})
def read_user(user_id: UserId, session: SessionDep) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user with id {user_id}")
    return UserOut.model_validate(user)
