"""Performance harness. Each module is a command: `uv run python -m benchmarks.<name>`."""
