//! Strips terminal control sequences from untrusted text (model output) before display.
