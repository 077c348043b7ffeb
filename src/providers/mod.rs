//! Model providers: Anthropic Messages, OpenAI-compatible chat, the offline coach.
