"""Persistence (SQLAlchemy; SQLite by default, PostgreSQL by URL), audit log."""
