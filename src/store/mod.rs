//! The SQLite store: schema, migrations, queries, full-text search, stats.
