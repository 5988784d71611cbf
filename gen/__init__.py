"""Identity models: import, sampling, appearance and expressions."""
