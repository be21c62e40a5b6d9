"""The relay through an outage of its database or its broker: alive and saying why, then publishing.

A restart would not bring either server back: the relay tries again every
OUTBOX_RELAY_EVERY, beating before each try (``outbox/loop.py``), and the
probe says what it waits for. Each server is cut behind a TCP proxy of the
test's own for three probe windows; a relay that hangs is still dead.
"""

from pathlib import Path

from sqlalchemy.orm import Session, scoped_session

from {{ cookiecutter.package_name }}.outbox import add_to_outbox

from ..support.environment import TMP_DIR
from ..support.liveness import OUTAGE, alive, assert_alive_saying, heartbeat_env, hung, probes_for
from ..support.outbox_state import new_record, stored
from ..support.probe_tasks import read_record
from ..support.processes import running_relay
from ..support.tcp_proxy import TcpProxy
from ..support.waiting import wait_until


def relay_rides_out(
    session: scoped_session[Session], proxy: TcpProxy, env: dict[str, str], reason: str
) -> None:
    """Cut ``proxy`` for three probe windows with a message waiting; once back, it is sent."""
    heartbeat = env["HEARTBEAT_FILE"]
    with running_relay(TMP_DIR / f"relay-{reason.split()[-1]}-outage.log", env) as relay:
        wait_until(lambda: alive(heartbeat), "the relay's first heartbeat")
        proxy.stop()
        task_id = add_to_outbox(session, read_record.name, [new_record(session).id])
        session.commit()
        answers = probes_for(heartbeat, OUTAGE)
        proxy.start()
        wait_until(lambda: stored(task_id).sent_at is not None, "the relay to send it")
        assert not relay.exited(), relay.log()
        with hung(relay):
            wait_until(lambda: not alive(heartbeat), "the probe to call it dead")
        assert "relaying again" in relay.log()
    assert_alive_saying(answers, f"waiting for {reason} since")


def test_the_relay_is_alive_while_its_database_is_away_and_publishes_after(
    session: scoped_session[Session], database_url: str, database_proxy: TcpProxy, tmp_path: Path
) -> None:
    env = heartbeat_env(str(tmp_path / "heartbeat")) | {
        "DATABASE_URL": database_proxy.url_through(database_url),
        "OUTBOX_RELAY_EVERY": "0.2",
    }
    relay_rides_out(session, database_proxy, env, "the database")


def test_the_relay_is_alive_while_its_broker_is_away_and_publishes_after(
    session: scoped_session[Session], broker_server: str, tmp_path: Path
) -> None:
    with TcpProxy.in_front_of(broker_server) as proxy:
        env = heartbeat_env(str(tmp_path / "heartbeat")) | {
            "CELERY_BROKER_URL": proxy.url_through(broker_server),
            "OUTBOX_RELAY_EVERY": "0.2",
        }
        relay_rides_out(session, proxy, env, "the broker")
