"""The engine's options for each kind of database."""

from {{ cookiecutter.package_name }}.database.engine import engine_options


def test_sqlite_files_get_a_sized_pool_and_memory_does_not() -> None:
    assert "pool_pre_ping" not in engine_options("sqlite:///app.sqlite3")
    assert "pool_size" in engine_options("sqlite:///app.sqlite3")
    assert "pool_size" not in engine_options("sqlite://")
