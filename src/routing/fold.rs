//! Folding a message before matching: ASCII letters to lowercase, and Traditional Chinese
//! characters (many Taiwan and Hong Kong forms among them) to Simplified, so one lexicon and one
//! crisis model serve 我想自殺 as they serve 我想自杀.
//!
//! A character is only ever replaced by one of the same UTF-8 length, so every byte offset in
//! the folded text is the same offset in the original: matches index the original message
//! and evidence quotes what the person wrote. The mapping is OpenCC's character table (via
//! `hanconv`), one character at a time: phrase-level conversion would change lengths, and for
//! matching concepts the character is what counts.

use hanconv::RawDictionary;

/// The code points the table covers: CJK Extension A and the Unified Ideographs, where every
/// character is three bytes in UTF-8 and nearly every Traditional form lives.
const FIRST: u32 = 0x3400;
const LAST: u32 = 0x9FFF;
/// UTF-8 lead bytes of three-byte characters from U+3000 to U+9FFF.
const LEAD_BYTES: std::ops::RangeInclusive<u8> = 0xE3..=0xE9;

/// The folding table, built once with the lexicon.
#[derive(Clone)]
pub struct Fold {
    /// Per code point from `FIRST`: its Simplified form, or `'\0'` when it stays as it is.
    table: Box<[char]>,
    /// Bit `i` set when code point `FIRST + i` has a Simplified form. Simplified text rarely
    /// has any, so each character is checked against these 3.5 KB (which stay in the L1
    /// cache) and the 110 KB table is only read for a real swap.
    mapped: Box<[u64]>,
}

impl std::fmt::Debug for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mapped: u32 = self.mapped.iter().map(|w| w.count_ones()).sum();
        write!(f, "Fold {{ {mapped} characters }}")
    }
}

impl Default for Fold {
    fn default() -> Self {
        Fold::new()
    }
}

impl Fold {
    pub fn new() -> Fold {
        let mut table = vec!['\0'; (LAST - FIRST + 1) as usize].into_boxed_slice();
        // A character that is itself some entry's Simplified form is written as Simplified
        // text too (OpenCC maps 苧 to 苎, yet 苧 is also the simplified 薴): leave it alone.
        let simplified: std::collections::HashSet<&str> = RawDictionary::TSCharacters
            .iter()
            .map(|(_, to)| to)
            .collect();
        for (from, to) in RawDictionary::TSCharacters.iter() {
            let (Some(from), Some(to)) = (single_char(from), single_char(to)) else {
                continue;
            };
            let slot = (from as u32).wrapping_sub(FIRST) as usize;
            if from != to
                && from.len_utf8() == to.len_utf8()
                && slot < table.len()
                && !simplified.contains(from.encode_utf8(&mut [0; 4]) as &str)
            {
                table[slot] = to;
            }
        }
        let mut mapped = vec![0u64; table.len().div_ceil(64)].into_boxed_slice();
        for (slot, _) in table.iter().enumerate().filter(|(_, c)| **c != '\0') {
            mapped[slot / 64] |= 1 << (slot % 64);
        }
        Fold { table, mapped }
    }

    /// `text` lowercased (ASCII) and in Simplified Chinese, byte offsets unchanged.
    pub fn fold(&self, text: &str) -> String {
        let mut folded = text.to_ascii_lowercase();
        if text.is_ascii() {
            return folded;
        }
        // Found first, swapped after: most Chinese text needs no swap at all, and swapping in
        // place on the `String` keeps it valid without re-checking 2 KB of UTF-8. A byte in
        // `LEAD_BYTES` is never a continuation byte, and the three bytes it starts are one
        // character, so the loop steps over them at once.
        let bytes = text.as_bytes();
        let mut swaps: Vec<(usize, char)> = Vec::new();
        let mut at = 0;
        while at + 2 < bytes.len() {
            let lead = bytes[at];
            if !LEAD_BYTES.contains(&lead) {
                at += 1;
                continue;
            }
            let code = (u32::from(lead & 0x0F) << 12)
                | (u32::from(bytes[at + 1] & 0x3F) << 6)
                | u32::from(bytes[at + 2] & 0x3F);
            let slot = code.wrapping_sub(FIRST) as usize;
            if slot < self.table.len() && (self.mapped[slot / 64] >> (slot % 64)) & 1 == 1 {
                swaps.push((at, self.table[slot]));
            }
            at += 3;
        }
        let mut buf = [0u8; 4];
        for (at, to) in swaps {
            folded.replace_range(at..at + 3, to.encode_utf8(&mut buf));
        }
        folded
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_folds_to_simplified_with_offsets_kept() {
        let fold = Fold::new();
        for (traditional, simplified) in [
            ("我想自殺", "我想自杀"),
            ("我想結束自己的生命", "我想结束自己的生命"),
            ("我割脈了，一直在自殘", "我割脉了，一直在自残"),
            ("唔想再生存，想輕生", "唔想再生存，想轻生"),
            // Taiwan forms.
            ("裡面", "里面"),
            ("偽裝", "伪装"),
        ] {
            let folded = fold.fold(traditional);
            assert_eq!(folded, simplified);
            assert_eq!(folded.len(), traditional.len());
        }
    }

    #[test]
    fn simplified_english_and_other_scripts_are_left_alone_but_lowercased() {
        let fold = Fold::new();
        let text = "I Want 什么都不想做, café naïve 🙂 ñ — 抬头 苧麻 ok";
        assert_eq!(fold.fold(text), text.to_ascii_lowercase());
    }

    #[test]
    fn folding_is_idempotent_and_total() {
        let fold = Fold::new();
        let folded = fold.fold("這個決定讓我很糾結，兩個offer都想要");
        assert_eq!(fold.fold(&folded), folded);
        assert_eq!(folded, "这个决定让我很纠结，两个offer都想要");
        assert_eq!(fold.fold(""), "");
        // A Traditional character right at the end.
        assert_eq!(fold.fold("abc\u{6bba}"), "abc杀");
    }
}
