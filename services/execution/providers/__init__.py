"""Provider clients the engine calls: OpenAI-compatible text, Anthropic text, Fireworks images."""
