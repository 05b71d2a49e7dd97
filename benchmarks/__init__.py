"""Performance harness (SPEC section 12). Each module is a command: `uv run python -m benchmarks.<name>`."""
