"""Thin resolvers: parse the input, authorize, call a service, map the result to a type."""
