"""Shared plumbing every stage imports: errors, config base and YAML loading, atomic writes,
paths and random streams. Nothing here knows about faces, renders, Ray or training."""
