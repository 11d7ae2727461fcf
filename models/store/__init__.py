"""Model registry: where models live, how they are fetched and verified."""
