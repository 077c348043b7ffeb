//! Settings: file + env + flags, validated.
