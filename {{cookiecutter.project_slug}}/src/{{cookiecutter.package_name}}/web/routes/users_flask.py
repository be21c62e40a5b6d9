"""``/users``: sign a user up, read one back."""

from flask import Blueprint, Response, jsonify, request

from ...db import db_session
from ...models import User
from ..idempotent_post import commit_answer, idempotent_post
from ..problems import problem
from ..user_registration import EmailTaken, register_user
from ..user_schemas import NewUser, UserCreated, UserOut

blueprint = Blueprint("users", __name__, url_prefix="/users")


@blueprint.post("")
@idempotent_post
def create_user() -> tuple[Response, int]:
    """Create a user, and look it up with a task sent once the user is committed."""
    if not request.is_json:
        return problem("send the user as JSON, with Content-Type: application/json", 415)
    new_user = NewUser.model_validate_json(request.get_data())
    try:
        user, result = register_user(db_session(), new_user.name, new_user.email)
    except EmailTaken as error:
        return problem(f"a user with email {error} already exists", 409)
    return commit_answer(UserCreated(id=user.id, task_id=result.id).model_dump(), 201)


# users.id is a 32-bit integer on every database.
@blueprint.get("/<int(min=1, max=2147483647):user_id>")
def read_user(user_id: int) -> tuple[Response, int]:
    user = db_session.get(User, user_id)
    if user is None:
        return problem(f"no user with id {user_id}", 404)
    return jsonify(UserOut.model_validate(user).model_dump()), 200
