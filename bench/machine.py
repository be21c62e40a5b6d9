"""The machine, software and servers a benchmark ran on, so its figures can be compared."""

import os
import platform
import sqlite3
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
from my_service.celery import app
from sqlalchemy import NullPool, create_engine, text
from sqlalchemy.engine import make_url

PACKAGES = ("celery", "kombu", "sqlalchemy", "redis", "psycopg", "pymysql", "alembic", "psutil")


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def operating_system() -> str:
    os_release = Path("/etc/os-release")
    if os_release.exists():
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return f"{line.split('=', 1)[1].strip(chr(34))} ({platform.release()})"
    return platform.platform()


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. no redis client with RabbitMQ, no psycopg with MySQL
    return versions


def database_server_version(database_url: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return f"SQLite {sqlite3.sqlite_version} (no server)"
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if url.get_backend_name() == "postgresql":
                return f"PostgreSQL {connection.execute(text('SHOW server_version')).scalar_one()}"
            return f"MySQL/MariaDB {connection.execute(text('SELECT VERSION()')).scalar_one()}"
    finally:
        engine.dispose()


def broker_server_version() -> str:
    """Redis's ``INFO``, RabbitMQ's connection properties; the transport name otherwise."""
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        transport = connection.transport_cls
        if transport in ("redis", "rediss"):
            channel: Any = connection.default_channel
            return f"Redis {channel.client.info()['redis_version']}"
        if transport in ("amqp", "pyamqp", "amqps"):
            properties: dict[str, Any] = connection.connection.server_properties
            product = properties.get("product", "AMQP")
            return f"{product!s} {properties.get('version', '?')!s}"
        return f"{transport} (embedded)"


def describe(database_url: str) -> dict[str, Any]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": operating_system(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "database_server": database_server_version(database_url),
        "broker_server": broker_server_version(),
        # Other work on the machine skews every figure; this says how busy it was.
        "load_average_at_start": [round(load, 2) for load in os.getloadavg()],
    }
