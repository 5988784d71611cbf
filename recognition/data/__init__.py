"""Training data readers (Parquet shards, insightface RecordIO, image folders) and their mixing."""
