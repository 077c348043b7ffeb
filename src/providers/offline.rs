//! The built-in offline coach: a deterministic GROW coach that needs no key and no network.
//!
//! Each reply reflects a short phrase of the person's own words and asks one Socratic
//! question for the current GROW stage, in the person's language. All phrasing comes from
//! `assets/offline_coach.toml`; the code only picks the stage, the phrase and the template.

use std::sync::Arc;

use serde::Deserialize;

use super::{ChatRequest, Completion, Role, estimate_tokens, is_cjk};
use crate::catalog::Usage;
use crate::source_error::{PathSeg, SourceError};
use crate::toml_path;

pub const TEMPLATE_FILE: &str = "assets/offline_coach.toml";
const EMBEDDED: &str = include_str!("../../assets/offline_coach.toml");

/// Longest quoted phrase: English words, Chinese characters.
const MAX_QUOTE_WORDS: usize = 10;
const MAX_QUOTE_CHARS_ZH: usize = 18;
/// The reply is streamed in pieces this long (characters), like a model would.
const DELTA_CHARS: usize = 12;

pub type OfflineTemplateError = SourceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Goal,
    Reality,
    Options,
    Will,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Goal, Stage::Reality, Stage::Options, Stage::Will];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Goal => "goal",
            Stage::Reality => "reality",
            Stage::Options => "options",
            Stage::Will => "will",
        }
    }

    fn next(self) -> Stage {
        match self {
            Stage::Goal => Stage::Reality,
            Stage::Reality => Stage::Options,
            Stage::Options | Stage::Will => Stage::Will,
        }
    }

    fn from_index(i: usize) -> Stage {
        Stage::ALL[i.min(3)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    English,
    Chinese,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::Chinese => "zh",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    cues: CueFile,
    en: LanguageTemplates,
    zh: LanguageTemplates,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CueFile {
    en: StageCues,
    zh: StageCues,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageCues {
    goal: Vec<String>,
    reality: Vec<String>,
    options: Vec<String>,
    will: Vec<String>,
}

impl StageCues {
    fn for_stage(&self, stage: Stage) -> &[String] {
        match stage {
            Stage::Goal => &self.goal,
            Stage::Reality => &self.reality,
            Stage::Options => &self.options,
            Stage::Will => &self.will,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LanguageTemplates {
    /// Between the reflection and the question (a space in English, nothing in Chinese).
    joiner: String,
    /// Reflects an earlier message when the current one holds nothing to quote.
    recall: Vec<String>,
    goal: StageTemplates,
    reality: StageTemplates,
    options: StageTemplates,
    will: StageTemplates,
}

impl LanguageTemplates {
    fn for_stage(&self, stage: Stage) -> &StageTemplates {
        match stage {
            Stage::Goal => &self.goal,
            Stage::Reality => &self.reality,
            Stage::Options => &self.options,
            Stage::Will => &self.will,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageTemplates {
    reflect: Vec<String>,
    ask: Vec<String>,
}

#[derive(Debug)]
struct Templates {
    en_cues: StageCues,
    zh_cues: StageCues,
    en: LanguageTemplates,
    zh: LanguageTemplates,
}

impl Templates {
    fn language(&self, lang: Language) -> &LanguageTemplates {
        match lang {
            Language::English => &self.en,
            Language::Chinese => &self.zh,
        }
    }

    fn cues(&self, lang: Language) -> &StageCues {
        match lang {
            Language::English => &self.en_cues,
            Language::Chinese => &self.zh_cues,
        }
    }
}

/// One offline reply, with how it was chosen (for tests and the routing panel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineReply {
    pub text: String,
    pub stage: Stage,
    pub language: Language,
    /// The phrase of the person's that was reflected, if there was one.
    pub quote: Option<String>,
}

/// The offline coach. Cheap to clone (templates are shared).
#[derive(Clone)]
pub struct OfflineCoach {
    templates: Arc<Templates>,
}

impl std::fmt::Debug for OfflineCoach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OfflineCoach")
    }
}

impl OfflineCoach {
    /// The coach with the templates compiled into the binary.
    pub fn embedded() -> Result<Self, OfflineTemplateError> {
        Self::from_toml(TEMPLATE_FILE, EMBEDDED)
    }

    /// Loads and validates templates; errors name the file, line and key.
    pub fn from_toml(file: &str, src: &str) -> Result<Self, OfflineTemplateError> {
        let parsed: TemplateFile =
            toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
        validate(file, src, &parsed)?;
        Ok(OfflineCoach {
            templates: Arc::new(Templates {
                en_cues: parsed.cues.en,
                zh_cues: parsed.cues.zh,
                en: parsed.en,
                zh: parsed.zh,
            }),
        })
    }

    /// The reply to the last user message of `req`. Never fails: with nothing to reflect it
    /// asks its question alone.
    pub fn reply(&self, req: &ChatRequest) -> OfflineReply {
        let (message, history) = match req.messages.split_last() {
            Some((last, rest)) if last.role == Role::User => (last.content.as_str(), rest),
            _ => ("", req.messages.as_slice()),
        };
        let language = detect_language(message)
            .or_else(|| {
                history
                    .iter()
                    .rev()
                    .filter(|m| m.role == Role::User)
                    .find_map(|m| detect_language(&m.content))
            })
            .unwrap_or(Language::English);
        let stage = self.pick_stage(message, history, language);
        let prior_turns = history.iter().filter(|m| m.role == Role::User).count();
        let lang = self.templates.language(language);
        let stage_templates = lang.for_stage(stage);
        let seed = fnv1a(message.as_bytes()).wrapping_add(prior_turns as u64);

        let previous = history
            .iter()
            .rev()
            .find(|m| m.role == Role::Assistant)
            .map(|m| m.content.as_str())
            .unwrap_or("");
        let mut ask_index = pick(seed, stage_templates.ask.len());
        // Never ask the very same question twice in a row.
        if previous.contains(stage_templates.ask[ask_index].as_str()) {
            ask_index = (ask_index + 1) % stage_templates.ask.len();
        }
        let ask = &stage_templates.ask[ask_index];

        // Reflect this message; when it holds nothing to reflect ("ok"), recall the latest
        // earlier message that does.
        let reflect_choice = pick(seed.rotate_left(17), stage_templates.reflect.len());
        let (quote, template) = match extract_quote(message, language) {
            Some(q) => (Some(q), Some(&stage_templates.reflect[reflect_choice])),
            None => {
                let earlier = history
                    .iter()
                    .rev()
                    .filter(|m| m.role == Role::User)
                    .find_map(|m| extract_quote(&m.content, language));
                let recall = &lang.recall[pick(seed.rotate_left(29), lang.recall.len())];
                (earlier.clone(), earlier.map(|_| recall))
            }
        };
        let text = match (&quote, template) {
            (Some(q), Some(t)) => format!("{}{}{}", t.replace("{quote}", q), lang.joiner, ask),
            _ => ask.clone(),
        };
        OfflineReply {
            text,
            stage,
            language,
            quote,
        }
    }

    /// Streams the reply in small pieces and returns it with estimated usage (zero cost).
    pub fn stream(&self, req: &ChatRequest, on_delta: &mut (dyn FnMut(&str) + Send)) -> Completion {
        let reply = self.reply(req);
        let chars: Vec<(usize, char)> = reply.text.char_indices().collect();
        for piece in chars.chunks(DELTA_CHARS) {
            let start = piece[0].0;
            let end = piece.last().map_or(start, |(i, c)| i + c.len_utf8());
            on_delta(&reply.text[start..end]);
        }
        Completion {
            usage: Usage {
                input_tokens: req.estimated_input_tokens(),
                output_tokens: estimate_tokens(&reply.text),
                ..Usage::default()
            },
            text: reply.text,
            usage_estimated: true,
            stop_reason: Some("end_turn".to_string()),
            http_status: None,
            first_byte_ms: Some(0),
        }
    }

    /// Cues in the message may move forward to (or hold at) the stage they name; otherwise
    /// the conversation advances one stage from where the coach last was.
    fn pick_stage(
        &self,
        message: &str,
        history: &[super::ChatMessage],
        language: Language,
    ) -> Stage {
        let current = self.previous_stage(history);
        let base = match current {
            Some(stage) => stage.next(),
            None => Stage::from_index(history.iter().filter(|m| m.role == Role::User).count()),
        };
        let floor = current.unwrap_or(base);
        match self.cued_stage(message, language) {
            Some(cued) if cued >= floor => cued,
            _ => base,
        }
    }

    /// The stage of the coach's last question, if the last assistant message was ours
    /// (a remote model may have answered earlier turns).
    fn previous_stage(&self, history: &[super::ChatMessage]) -> Option<Stage> {
        let last = history.iter().rev().find(|m| m.role == Role::Assistant)?;
        Stage::ALL.into_iter().find(|&stage| {
            [Language::English, Language::Chinese].iter().any(|&l| {
                self.templates
                    .language(l)
                    .for_stage(stage)
                    .ask
                    .iter()
                    .any(|q| last.content.contains(q.as_str()))
            })
        })
    }

    /// The stage whose cues the message mentions most (the later stage on a tie).
    fn cued_stage(&self, message: &str, language: Language) -> Option<Stage> {
        let lower = message.to_lowercase();
        let cues = self.templates.cues(language);
        Stage::ALL
            .into_iter()
            .map(|stage| {
                let hits = cues
                    .for_stage(stage)
                    .iter()
                    .filter(|cue| contains_cue(&lower, cue, language))
                    .count();
                (hits, stage)
            })
            .filter(|(hits, _)| *hits > 0)
            .max()
            .map(|(_, stage)| stage)
    }
}

/// English cues match whole words (so "either" does not fire inside "neither"); Chinese has
/// no word boundaries.
fn contains_cue(lower: &str, cue: &str, language: Language) -> bool {
    if language == Language::Chinese {
        return lower.contains(cue);
    }
    lower.match_indices(cue).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + cue.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Chinese when Han characters carry the message, English otherwise; `None` with no letters
/// at all (an emoji, "…"), so the caller can look at earlier messages.
pub fn detect_language(text: &str) -> Option<Language> {
    let cjk = text
        .chars()
        .filter(|&c| is_cjk(c) && c.is_alphabetic())
        .count();
    let latin = text.chars().filter(|c| c.is_ascii_alphabetic()).count();
    if cjk == 0 && latin == 0 {
        return None;
    }
    // A Chinese sentence with an English word or two is still Chinese; a Han character
    // weighs about as much as a four-letter word.
    Some(if cjk * 4 >= latin {
        Language::Chinese
    } else {
        Language::English
    })
}

/// A short phrase of the person's own words: the clause that says the most about them
/// (first person preferred, one that fits whole preferred over one cut short), without
/// question marks (the question is ours). `None` when the message holds nothing worth
/// reflecting ("ok", "…").
pub fn extract_quote(message: &str, language: Language) -> Option<String> {
    let separators = |c: char| {
        matches!(
            c,
            '.' | '!' | '?' | ';' | '\n' | '。' | '！' | '？' | '；' | '…'
        )
    };
    let clauses: Vec<String> = message
        .split(separators)
        .flat_map(|s| s.split([',', '，', '、']))
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control() && !matches!(c, '?' | '？' | '{' | '}'))
                .collect::<String>()
        })
        .map(|s| {
            s.trim_matches(|c: char| c.is_whitespace() || "\"'“”‘’「」()（）-—*".contains(c))
                .to_string()
        })
        .filter(|s| s.chars().any(char::is_alphanumeric))
        .collect();
    let size = |s: &str| match language {
        Language::English => s.split_whitespace().count(),
        Language::Chinese => s.chars().filter(|c| !c.is_whitespace()).count(),
    };
    let max = match language {
        Language::English => MAX_QUOTE_WORDS,
        Language::Chinese => MAX_QUOTE_CHARS_ZH,
    };
    let worth_quoting = |s: &str| {
        let n = size(s);
        n >= 3 || (n >= 2 && is_first_person(s, language))
    };
    // Ranked: first person, then fits whole, then length.
    let best = clauses
        .iter()
        .filter(|s| worth_quoting(s))
        .max_by_key(|s| {
            let n = size(s);
            (
                is_first_person(s, language),
                n <= max,
                if n <= max { n } else { 0 },
            )
        })?;
    Some(shorten(best, language, max))
}

fn is_first_person(clause: &str, language: Language) -> bool {
    match language {
        Language::Chinese => clause.contains('我'),
        Language::English => clause.split_whitespace().any(|w| {
            let w = w
                .trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
                .to_lowercase()
                .replace('’', "'");
            matches!(
                w.as_str(),
                "i" | "i'm" | "i've" | "i'd" | "i'll" | "my" | "me" | "myself"
            )
        }),
    }
}

fn shorten(clause: &str, language: Language, max: usize) -> String {
    match language {
        Language::English => {
            let words: Vec<&str> = clause.split_whitespace().collect();
            if words.len() <= max {
                return words.join(" ");
            }
            // Cut before a joining word when that leaves a phrase that stands on its own.
            let joint = (4..=max).rev().find(|&i| {
                matches!(
                    words[i].to_lowercase().as_str(),
                    "and" | "but" | "because" | "so" | "or" | "while" | "although" | "which"
                )
            });
            match joint {
                Some(i) => words[..i].join(" "),
                None => format!("{}…", words[..max].join(" ")),
            }
        }
        Language::Chinese => {
            let chars: Vec<char> = clause.trim().chars().collect();
            let mut q: String = chars[..chars.len().min(max)].iter().collect();
            if chars.len() > max {
                q.push('…');
            }
            q
        }
    }
}

/// FNV-1a: a stable hash (std's hasher may change between Rust versions), so the same
/// conversation always gets the same reply.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn pick(seed: u64, len: usize) -> usize {
    usize::try_from(seed % len.max(1) as u64).unwrap_or(0)
}

fn count_question_marks(s: &str) -> usize {
    s.chars().filter(|c| matches!(c, '?' | '？')).count()
}

/// A reflection holds `{quote}` once, no other placeholder and no question mark.
fn check_reflection(t: &str) -> Result<(), (String, &'static str)> {
    if t.matches("{quote}").count() != 1 || t.replace("{quote}", "").contains(['{', '}']) {
        return Err((
            format!(
                "reflection `{t}` must contain `{{quote}}` exactly once and no other placeholder"
            ),
            "write e.g. \"You said “{quote}”.\"",
        ));
    }
    if count_question_marks(t) != 0 {
        return Err((
            format!("reflection `{t}` contains a question mark"),
            "each turn asks exactly one question: put it in `ask`",
        ));
    }
    Ok(())
}

fn validate(file: &str, src: &str, parsed: &TemplateFile) -> Result<(), SourceError> {
    let err = |path: &[PathSeg], message: String, hint: &str| {
        SourceError::at_path(file, src, path, message, Some(hint.to_string()))
    };
    for (lang, cues) in [("en", &parsed.cues.en), ("zh", &parsed.cues.zh)] {
        for stage in Stage::ALL {
            let list = cues.for_stage(stage);
            if list.is_empty() {
                return Err(err(
                    &toml_path!["cues", lang, stage.as_str()],
                    "no cues for this stage".into(),
                    "list at least one phrase that signals this stage",
                ));
            }
            for (i, cue) in list.iter().enumerate() {
                if cue.trim().is_empty() || cue.to_lowercase() != *cue {
                    return Err(err(
                        &toml_path!["cues", lang, stage.as_str(), i],
                        format!("cue `{cue}` must be non-empty and lowercase"),
                        "messages are lowercased before matching",
                    ));
                }
            }
        }
    }
    for (lang, templates) in [("en", &parsed.en), ("zh", &parsed.zh)] {
        if templates.recall.is_empty() {
            return Err(err(
                &toml_path![lang, "recall"],
                "`recall` has no templates".into(),
                "add at least one template",
            ));
        }
        for (i, t) in templates.recall.iter().enumerate() {
            check_reflection(t).map_err(|m| err(&toml_path![lang, "recall", i], m.0, m.1))?;
        }
        for stage in Stage::ALL {
            let st = templates.for_stage(stage);
            let name = stage.as_str();
            for (key, list) in [("reflect", &st.reflect), ("ask", &st.ask)] {
                if list.is_empty() {
                    return Err(err(
                        &toml_path![lang, name, key],
                        format!("`{key}` has no templates"),
                        "add at least one template",
                    ));
                }
            }
            for (i, t) in st.reflect.iter().enumerate() {
                check_reflection(t)
                    .map_err(|m| err(&toml_path![lang, name, "reflect", i], m.0, m.1))?;
            }
            for (i, t) in st.ask.iter().enumerate() {
                let ends_with_question = t.trim_end().ends_with(['?', '？']);
                if count_question_marks(t) != 1 || !ends_with_question || t.contains(['{', '}']) {
                    return Err(err(
                        &toml_path![lang, name, "ask", i],
                        format!(
                            "question `{t}` must hold exactly one question mark, at its end, and no placeholder"
                        ),
                        "one Socratic question per turn",
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ChatMessage;

    fn coach() -> OfflineCoach {
        OfflineCoach::embedded().unwrap()
    }

    fn req(messages: Vec<ChatMessage>) -> ChatRequest {
        ChatRequest {
            model: "offline-coach".into(),
            system: String::new(),
            messages,
            max_tokens: 800,
            temperature: None,
            cache_prompt: false,
            structured: None,
        }
    }

    #[test]
    fn embedded_templates_are_valid() {
        assert!(OfflineCoach::embedded().is_ok());
    }

    #[test]
    fn bad_templates_are_located() {
        let bad = EMBEDDED.replacen(
            "\"What would you like to have by the end of our conversation today?\"",
            "\"What now? And then?\"",
            1,
        );
        let e = OfflineCoach::from_toml(TEMPLATE_FILE, &bad).unwrap_err();
        assert_eq!(e.key, "en.goal.ask[1]");
        assert!(e.line > 1);
        let missing = EMBEDDED.replacen("You said “{quote}”.", "You said it.", 1);
        let e = OfflineCoach::from_toml(TEMPLATE_FILE, &missing).unwrap_err();
        assert_eq!(e.key, "en.goal.reflect[0]");
        let unknown = format!("{EMBEDDED}\n[extra]\nx = 1\n");
        assert!(OfflineCoach::from_toml(TEMPLATE_FILE, &unknown).is_err());
    }

    #[test]
    fn detects_language() {
        assert_eq!(detect_language("I want a new job"), Some(Language::English));
        assert_eq!(detect_language("我想换工作"), Some(Language::Chinese));
        assert_eq!(
            detect_language("我想换一个 IT job"),
            Some(Language::Chinese)
        );
        assert_eq!(detect_language("…!"), None);
    }

    #[test]
    fn quotes_a_first_person_clause() {
        let q = extract_quote(
            "Work is fine. But I feel stuck in my career, honestly?",
            Language::English,
        );
        assert_eq!(q.as_deref(), Some("But I feel stuck in my career"));
        let zh = extract_quote("工作还行。但是我觉得自己卡住了！", Language::Chinese);
        assert_eq!(zh.as_deref(), Some("但是我觉得自己卡住了"));
        assert_eq!(extract_quote("???", Language::English), None);
        let long = extract_quote(
            "Right now I work 60 hours a week and my manager ignores my ideas",
            Language::English,
        );
        assert_eq!(long.as_deref(), Some("Right now I work 60 hours a week"));
        let run_on = extract_quote(
            "I really truly honestly deeply want to find a calmer place to live",
            Language::English,
        );
        assert_eq!(
            run_on.as_deref(),
            Some("I really truly honestly deeply want to find a calmer…")
        );
    }

    #[test]
    fn english_reply_reflects_and_asks_one_question() {
        let r = coach().reply(&req(vec![ChatMessage::user("I feel stuck in my career.")]));
        assert_eq!(r.language, Language::English);
        assert_eq!(r.stage, Stage::Goal);
        assert!(r.text.contains("I feel stuck in my career"), "{}", r.text);
        assert_eq!(count_question_marks(&r.text), 1, "{}", r.text);
    }

    #[test]
    fn chinese_reply_in_chinese() {
        let r = coach().reply(&req(vec![ChatMessage::user(
            "我最近工作压力很大，不知道该怎么办",
        )]));
        assert_eq!(r.language, Language::Chinese);
        assert!(r.text.contains("我最近工作压力很大") || r.text.contains("不知道该怎么办"));
        assert_eq!(count_question_marks(&r.text), 1, "{}", r.text);
        assert!(r.text.ends_with('？'));
    }

    #[test]
    fn stages_progress_through_grow() {
        let c = coach();
        let mut messages = Vec::new();
        let turns = [
            "Something about work bothers me",
            "It has been like this for a while",
            "Hmm, let me think about that",
            "Okay",
            "Fine",
        ];
        let mut stages = Vec::new();
        for t in turns {
            messages.push(ChatMessage::user(t));
            let r = c.reply(&req(messages.clone()));
            assert_eq!(count_question_marks(&r.text), 1, "{}", r.text);
            stages.push(r.stage);
            messages.push(ChatMessage::assistant(r.text));
        }
        assert_eq!(
            stages,
            vec![
                Stage::Goal,
                Stage::Reality,
                Stage::Options,
                Stage::Will,
                Stage::Will
            ]
        );
    }

    #[test]
    fn cues_move_forward_but_not_back() {
        let c = coach();
        let r = c.reply(&req(vec![ChatMessage::user(
            "I'm going to apply tomorrow, I decided",
        )]));
        assert_eq!(r.stage, Stage::Will);
        let history = vec![
            ChatMessage::user("I want to run a marathon"),
            ChatMessage::assistant(c.reply(&req(vec![ChatMessage::user("x")])).text),
            ChatMessage::user("Maybe I could join a club or maybe train alone"),
        ];
        assert_eq!(c.reply(&req(history)).stage, Stage::Options);
        let back = vec![
            ChatMessage::user("a"),
            ChatMessage::assistant(
                "What are three different ways you could move forward, even ones that seem unlikely?",
            ),
            ChatMessage::user("I want to feel better"),
        ];
        assert_eq!(c.reply(&req(back)).stage, Stage::Will);
    }

    #[test]
    fn a_bare_ok_recalls_earlier_words() {
        let c = coach();
        let first = c.reply(&req(vec![ChatMessage::user(
            "I want to write a novel this year",
        )]));
        let r = c.reply(&req(vec![
            ChatMessage::user("I want to write a novel this year"),
            ChatMessage::assistant(first.text),
            ChatMessage::user("ok"),
        ]));
        assert_eq!(
            r.quote.as_deref(),
            Some("I want to write a novel this year")
        );
        assert!(
            r.text.contains("“I want to write a novel this year”"),
            "{}",
            r.text
        );
        assert!(!r.text.contains("“ok”"));
        let alone = c.reply(&req(vec![ChatMessage::user("ok")]));
        assert_eq!(alone.quote, None);
        assert_eq!(count_question_marks(&alone.text), 1);
    }

    #[test]
    fn deterministic_and_no_repeat() {
        let c = coach();
        let r = req(vec![ChatMessage::user("I want more time for my family")]);
        assert_eq!(c.reply(&r), c.reply(&r));
        let first = c.reply(&r).text;
        let again = c.reply(&req(vec![
            ChatMessage::user("x"),
            ChatMessage::assistant(first.clone()),
            ChatMessage::user("I want more time for my family"),
        ]));
        assert_ne!(first, again.text);
    }

    #[test]
    fn streams_pieces_that_add_up_and_estimates_usage() {
        let c = coach();
        let r = req(vec![ChatMessage::user("我想换工作，但是很害怕")]);
        let mut pieces = Vec::new();
        let done = c.stream(&r, &mut |d: &str| pieces.push(d.to_string()));
        assert!(pieces.len() > 1);
        assert_eq!(pieces.concat(), done.text);
        assert!(done.usage_estimated);
        assert!(done.usage.output_tokens > 0 && done.usage.input_tokens > 0);
    }

    #[test]
    fn never_fails_on_odd_input() {
        let c = coach();
        for m in ["", "   ", "???", "{quote}", "🙂", "\u{1b}[31m"] {
            let r = c.reply(&req(vec![ChatMessage::user(m)]));
            assert_eq!(count_question_marks(&r.text), 1, "{m:?} → {}", r.text);
        }
        let empty = c.reply(&req(vec![]));
        assert_eq!(count_question_marks(&empty.text), 1);
    }
}
