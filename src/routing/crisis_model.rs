//! The crisis model: a logistic regression over the presence of word, word-pair, word-stem and
//! Chinese character n-gram features, trained on the labelled routing sets
//! (`cargo run --release --example train_crisis_model`) and shipped as `assets/crisis_model.toml`.
//!
//! Why a model next to the phrase rules: the rules are precise but only catch what someone
//! thought to write down. On sets written blind they missed two crisis messages in five, each
//! time in new words ("the rope is already tied up in the garage", "从六楼跳下去一定会死吗").
//! A linear model over the words themselves catches much of what the rules have never seen,
//! at a small cost in false alarms; the two are combined by taking the higher score.
//!
//! The features are compiled into an automaton of their own, scanned only when the lexicon
//! found a crisis cue: the model may only speak next to one, and most messages have none, so
//! routine messages pay nothing for it (folded into the lexicon's automaton, the features made
//! a routine decision about 1.7× slower when measured).
//! [`features_of`] is the definition of a feature that the trainer uses; a test checks that
//! the automaton finds exactly the same features.

use std::collections::{BTreeMap, BTreeSet};

use daachorse::{DoubleArrayAhoCorasick, DoubleArrayAhoCorasickBuilder, MatchKind};
use serde::Deserialize;

use crate::routing::scripts::ChineseScripts;
use crate::source_error::SourceError;
use crate::toml_path;

pub const BUILTIN_MODEL: &str = include_str!("../../assets/crisis_model.toml");
pub const BUILTIN_MODEL_FILE: &str = "assets/crisis_model.toml";

/// At most this many features: each is a literal of the model's automaton, and a feature
/// index must fit `FeatureEntry`'s 16 bits.
pub const MAX_FEATURES: usize = 16_000;

#[derive(Debug, Clone)]
pub struct CrisisModel {
    pub bias: f32,
    /// Probability at or above which the model alone reports `crisis`.
    pub threshold: f32,
    /// Feature texts and their weights, sorted by text (a feature's index is its position).
    pub features: Vec<(String, f32)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    model: ModelDef,
    features: BTreeMap<String, f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelDef {
    bias: f32,
    threshold: f32,
}

impl CrisisModel {
    /// The model shipped in the binary.
    pub fn builtin() -> Result<CrisisModel, SourceError> {
        CrisisModel::parse(BUILTIN_MODEL_FILE, BUILTIN_MODEL)
    }

    /// Parses and validates a model file. Errors name file, line and key.
    pub fn parse(file: &str, src: &str) -> Result<CrisisModel, SourceError> {
        let def: ModelFile =
            toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
        let err = |path: &[crate::source_error::PathSeg], msg: String, hint: Option<&str>| {
            SourceError::at_path(file, src, path, msg, hint.map(str::to_string))
        };
        if !def.model.bias.is_finite() {
            return Err(err(
                &toml_path!["model", "bias"],
                "`bias` must be a finite number".into(),
                None,
            ));
        }
        if !(0.5..1.0).contains(&def.model.threshold) {
            return Err(err(
                &toml_path!["model", "threshold"],
                format!("threshold {} is outside [0.5, 1)", def.model.threshold),
                Some("below 0.5 the model would report crisis under the upgrade threshold"),
            ));
        }
        if def.features.len() > MAX_FEATURES {
            return Err(err(
                &toml_path!["features"],
                format!(
                    "{} features; at most {MAX_FEATURES} are supported",
                    def.features.len()
                ),
                Some("train with a smaller feature budget"),
            ));
        }
        let mut features = Vec::with_capacity(def.features.len());
        for (text, weight) in def.features {
            if !is_feature(&text) {
                return Err(err(
                    &toml_path!["features", text.as_str()],
                    format!("`{text}` is not a feature"),
                    Some(
                        "a feature is a lowercase word, two words, a word stem ending in `*`, \
                         or 2–3 Chinese characters",
                    ),
                ));
            }
            if !weight.is_finite() {
                return Err(err(
                    &toml_path!["features", text.as_str()],
                    format!("the weight of `{text}` must be a finite number"),
                    None,
                ));
            }
            features.push((text, weight));
        }
        Ok(CrisisModel {
            bias: def.model.bias,
            threshold: def.model.threshold,
            features,
        })
    }

