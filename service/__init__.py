"""awaterra's bundled API: Starlette, SQLAlchemy (asyncpg/aiosqlite), signed media URLs."""

__version__ = "0.1.0"
