//! A ClickHouse table as Airlock reads it from the engine's own catalog.
