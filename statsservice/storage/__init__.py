"""Storage layer: SQLAlchemy models and the queries that read and write them."""
