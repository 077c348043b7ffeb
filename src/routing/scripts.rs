//! Traditional and Simplified Chinese: one lexicon and one crisis model serve 我想自殺 as they
//! serve 我想自杀.
//!
//! The lexicon and the crisis model compile every Chinese phrase in its Traditional spellings
//! too ([`ChineseScripts::traditional_forms`]), so a message is matched as written and a
//! decision pays nothing for the second script. Folding each message to Simplified instead
//! was measured at about 1.5 µs per 2 KB of Chinese text, 15 % of a decision. The trainer
//! goes the other way ([`ChineseScripts::to_simplified`]) so that training text written in
//! Traditional gives the same features as Simplified.
//!
//! The data is OpenCC's character tables (via `hanconv`), used one character at a time:
//! only forms of the same UTF-8 length are kept, so offsets and evidence never shift.

use std::collections::HashMap;

use hanconv::RawDictionary;

/// At most this many Traditional spellings of one phrase.
const MAX_TRADITIONAL_FORMS: usize = 16;

/// The character correspondences between the two scripts, built once per lexicon.
#[derive(Debug, Clone)]
pub struct ChineseScripts {
    /// Traditional character → its Simplified form.
    simplified: HashMap<char, char>,
    /// Simplified character → how Traditional text writes it, OpenCC's forms first (后: 後
    /// 后), then Taiwan and Hong Kong forms (为: 爲 為).
    traditional: HashMap<char, Vec<char>>,
}

impl Default for ChineseScripts {
    fn default() -> Self {
        ChineseScripts::new()
    }
}

impl ChineseScripts {
    pub fn new() -> ChineseScripts {
        // A character that is itself some entry's Simplified form is written as Simplified
        // text too (OpenCC maps 苧 to 苎, yet 苧 is also the simplified 薴): leave it alone.
        let simplified_forms: std::collections::HashSet<&str> = RawDictionary::TSCharacters
            .iter()
            .map(|(_, to)| to)
            .collect();
        let simplified: HashMap<char, char> = RawDictionary::TSCharacters
            .iter()
            .filter(|(from, _)| !simplified_forms.contains(from))
            .filter_map(|(from, to)| Some((single_char(from)?, single_char(to)?)))
            .filter(|(from, to)| from != to && from.len_utf8() == to.len_utf8())
            .collect();
        let mut traditional: HashMap<char, Vec<char>> = HashMap::new();
        for (from, to) in RawDictionary::STCharacters.var_iter() {
            let Some(from) = single_char(from) else {
                continue;
            };
            let forms = to
                .iter()
                .filter_map(|t| single_char(t))
                .filter(|t| t.len_utf8() == from.len_utf8());
            traditional.entry(from).or_default().extend(forms);
        }
        // Taiwan and Hong Kong forms (為, 裡, 偽) are in the Traditional → Simplified table
        // only. Sorted, so hash order never decides which forms a long phrase keeps.
        let mut regional: Vec<(char, char)> = simplified.iter().map(|(&t, &s)| (t, s)).collect();
        regional.sort_unstable();
        for (from, to) in regional {
            let forms = traditional.entry(to).or_default();
            if !forms.contains(&from) {
                forms.push(from);
            }
        }
        ChineseScripts {
            simplified,
            traditional,
        }
    }

    /// `text` with every Traditional character in its Simplified form.
    pub fn to_simplified(&self, text: &str) -> String {
        text.chars()
            .map(|c| self.simplified.get(&c).copied().unwrap_or(c))
            .collect()
    }

    /// The ways `simplified` may be written in Traditional characters: every combination of
    /// each character's Traditional forms (头发 → 頭發, 頭髮; 后 stays a choice of its own),
    /// at most `MAX_TRADITIONAL_FORMS` of them, `simplified` itself not included.
    pub fn traditional_forms(&self, simplified: &str) -> Vec<String> {
        let mut forms = vec![String::with_capacity(simplified.len())];
        for c in simplified.chars() {
            let own = [c];
            let choices = self.traditional.get(&c).map_or(&own[..], Vec::as_slice);
            if forms.len() * choices.len() > MAX_TRADITIONAL_FORMS {
                // Too many combinations: the rest of the phrase keeps each first form only.
                forms.iter_mut().for_each(|f| f.push(choices[0]));
                continue;
            }
            forms = forms
                .iter()
                .flat_map(|f| {
                    choices.iter().map(move |&t| {
                        let mut next = f.clone();
                        next.push(t);
                        next
                    })
                })
                .collect();
        }
        forms.retain(|f| f != simplified);
        forms
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
    fn traditional_text_reads_as_simplified() {
        let scripts = ChineseScripts::new();
        for (traditional, simplified) in [
            ("我想自殺", "我想自杀"),
            ("我想結束自己的生命", "我想结束自己的生命"),
            ("我割脈了，一直在自殘", "我割脉了，一直在自残"),
            ("唔想再生存，想輕生", "唔想再生存，想轻生"),
            // Taiwan forms.
            ("裡面", "里面"),
            ("偽裝", "伪装"),
        ] {
            assert_eq!(scripts.to_simplified(traditional), simplified);
        }
        let other = "I Want 什么都不想做, café 🙂 抬头 苧麻";
        assert_eq!(scripts.to_simplified(other), other);
    }

    #[test]
    fn phrases_get_their_traditional_spellings() {
        let scripts = ChineseScripts::new();
        let forms = |s: &str| {
            let mut f = scripts.traditional_forms(s);
            f.sort();
            f
        };
        assert_eq!(forms("自杀"), ["自殺"]);
        assert_eq!(forms("头发"), ["頭發", "頭髮"]);
        // 后 is also written 后 in Traditional text; Taiwan writes 為 and 裡.
        assert_eq!(forms("安排后事"), ["安排後事"]);
        assert!(forms("因为").contains(&"因爲".to_string()));
        assert!(forms("因为").contains(&"因為".to_string()));
        assert!(forms("心里").contains(&"心裡".to_string()));
        assert!(
            forms("我想结束自己的生命，一了百了")
                .contains(&"我想結束自己的生命，一了百了".to_string())
        );
        assert!(forms("I want to die").is_empty());
        assert!(forms("发发发发发发发发发发").len() <= MAX_TRADITIONAL_FORMS);
        // Every Traditional spelling reads back as the phrase.
        for form in forms("我想自杀，跳楼") {
            assert_eq!(scripts.to_simplified(&form), "我想自杀，跳楼");
        }
    }
}