    /// Compiles the features into an automaton. A word needs word boundaries on both sides,
    /// a stem on its left, Chinese none, exactly as [`features_of`] defines them. A Chinese
    /// feature is also compiled in its Traditional spellings, so the scan needs no folding.
    pub fn compile(&self, scripts: &ChineseScripts) -> Result<CompiledModel, String> {
        let mut literal_index: BTreeMap<String, usize> = BTreeMap::new();
        let mut per_literal: Vec<Vec<FeatureEntry>> = Vec::new();
        for (i, (text, _)) in self.features.iter().enumerate() {
            let (literals, entry) = match text.strip_suffix('*') {
                Some(stem) => (vec![stem.to_string()], FeatureEntry::new(i, true, false)),
                None if text.is_ascii() => (vec![text.clone()], FeatureEntry::new(i, true, true)),
                None => {
                    let mut written = scripts.traditional_forms(text);
                    written.push(text.clone());
                    (written, FeatureEntry::new(i, false, false))
                }
            };
            for literal in literals {
                let next = per_literal.len();
                let slot = *literal_index.entry(literal).or_insert(next);
                if slot == next {
                    per_literal.push(Vec::new());
                }
                per_literal[slot].push(entry);
            }
        }
        let matcher = DoubleArrayAhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build_with_values(literal_index.iter().map(|(l, &i)| (l, i as u32)))
            .map_err(|e| e.to_string())?;
        let mut literals = Vec::with_capacity(per_literal.len());
        let mut entries = Vec::with_capacity(self.features.len());
        for of_literal in per_literal {
            let from = entries.len() as u32;
            entries.extend(of_literal);
            literals.push((from, entries.len() as u32));
        }
        Ok(CompiledModel {
            matcher,
            literals,
            entries,
            bias: self.bias,
            threshold: self.threshold,
            weights: self.features.iter().map(|(_, w)| *w).collect(),
        })
    }
}

/// One feature a literal stands for, with the word boundaries it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeatureEntry {
    pub feature: u16,
    pub left_boundary: bool,
    pub right_boundary: bool,
}

impl FeatureEntry {
    fn new(feature: usize, left_boundary: bool, right_boundary: bool) -> Self {
        FeatureEntry {
            feature: feature as u16,
            left_boundary,
            right_boundary,
        }
    }
}

/// The model ready to score a message.
#[derive(Clone)]
pub struct CompiledModel {
    matcher: DoubleArrayAhoCorasick<u32>,
    /// Per literal (the automaton's value): its range of `entries`.
    literals: Vec<(u32, u32)>,
    entries: Vec<FeatureEntry>,
    pub(crate) bias: f32,
    pub(crate) threshold: f32,
    /// Per feature index.
    pub(crate) weights: Vec<f32>,
}

impl std::fmt::Debug for CompiledModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledModel")
            .field("features", &self.weights.len())
            .field("heap_bytes", &self.matcher.heap_bytes())
            .finish()
    }
}

impl CompiledModel {
    /// The probability of crisis for a sum of matched feature weights.
    pub fn probability(&self, weight_sum: f32) -> f32 {
        1.0 / (1.0 + (-(self.bias + weight_sum)).exp())
    }

    /// Every feature occurrence in `lowered` (the message, ASCII-lowercased) as
    /// `(feature index, start, end)`, in match order; a feature may occur more than once.
    pub(crate) fn occurrences<'a>(
        &'a self,
        lowered: &'a str,
    ) -> impl Iterator<Item = (u16, u32, u32)> + 'a {
        let bytes = lowered.as_bytes();
        let is_word = |b: u8| b.is_ascii_alphanumeric();
        self.matcher
            .find_overlapping_iter(lowered)
            .flat_map(move |m| {
                let (start, end) = (m.start(), m.end());
                let before = start > 0 && is_word(bytes[start - 1]);
                let after = bytes.get(end).is_some_and(|&b| is_word(b));
                let (from, to) = self.literals[m.value() as usize];
                self.entries[from as usize..to as usize]
                    .iter()
                    .filter(move |e| !((e.left_boundary && before) || (e.right_boundary && after)))
                    .map(move |e| (e.feature, start as u32, end as u32))
            })
    }
}

