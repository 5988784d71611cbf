"""The Ray job: actors, exactly-once Parquet shards, CLI and submission."""
