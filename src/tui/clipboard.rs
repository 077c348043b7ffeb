//! Copying to the terminal's clipboard with OSC 52, which also works over SSH and in tmux
//! (with `set-clipboard on`): the terminal, not this process, owns the clipboard.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Largest text sent: many terminals drop longer OSC 52 sequences whole.
pub const MAX_BYTES: usize = 100_000;

/// The escape sequence that puts `text` on the clipboard (`c` selection). Text is cut at a
/// character boundary below [`MAX_BYTES`]; base64 keeps anything in it from being read as a
/// terminal control sequence.
pub fn osc52(text: &str) -> String {
    let mut end = text.len().min(MAX_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("\x1b]52;c;{}\x07", STANDARD.encode(&text.as_bytes()[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_text_as_base64_in_an_osc52_sequence() {
        assert_eq!(osc52("hi"), "\x1b]52;c;aGk=\x07");
        // An escape inside the copied text is encoded, never passed through.
        let seq = osc52("a\x1b]0;x\x07");
        assert_eq!(seq.matches('\x1b').count(), 1);
    }

    #[test]
    fn long_text_is_cut_at_a_char_boundary() {
        let text = "写".repeat(MAX_BYTES);
        let seq = osc52(&text);
        let body = &seq["\x1b]52;c;".len()..seq.len() - 1];
        let decoded = STANDARD.decode(body).unwrap_or_default();
        assert!(decoded.len() <= MAX_BYTES && !decoded.is_empty());
        assert!(String::from_utf8(decoded).is_ok());
    }
}
