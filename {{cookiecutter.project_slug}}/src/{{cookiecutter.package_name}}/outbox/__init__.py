"""The transactional outbox: a task is sent if, and only if, its transaction commits.

    session.add(user)
    session.flush()  # gives user.id
    add_to_outbox(session, "{{ cookiecutter.package_name }}.tasks.get_from_db", [user.id])
    session.commit()  # the user and the message, or neither

The relay, ``python -m {{ cookiecutter.package_name }}.relay`` (``make relay``), publishes
committed messages until the broker has them: at least once, so tasks sent
this way must be idempotent. docs/design.md, "Transactional outbox", has the rest.
"""

from .model import OutboxMessage
from .writer import add_to_outbox

__all__ = ["OutboxMessage", "add_to_outbox"]
