"""The flow execution engine: graph, validation, scheduling, executors, providers, prompts."""
