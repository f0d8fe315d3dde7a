"""Storage: SQLAlchemy Core tables, Alembic migrations and the queries the controller needs."""
