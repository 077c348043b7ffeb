//! The crisis safety notice: reviewed text from `assets/safety.toml`, never model output,
//! shown with every crisis decision whichever model (or the offline coach) answers.

use serde::Deserialize;

use crate::source_error::SourceError;

const SAFETY_FILE: &str = "assets/safety.toml";
const SAFETY_SRC: &str = include_str!("../../assets/safety.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Notice {
    notice: String,
    offline_reply: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetyNotices {
    en: Notice,
    zh: Notice,
}

impl SafetyNotices {
    pub fn builtin() -> Result<SafetyNotices, SourceError> {
        toml::from_str(SAFETY_SRC).map_err(|e| SourceError::from_toml(SAFETY_FILE, SAFETY_SRC, &e))
    }

    /// What the offline coach answers to a crisis, after the notice (no GROW question).
    pub fn offline_reply(&self, message: &str) -> &str {
        if is_mostly_cjk(message) {
            self.zh.offline_reply.trim()
        } else {
            self.en.offline_reply.trim()
        }
    }

    /// The notice in the language the person wrote in.
    pub fn for_message(&self, message: &str) -> &str {
        if is_mostly_cjk(message) {
            self.zh.notice.trim()
        } else {
            self.en.notice.trim()
        }
    }
}

/// True when at least a third of the message's letters are CJK ideographs.
pub fn is_mostly_cjk(text: &str) -> bool {
    let (mut cjk, mut letters) = (0usize, 0usize);
    for c in text.chars().filter(|c| c.is_alphabetic()) {
        letters += 1;
        if matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
        {
            cjk += 1;
        }
    }
    letters > 0 && cjk * 3 >= letters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_follows_the_persons_language() {
        let n = SafetyNotices::builtin().unwrap();
        assert!(
            n.for_message("I don't want to live anymore")
                .contains("988")
        );
        assert!(n.for_message("我不想活了").contains("010-82951332"));
        assert!(
            n.for_message("我觉得 burnout 很严重")
                .contains("希望24热线")
        );
        // Traditional Chinese is mostly written in Hong Kong and Taiwan: their lines are there.
        let traditional = n.for_message("我真係想自殺");
        assert!(traditional.contains("2389 2222") && traditional.contains("1925"));
    }
}
