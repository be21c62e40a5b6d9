"""What a route can ask FastAPI for."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.orm import Session

from ..db import session_factory


def get_session() -> Iterator[Session]:
    """A session of the request's own, closed when the request ends."""
    with session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
