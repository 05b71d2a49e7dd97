"""Fixtures for tests that go through the GraphQL API (filled in with the app)."""