fn is_ascii_word(w: &str) -> bool {
    !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}

/// Whether `text` has the shape of a feature that [`features_of`] can produce.
fn is_feature(text: &str) -> bool {
    if let Some(stem) = text.strip_suffix('*') {
        return is_ascii_word(stem) && stem.len() >= 3;
    }
    match text.split_once(' ') {
        Some((a, b)) => is_ascii_word(a) && is_ascii_word(b),
        None if is_ascii_word(text) => true,
        None => (2..=3).contains(&text.chars().count()) && text.chars().all(is_cjk),
    }
}

/// Every feature of a message, by definition: lowercased ASCII words (maximal runs of ASCII letters and digits); pairs of words
/// separated by exactly one space; the first 4 and 5 letters of words that start with that
/// many letters (`stem*`, matching the word itself too); and the character bigrams and
/// trigrams of each run of Chinese characters. This is what the automaton matches for a
/// feature literal: a word needs word boundaries on both sides, a stem on its left only,
/// Chinese none.
pub fn features_of(message: &str) -> BTreeSet<String> {
    let lower = message.to_ascii_lowercase();
    let mut out = BTreeSet::new();
    let bytes = lower.as_bytes();
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_alphanumeric() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            words.push((start, i));
        } else {
            i += 1;
        }
    }
    for (k, &(s, e)) in words.iter().enumerate() {
        let word = &lower[s..e];
        out.insert(word.to_string());
        for n in [4, 5] {
            if word.len() >= n && word.bytes().take(n).all(|b| b.is_ascii_lowercase()) {
                out.insert(format!("{}*", &word[..n]));
            }
        }
        if let Some(&(s2, e2)) = words.get(k + 1)
            && s2 == e + 1
            && bytes[e] == b' '
        {
            out.insert(format!("{word} {}", &lower[s2..e2]));
        }
    }
    let chars: Vec<char> = lower.chars().collect();
    let mut run_start = None;
    for (k, &c) in chars.iter().chain(std::iter::once(&' ')).enumerate() {
        match (is_cjk(c), run_start) {
            (true, None) => run_start = Some(k),
            (false, Some(start)) => {
                let run = &chars[start..k];
                for n in [2, 3] {
                    for gram in run.windows(n) {
                        out.insert(gram.iter().collect());
                    }
                }
                run_start = None;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_model_loads() {
        let model = CrisisModel::builtin().unwrap_or_else(|e| panic!("{e}"));
        assert!(model.features.len() > 100);
        assert!(model.threshold >= 0.5);
    }

    #[test]
    fn features_are_words_pairs_stems_and_chinese_ngrams() {
        let f = features_of("I can't sleep, Tonight 我不想活了");
        for expected in [
            "i",
            "can",
            "t",
            "sleep",
            "tonight",
            "sleep*",
            "toni*",
            "tonig*",
            "i can",
            "我不",
            "不想",
            "想活",
            "活了",
            "我不想",
            "不想活",
            "想活了",
        ] {
            assert!(f.contains(expected), "{expected} missing from {f:?}");
        }
        // A comma is not the single space a pair needs; an apostrophe splits words.
        assert!(!f.contains("sleep tonight"));
        assert!(!f.contains("can't"));
    }

    #[test]
    fn bad_files_name_the_line_and_key() {
        let ok = "[model]\nbias = -1.0\nthreshold = 0.6\n\n[features]\n\"pills\" = 1.5\n";
        assert!(CrisisModel::parse("m.toml", ok).is_ok());
        for (src, line, needle) in [
            (ok.replace("0.6", "0.3"), 3, "outside [0.5, 1)"),
            (ok.replace("\"pills\"", "\"Pills\""), 6, "is not a feature"),
            (ok.replace("\"pills\"", "\"a b c\""), 6, "is not a feature"),
            (ok.replace("\"pills\"", "\"安\""), 6, "is not a feature"),
            (ok.replace("1.5", "nan"), 6, "finite"),
            (ok.replace("bias", "bais"), 2, "unknown field"),
        ] {
            let e = CrisisModel::parse("m.toml", &src).expect_err(needle);
            assert_eq!(e.line, line, "{e}");
            assert!(e.to_string().contains(needle), "{e}");
        }
    }
}
