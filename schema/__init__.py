"""The GraphQL surface: Strawberry types, inputs, enums, the context and the assembled schema."""
