//! Strips terminal control sequences from untrusted text (model output) before display.
//!
//! Model output can contain escape sequences that a terminal would obey: OSC 52 writes the
//! clipboard, OSC 8 hides links, CSI moves the cursor or repaints the screen, DCS talks to
//! the terminal itself. Everything that is not printable text, a newline or a tab is removed.
//! A sequence cut off at the end of the input is dropped whole, so a stream that stops in the
//! middle of one never leaks its start.

use std::borrow::Cow;

const ESC: char = '\u{1b}';
const BEL: char = '\u{07}';
/// String terminator as a single C1 code point.
const ST_C1: char = '\u{9c}';

/// Removes ANSI CSI/OSC/DCS/SOS/PM/APC and other ESC sequences, and every C0/C1 control
/// character except `\n` and `\t`. Returns the input borrowed when it is already clean.
pub fn strip_controls(s: &str) -> Cow<'_, str> {
    match s.char_indices().find(|&(_, c)| is_unwanted(c)) {
        None => Cow::Borrowed(s),
        Some((first, _)) => {
            let mut out = String::with_capacity(s.len());
            out.push_str(&s[..first]);
            strip_into(&s[first..], &mut out);
            Cow::Owned(out)
        }
    }
}

fn is_unwanted(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_c1(c)
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

fn strip_into(s: &str, out: &mut String) {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']') => skip_string(&mut chars),
                Some('P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // SS2/SS3 select one character from another set: drop that character too.
                Some('N' | 'O') => {
                    chars.next();
                }
                // nF sequences (charset designation and the like): intermediates, then a final.
                Some(c) if ('\u{20}'..='\u{2f}').contains(&c) => {
                    while chars
                        .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
                        .is_some()
                    {}
                    chars.next();
                }
                // Any other two-character sequence (ESC 7, ESC c, ESC =) or a lone ESC.
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' => skip_string(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if is_unwanted(c) => {}
            c => out.push(c),
        }
    }
}

/// Skips parameter and intermediate bytes up to and including the final byte.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(&c) = chars.peek() {
        match c {
            '\u{30}'..='\u{3f}' | '\u{20}'..='\u{2f}' => {
                chars.next();
            }
            '\u{40}'..='\u{7e}' => {
                chars.next();
                return;
            }
            // Malformed: stop here and let the caller judge this character on its own.
            _ => return,
        }
    }
}

/// Skips an OSC/DCS/SOS/PM/APC body up to its terminator. OSC ends with BEL or ST; the others
/// should end with ST, but several terminals accept BEL for them too, so both end any of them.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            BEL | ST_C1 => return,
            ESC => {
                // ESC \ is the string terminator; any other ESC aborts the string and is
                // itself dropped with the character after it.
                chars.next();
                return;
            }
            _ => {}
        }
    }
}

/// Expands tabs to spaces up to the next multiple of `tab_width` columns, for display.
pub fn expand_tabs(s: &str, tab_width: usize) -> Cow<'_, str> {
    if !s.contains('\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut col = 0usize;
    for c in s.chars() {
        match c {
            '\t' => {
                let n = tab_width - (col % tab_width);
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            '\n' => {
                out.push(c);
                col = 0;
            }
            c => {
                out.push(c);
                col += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        let s = "plain text\nwith a tab\tand 中文";
        assert!(matches!(strip_controls(s), Cow::Borrowed(_)));
        assert_eq!(strip_controls(s), s);
    }

    #[test]
    fn osc52_bel_terminated_is_removed() {
        let s = "before\x1b]52;c;ZXZpbA==\x07after";
        assert_eq!(strip_controls(s), "beforeafter");
    }

    #[test]
    fn osc52_st_terminated_is_removed() {
        let s = "before\x1b]52;c;ZXZpbA==\x1b\\after";
        assert_eq!(strip_controls(s), "beforeafter");
        let c1 = "x\u{9d}52;c;AAAA\u{9c}y";
        assert_eq!(strip_controls(c1), "xy");
    }

    #[test]
    fn osc8_hyperlink_keeps_only_visible_text() {
        let s = "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\";
        assert_eq!(strip_controls(s), "click");
    }

    #[test]
    fn csi_sequences_are_removed() {
        assert_eq!(strip_controls("\x1b[31mred\x1b[0m"), "red");
        assert_eq!(strip_controls("a\x1b[2J\x1b[H\x1b[?1049hb"), "ab");
        assert_eq!(strip_controls("a\u{9b}31mb"), "ab");
    }

    #[test]
    fn dcs_and_other_escapes_are_removed() {
        assert_eq!(strip_controls("a\x1bP1$qm\x1b\\b"), "ab");
        assert_eq!(strip_controls("a\x1b_apc\x1b\\b"), "ab");
        assert_eq!(strip_controls("a\x1bcb"), "ab");
        assert_eq!(strip_controls("a\x1b(Bb"), "ab");
        assert_eq!(strip_controls("a\x1b7b\x1b8"), "ab");
    }

    #[test]
    fn c0_and_c1_controls_are_removed_but_newline_and_tab_kept() {
        assert_eq!(strip_controls("a\x07b\x08c\rd\x00e\x7ff"), "abcdef");
        assert_eq!(strip_controls("a\u{85}b\u{8d}c"), "abc");
        assert_eq!(
            strip_controls("line\n\tindented\x1b[1m"),
            "line\n\tindented"
        );
    }

    #[test]
    fn sequence_cut_at_end_is_dropped_whole() {
        assert_eq!(strip_controls("ok\x1b]52;c;AAAA"), "ok");
        assert_eq!(strip_controls("ok\x1b["), "ok");
        assert_eq!(strip_controls("ok\x1b"), "ok");
    }

    #[test]
    fn chinese_and_emoji_are_untouched() {
        let s = "我想换工作，但是害怕失败。🙂";
        assert_eq!(strip_controls(s), s);
        assert_eq!(strip_controls("\x1b[1m我想\x1b[0m换工作"), "我想换工作");
    }

    #[test]
    fn tabs_expand_to_next_stop() {
        assert_eq!(expand_tabs("a\tb", 4), "a   b");
        assert_eq!(expand_tabs("\tx\n12345\ty", 4), "    x\n12345   y");
        assert_eq!(expand_tabs("中\tx", 4), "中  x");
    }
}
