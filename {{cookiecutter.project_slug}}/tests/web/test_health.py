"""``GET /health`` names the server that does not answer, and recovers with it.

Meanwhile ``GET /health/ready`` stays 200: every pod shares these servers, and
a pod taken out of the Service for them would only take its reads with it.
"""

import time

import pytest

from ..support.tcp_proxy import TcpProxy
from ..support.waiting import wait_until
from ..support.web_server import HEALTH_WITHIN, READY_WITHIN, web_server


def health_follows(proxy: TcpProxy, env: dict[str, str], server: str) -> None:
    """/health is 200, then 503 naming ``server`` while ``proxy`` is stopped, then 200 again."""
    with web_server(f"health-{server}", env) as web, web.client() as client:
        assert client.get("/health").json() == {"database": "ok", "broker": "ok"}

        proxy.stop()
        started = time.monotonic()
        down = client.get("/health")
        assert time.monotonic() - started < HEALTH_WITHIN
        assert down.status_code == 503
        assert down.json() == {"database": "ok", "broker": "ok", server: "unavailable"}
        assert client.get("/health/ready", timeout=READY_WITHIN).status_code == 200

        proxy.start()
        wait_until(lambda: client.get("/health").status_code == 200, "/health to answer 200 again")


@pytest.mark.usefixtures("broker")
def test_health_turns_503_naming_the_database_while_it_is_unreachable(
    database_url: str, database_proxy: TcpProxy
) -> None:
    env = {"DATABASE_URL": database_proxy.url_through(database_url)}
    health_follows(database_proxy, env, "database")


def test_health_turns_503_naming_the_broker_while_it_is_unreachable(broker_server: str) -> None:
    with TcpProxy.in_front_of(broker_server) as proxy:
        health_follows(proxy, {"CELERY_BROKER_URL": proxy.url_through(broker_server)}, "broker")
