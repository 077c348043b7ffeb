//! Folding a message before matching: ASCII letters to lowercase, and Traditional Chinese
//! characters (Taiwan and Hong Kong forms included) to Simplified, so one lexicon and one
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

/// The folding table, built once with the lexicon (about 110 KB).
#[derive(Clone)]
pub struct Fold {
    /// Per code point from `FIRST`: its Simplified form, or `'\0'` when it stays as it is.
    table: Box<[char]>,
}

impl std::fmt::Debug for Fold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mapped = self.table.iter().filter(|&&c| c != '\0').count();
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
        Fold { table }
    }

    /// `text` lowercased (ASCII) and in Simplified Chinese, byte offsets unchanged.
    pub fn fold(&self, text: &str) -> String {
        let mut bytes = text.as_bytes().to_ascii_lowercase();
        let mut i = 0;
        while i < bytes.len() {
            let lead = bytes[i];
            if lead < 0x80 {
                i += 1;
                continue;
            }
            let width = utf8_width(lead);
            if LEAD_BYTES.contains(&lead) && i + 2 < bytes.len() {
                let code = (u32::from(lead & 0x0F) << 12)
                    | (u32::from(bytes[i + 1] & 0x3F) << 6)
                    | u32::from(bytes[i + 2] & 0x3F);
                if let Some(&to) = self.table.get(code.wrapping_sub(FIRST) as usize)
                    && to != '\0'
                {
                    to.encode_utf8(&mut bytes[i..i + 3]);
                }
            }
            i += width;
        }
        // Only whole three-byte characters were swapped for three-byte characters, so the
        // bytes are still UTF-8; the fallback keeps a broken invariant from ever panicking.
        String::from_utf8(bytes).unwrap_or_else(|_| text.to_ascii_lowercase())
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

/// Bytes in the UTF-8 character that starts with `lead` (1 for a stray continuation byte,
/// which valid text never starts a character with).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xF0..=0xF7 => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
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
