//! The signal lexicon: cue phrases grouped into concepts, rules that combine concepts into
//! signals, and guards (negation, past/resolved, look-alike exclusions) that lower or cancel
//! a match. The data lives in `assets/signals.toml`; this module validates it and compiles
//! every phrase of every set, English and Chinese alike, into one double-array Aho-Corasick
//! automaton (`daachorse`), so detection is one pass over the message. The double array keeps
//! each of the ~28,000 states in 12 bytes (about 400 KB for ~4,300 literals, where a classic
//! DFA over the same phrases takes several MB and a byte-wise NFA is slow on Chinese): the
//! states a scan touches stay in cache. Measured alternatives, for the record: two
//! `aho-corasick` automata (DFA for ASCII, NFA for the rest) scanned the same 2 KB in 2.7×
//! the time; anchored double-array trie walks from every word start (`yada`) in 1.5×; a
//! char-wise double array is faster on pure Chinese but 1.7× slower on English.
//!
//! Phrase syntax: plain text, matched case-insensitively (ASCII: phrases are stored lowercase
//! and the message is lowercased once before the scan). A phrase that starts or
//! ends with an ASCII letter or digit must sit on a word boundary on that side, unless it ends
//! with `*` (a stem: `sabotag*` matches "sabotage", "sabotaging") or starts with one (a word
//! ending: `*killmyself` matches "imgoingtokillmyself", typed without spaces). Chinese needs
//! no boundaries. A phrase with an apostrophe also matches its curly (`’`) and bare (`dont`)
//! spellings. `{a|b}` writes alternatives inside a phrase (`{end|ending|ended} my {own |}life`
//! is six literals), so a concept is written once with its word forms.

use std::collections::{BTreeMap, HashMap};

use daachorse::{DoubleArrayAhoCorasick, DoubleArrayAhoCorasickBuilder, MatchKind};
use serde::Deserialize;

use crate::routing::crisis_model::{CompiledModel, CrisisModel};
use crate::routing::scripts::ChineseScripts;
use crate::routing::types::SignalKind;
use crate::source_error::{PathSeg, SourceError, nearest};
use crate::toml_path;

pub const BUILTIN_LEXICON: &str = include_str!("../../assets/signals.toml");
pub const BUILTIN_LEXICON_FILE: &str = "assets/signals.toml";

/// Guards are tracked as bits of a `u32` per match, with one value reserved.
pub(crate) const MAX_GUARDS: usize = 31;

/// Index of a phrase set (a group, a guard, the clause breaks, or an exclusion list).
pub(crate) type SetId = u16;

/// What a phrase set is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetRole {
    /// Cue phrases of a concept group, used by rules.
    Group,
    /// Phrases of a guard (index into `Lexicon::guards`).
    Guard(u16),
    /// Clause boundaries: punctuation and conjunctions that end a guard's reach.
    Break,
    /// Look-alikes: a match of this set cancels any overlapping match of `target`.
    Exclude { target: SetId },
}

/// How far a guard reaches from its phrase to a cue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardScope {
    /// The guard phrase precedes the cue in the same clause, within `window` bytes.
    Before,
    /// The guard phrase is in the same clause as the cue, before or after, within `window`.
    Clause,
    /// Anywhere in the message.
    Message,
}

#[derive(Debug, Clone)]
pub(crate) struct Guard {
    pub scope: GuardScope,
    pub window: u32,
    /// Multiplies the score of a rule instance that uses a guarded cue (0 cancels it).
    pub factor: f32,
    /// Bit set of `SignalKind` indices the guard applies to.
    pub signals: u8,
    /// The phrase set holding the guard's phrases.
    pub set: SetId,
}

#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub signal: SignalKind,
    /// Group set ids that must all match within `Lexicon::window` bytes of each other.
    pub groups: Vec<SetId>,
    pub score: f32,
    /// Bytes within which the groups must match (the rule's own, or the lexicon's).
    pub window: u32,
}

/// Facts from context (turn count, risk level) turned into scores.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ContextScores {
    pub long_context_base: f32,
    pub escalation_medium: f32,
    pub escalation_high: f32,
}

/// The compiled automaton; each match's value indexes `Lexicon::literals`.
#[derive(Clone)]
pub(crate) struct Matcher(pub DoubleArrayAhoCorasick<u32>);

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher")
            .field("states", &self.0.num_states())
            .field("heap_bytes", &self.0.heap_bytes())
            .finish()
    }
}

/// What a match of one literal means for one phrase set: the set, its role (copied here so
/// the scan reads one small record per match) and the word boundaries the phrase needs. A
/// literal has several entries when it belongs to several sets, or is a whole word in one
/// phrase and a stem in another.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub set: SetId,
    pub role: SetRole,
    pub left_boundary: bool,
    pub right_boundary: bool,
}

/// The compiled lexicon. Immutable after load; `Send + Sync`, share it by reference.
#[derive(Debug, Clone)]
pub struct Lexicon {
    pub(crate) matcher: Matcher,
    /// Per literal (the automaton's match value): its range of `entries`.
    pub(crate) literals: Vec<(u32, u32)>,
    pub(crate) entries: Vec<Entry>,
    pub(crate) set_roles: Vec<SetRole>,
    pub(crate) set_names: Vec<String>,
    pub(crate) guards: Vec<Guard>,
    /// Per set: bit `i` set when guard `i` may lower that set's phrases (a guard's `groups`
    /// limit it; most guards lower every group).
    pub(crate) guards_of_set: Vec<u32>,
    pub(crate) rules: Vec<Rule>,
    pub(crate) min_report_score: f32,
    pub(crate) evidence_max_bytes: u32,
    pub(crate) context: ContextScores,
    /// The crisis model, compiled to its own automaton, when one is loaded.
    pub(crate) crisis_model: Option<CompiledModel>,
    /// The groups whose phrases let the crisis model speak (`settings.crisis_model_cues`, or
    /// every crisis rule's groups).
    pub(crate) crisis_cue_sets: Vec<SetId>,
}

// ---------------------------------------------------------------------------------------
// File format
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    settings: SettingsDef,
    context: ContextDef,
    breaks: PhraseSetDef,
    #[serde(default)]
    groups: BTreeMap<String, PhraseSetDef>,
    #[serde(default)]
    guards: Vec<GuardDef>,
    #[serde(default)]
    rules: Vec<RuleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsDef {
    /// Bytes within which all groups of a rule must match.
    cooccurrence_window: u32,
    /// Default reach of `before`/`clause` guards, in bytes.
    guard_window: u32,
    /// Signals scoring below this are not reported at all.
    min_report_score: f32,
    evidence_max_bytes: u32,
    /// Groups whose phrases let the crisis model speak (default: every crisis rule's groups).
    #[serde(default)]
    crisis_model_cues: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextDef {
    long_context_base: f32,
    escalation_medium: f32,
    escalation_high: f32,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PhraseSetDef {
    #[serde(default)]
    en: Vec<String>,
    #[serde(default)]
    zh: Vec<String>,
    /// Look-alikes: phrases whose match cancels an overlapping match of this set.
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardDef {
    name: String,
    scope: GuardScope,
    #[serde(default)]
    window: Option<u32>,
    factor: f32,
    signals: Vec<String>,
    /// Restricts the guard to these groups' phrases.
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    en: Vec<String>,
    #[serde(default)]
    zh: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    signal: String,
    all: Vec<String>,
    score: f32,
    /// Tighter co-occurrence window for this rule, in bytes.
    #[serde(default)]
    window: Option<u32>,
}

// ---------------------------------------------------------------------------------------
// Loading and validation
// ---------------------------------------------------------------------------------------

impl Lexicon {
    /// The lexicon shipped in the binary (`assets/signals.toml`) with its crisis model
    /// (`assets/crisis_model.toml`).
    pub fn builtin() -> Result<Lexicon, SourceError> {
        let model = CrisisModel::builtin()?;
        Lexicon::parse_with_model(BUILTIN_LEXICON_FILE, BUILTIN_LEXICON, Some(&model))
    }

    /// Parses, validates and compiles a lexicon file, without a crisis model. Errors name
    /// file, line and key.
    pub fn parse(file: &str, src: &str) -> Result<Lexicon, SourceError> {
        Lexicon::parse_with_model(file, src, None)
    }

    /// Like [`Lexicon::parse`], with a crisis model.
    pub fn parse_with_model(
        file: &str,
        src: &str,
        model: Option<&CrisisModel>,
    ) -> Result<Lexicon, SourceError> {
        let def: LexiconFile =
            toml::from_str(src).map_err(|e| SourceError::from_toml(file, src, &e))?;
        Builder::new(file, src).build(def, model)
    }

    /// Names of the concept groups, in set order (for diagnostics and tests).
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.set_roles
            .iter()
            .zip(&self.set_names)
            .filter(|(role, _)| **role == SetRole::Group)
            .map(|(_, name)| name.as_str())
    }

    /// Number of literals compiled into the automaton.
    pub fn pattern_count(&self) -> usize {
        self.literals.len()
    }

    /// The meanings of the literal with automaton value `literal`.
    pub(crate) fn entries_of(&self, literal: u32) -> &[Entry] {
        let (from, to) = self.literals[literal as usize];
        &self.entries[from as usize..to as usize]
    }
}

/// Per set id, the guards that may lower its phrases (see `Lexicon::guards_of_set`), from
/// each guard's `groups` (empty: every group). A job named in the message makes "overdose" a
/// word of the trade, not "I want to kill myself".
fn guards_of_set(only_groups: &[Vec<SetId>], sets: usize) -> Vec<u32> {
    (0..sets)
        .map(|set| {
            only_groups
                .iter()
                .enumerate()
                .filter(|(_, only)| only.is_empty() || only.contains(&(set as SetId)))
                .fold(0u32, |mask, (i, _)| mask | 1 << i)
        })
        .collect()
}

pub(crate) fn signal_bit(kind: SignalKind) -> u8 {
    1 << (kind as u8)
}

struct Builder<'a> {
    file: &'a str,
    src: &'a str,
    /// Each distinct literal text once, in first-seen order (its index is the automaton's
    /// match value), and where each text is.
    texts: Vec<String>,
    text_index: HashMap<String, usize>,
    /// Per text: its word-boundary variants (left, right) and the sets each belongs to.
    variants: Vec<Vec<(bool, bool, Vec<SetId>)>>,
    set_roles: Vec<SetRole>,
    set_names: Vec<String>,
    /// Where the Traditional spellings of Chinese phrases come from.
    scripts: ChineseScripts,
}

impl<'a> Builder<'a> {
    fn new(file: &'a str, src: &'a str) -> Self {
        Builder {
            file,
            src,
            texts: Vec::new(),
            text_index: HashMap::new(),
            variants: Vec::new(),
            set_roles: Vec::new(),
            set_names: Vec::new(),
            scripts: ChineseScripts::new(),
        }
    }

    fn err(
        &self,
        path: &[PathSeg],
        message: impl Into<String>,
        hint: Option<String>,
    ) -> SourceError {
        SourceError::at_path(self.file, self.src, path, message, hint)
    }

    fn build(
        mut self,
        def: LexiconFile,
        model: Option<&CrisisModel>,
    ) -> Result<Lexicon, SourceError> {
        self.validate_settings(&def)?;

        if !def.breaks.exclude.is_empty() {
            return Err(self.err(
                &toml_path!["breaks", "exclude"],
                "clause breaks take no look-alike exclusions",
                Some("give the break phrase word boundaries or drop it instead".into()),
            ));
        }
        let breaks = self.new_set(SetRole::Break, "breaks".into());
        self.add_phrase_set(breaks, &def.breaks, &toml_path!["breaks"], false)?;

        let mut group_ids: BTreeMap<&str, SetId> = BTreeMap::new();
        for (name, set) in &def.groups {
            let id = self.new_set(SetRole::Group, name.clone());
            self.add_phrase_set(id, set, &toml_path!["groups", name.as_str()], true)?;
            group_ids.insert(name.as_str(), id);
        }

        if def.guards.len() > MAX_GUARDS {
            return Err(self.err(
                &toml_path!["guards", MAX_GUARDS],
                format!("at most {MAX_GUARDS} guards are supported"),
                Some("merge guards that share a scope and factor".into()),
            ));
        }
        let mut guards = Vec::with_capacity(def.guards.len());
        let mut only_groups: Vec<Vec<SetId>> = Vec::with_capacity(def.guards.len());
        for (i, g) in def.guards.iter().enumerate() {
            let path = toml_path!["guards", i];
            let id = self.new_set(SetRole::Guard(i as u16), g.name.clone());
            guards.push(self.guard(i, g, &def.settings, id)?);
            only_groups.push(
                g.groups
                    .iter()
                    .enumerate()
                    .map(|(j, name)| {
                        self.group_id(&group_ids, name, &toml_path!["guards", i, "groups", j])
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            );
            let phrases = PhraseSetDef {
                en: g.en.clone(),
                zh: g.zh.clone(),
                exclude: g.exclude.clone(),
            };
            self.add_phrase_set(id, &phrases, &path, true)?;
        }

        let mut rules = Vec::with_capacity(def.rules.len());
        let mut used: Vec<&str> = Vec::new();
        for (i, r) in def.rules.iter().enumerate() {
            let signal = self.signal_name(&r.signal, &toml_path!["rules", i, "signal"])?;
            if matches!(signal, SignalKind::LongContext) {
                return Err(self.err(
                    &toml_path!["rules", i, "signal"],
                    "`long_context` comes from the turn count, not from text rules",
                    Some("remove this rule; tune `context.long_context_base` instead".into()),
                ));
            }
            if !(0.0..=1.0).contains(&r.score) || r.score == 0.0 {
                return Err(self.err(
                    &toml_path!["rules", i, "score"],
                    format!("score {} is outside (0, 1]", r.score),
                    None,
                ));
            }
            if r.all.is_empty() || r.all.len() > 3 {
                return Err(self.err(
                    &toml_path!["rules", i, "all"],
                    "a rule combines 1 to 3 groups",
                    None,
                ));
            }
            let mut groups = Vec::with_capacity(r.all.len());
            for (j, name) in r.all.iter().enumerate() {
                groups.push(self.group_id(&group_ids, name, &toml_path!["rules", i, "all", j])?);
                used.push(name.as_str());
            }
            if r.window == Some(0) {
                return Err(self.err(
                    &toml_path!["rules", i, "window"],
                    "`window` must be greater than 0",
                    None,
                ));
            }
            rules.push(Rule {
                signal,
                groups,
                score: r.score,
                window: r.window.unwrap_or(def.settings.cooccurrence_window),
            });
        }
        for name in group_ids.keys() {
            if !used.contains(name) {
                return Err(self.err(
                    &toml_path!["groups", *name],
                    format!("group `{name}` is not used by any rule"),
                    Some("add a [[rules]] entry that uses it, or remove the group".into()),
                ));
            }
        }

        let mut crisis_cue_sets: Vec<SetId> = if def.settings.crisis_model_cues.is_empty() {
            rules
                .iter()
                .filter(|r| r.signal == SignalKind::Crisis)
                .flat_map(|r| r.groups.iter().copied())
                .collect()
        } else {
            let mut sets = Vec::new();
            for (i, name) in def.settings.crisis_model_cues.iter().enumerate() {
                let Some(&id) = group_ids.get(name.as_str()) else {
                    let hint = nearest(name, group_ids.keys().copied())
                        .map(|n| format!("did you mean `{n}`?"));
                    return Err(self.err(
                        &toml_path!["settings", "crisis_model_cues", i],
                        format!("unknown group `{name}`"),
                        hint,
                    ));
                };
                sets.push(id);
            }
            sets
        };
        crisis_cue_sets.sort_unstable();
        crisis_cue_sets.dedup();
        let crisis_model = model
            .map(|m| m.compile(&self.scripts))
            .transpose()
            .map_err(|e| self.err(&[], format!("cannot compile the crisis model: {e}"), None))?;
        let matcher = self.matcher()?;

        let mut literals = Vec::with_capacity(self.texts.len());
        let mut entries = Vec::new();
        for of_text in &self.variants {
            let from = entries.len() as u32;
            for (left, right, sets) in of_text {
                entries.extend(sets.iter().map(|&set| Entry {
                    set,
                    role: self.set_roles[set as usize],
                    left_boundary: *left,
                    right_boundary: *right,
                }));
            }
            literals.push((from, entries.len() as u32));
        }

        Ok(Lexicon {
            matcher,
            literals,
            entries,
            guards_of_set: guards_of_set(&only_groups, self.set_roles.len()),
            set_roles: self.set_roles,
            set_names: self.set_names,
            guards,
            rules,
            min_report_score: def.settings.min_report_score,
            evidence_max_bytes: def.settings.evidence_max_bytes,
            context: ContextScores {
                long_context_base: def.context.long_context_base,
                escalation_medium: def.context.escalation_medium,
                escalation_high: def.context.escalation_high,
            },
            crisis_cue_sets,
            crisis_model,
        })
    }

    fn matcher(&self) -> Result<Matcher, SourceError> {
        // Literals are stored lowercase and the scanner lowercases the message once, so the
        // automaton is case-sensitive and knows no upper-case bytes. No prefilter: with
        // hundreds of one-character Chinese cues and short English words it finds a candidate
        // every few bytes and only adds work to the overlapping search.
        DoubleArrayAhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .use_prefilter(false)
            .build_with_values(
                self.texts
                    .iter()
                    .enumerate()
                    .map(|(i, text)| (text.as_str(), i as u32)),
            )
            .map(Matcher)
            .map_err(|e| self.err(&[], format!("cannot compile the lexicon: {e}"), None))
    }

    fn validate_settings(&self, def: &LexiconFile) -> Result<(), SourceError> {
        let s = &def.settings;
        let positive = [
            ("cooccurrence_window", s.cooccurrence_window),
            ("guard_window", s.guard_window),
            ("evidence_max_bytes", s.evidence_max_bytes),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(self.err(
                    &toml_path!["settings", key],
                    format!("`{key}` must be greater than 0"),
                    None,
                ));
            }
        }
        let unit = [
            ("settings", "min_report_score", s.min_report_score),
            (
                "context",
                "long_context_base",
                def.context.long_context_base,
            ),
            (
                "context",
                "escalation_medium",
                def.context.escalation_medium,
            ),
            ("context", "escalation_high", def.context.escalation_high),
        ];
        for (table, key, value) in unit {
            if !(0.0..=1.0).contains(&value) {
                return Err(self.err(
                    &toml_path![table, key],
                    format!("`{key}` = {value} is outside [0, 1]"),
                    None,
                ));
            }
        }
        Ok(())
    }

    fn guard(
        &self,
        i: usize,
        g: &GuardDef,
        settings: &SettingsDef,
        set: SetId,
    ) -> Result<Guard, SourceError> {
        if !(0.0..=1.0).contains(&g.factor) {
            return Err(self.err(
                &toml_path!["guards", i, "factor"],
                format!("factor {} is outside [0, 1]", g.factor),
                Some("0 cancels a guarded cue, 1 leaves it unchanged".into()),
            ));
        }
        if g.window == Some(0) {
            return Err(self.err(
                &toml_path!["guards", i, "window"],
                "`window` must be greater than 0",
                None,
            ));
        }
        if g.signals.is_empty() {
            return Err(self.err(
                &toml_path!["guards", i, "signals"],
                "a guard must name the signals it applies to",
                None,
            ));
        }
        let mut signals = 0u8;
        for (j, name) in g.signals.iter().enumerate() {
            signals |= signal_bit(self.signal_name(name, &toml_path!["guards", i, "signals", j])?);
        }
        Ok(Guard {
            scope: g.scope,
            window: g.window.unwrap_or(settings.guard_window),
            factor: g.factor,
            signals,
            set,
        })
    }

    fn group_id(
        &self,
        group_ids: &BTreeMap<&str, SetId>,
        name: &str,
        path: &[PathSeg],
    ) -> Result<SetId, SourceError> {
        group_ids.get(name).copied().ok_or_else(|| {
            let hint = nearest(name, group_ids.keys().copied())
                .map(|n| format!("did you mean `{n}`?"))
                .or_else(|| Some("groups are defined as [groups.NAME]".into()));
            self.err(path, format!("unknown group `{name}`"), hint)
        })
    }

    fn signal_name(&self, name: &str, path: &[PathSeg]) -> Result<SignalKind, SourceError> {
        name.parse::<SignalKind>().map_err(|message| {
            let hint = nearest(name, SignalKind::ALL.iter().map(|k| k.as_str()))
                .map(|n| format!("did you mean `{n}`?"));
            self.err(path, message, hint)
        })
    }

    fn new_set(&mut self, role: SetRole, name: String) -> SetId {
        self.set_roles.push(role);
        self.set_names.push(name);
        (self.set_roles.len() - 1) as SetId
    }

    fn add_phrase_set(
        &mut self,
        id: SetId,
        set: &PhraseSetDef,
        path: &[PathSeg],
        needs_phrases: bool,
    ) -> Result<(), SourceError> {
        if needs_phrases && set.en.is_empty() && set.zh.is_empty() {
            return Err(self.err(path, "no phrases: set `en` and/or `zh`", None));
        }
        for (lang, list) in [("en", &set.en), ("zh", &set.zh)] {
            for (i, phrase) in list.iter().enumerate() {
                let mut p = path.to_vec();
                p.push(PathSeg::Key(lang.into()));
                p.push(PathSeg::Index(i));
                self.add_phrase(id, phrase, &p)?;
            }
        }
        if !set.exclude.is_empty() {
            let name = format!("{}.exclude", self.set_names[id as usize]);
            let ex = self.new_set(SetRole::Exclude { target: id }, name);
            for (i, phrase) in set.exclude.iter().enumerate() {
                let mut p = path.to_vec();
                p.push(PathSeg::Key("exclude".into()));
                p.push(PathSeg::Index(i));
                self.add_phrase(ex, phrase, &p)?;
            }
        }
        Ok(())
    }

    fn add_phrase(&mut self, set: SetId, raw: &str, path: &[PathSeg]) -> Result<(), SourceError> {
        let stem = raw.ends_with('*');
        let ending = raw.starts_with('*');
        let text = raw.trim_end_matches('*').trim_start_matches('*');
        // A newline is a meaningful clause break, so only blank-space phrases are refused.
        if text.chars().all(|c| c == ' ') {
            return Err(self.err(
                path,
                format!("empty phrase `{raw}`"),
                Some("remove it from the list".into()),
            ));
        }
        if text.contains('*') {
            return Err(self.err(
                path,
                format!("`*` may only start or end a phrase: `{raw}`"),
                Some(
                    "write `stem*` to match any word that starts with `stem`, `*end` for any \
                     word that ends with `end`"
                        .into(),
                ),
            ));
        }
        let forms = alternatives(text).map_err(|why| {
            self.err(
                path,
                format!("{why} in `{raw}`"),
                Some("write `{a|b}` for alternatives, e.g. `{end|ending} my {own |}life`".into()),
            )
        })?;
        for form in forms {
            let lower = form.to_ascii_lowercase();
            let left = !ending
                && lower
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
            let right = !stem
                && lower
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
            // Traditional Chinese is compiled in rather than folded out of every message: the
            // automaton grows a little and a decision pays nothing for it.
            let traditional = self.scripts.traditional_forms(&lower);
            for written in std::iter::once(lower).chain(traditional) {
                for variant in spellings(&written) {
                    self.add_literal(variant, left, right, set);
                }
            }
        }
        Ok(())
    }

    /// The index of `literal` among the automaton's texts, adding it when new.
    fn text_slot(&mut self, literal: String) -> usize {
        match self.text_index.get(&literal) {
            Some(&index) => index,
            None => {
                self.text_index.insert(literal.clone(), self.texts.len());
                self.texts.push(literal);
                self.variants.push(Vec::new());
                self.texts.len() - 1
            }
        }
    }

    fn add_literal(&mut self, literal: String, left: bool, right: bool, set: SetId) {
        let index = self.text_slot(literal);
        let variants = &mut self.variants[index];
        match variants
            .iter_mut()
            .find(|(l, r, _)| (*l, *r) == (left, right))
        {
            Some((_, _, sets)) if sets.contains(&set) => {}
            Some((_, _, sets)) => sets.push(set),
            None => variants.push((left, right, vec![set])),
        }
    }
}

/// Upper bound on the forms one phrase expands to, so a typo cannot blow up the automaton.
const MAX_FORMS: usize = 256;

/// The forms a phrase with `{a|b}` alternatives stands for: "{end|ending} my {own |}life" is
/// "end my own life", "end my life", "ending my own life", "ending my life". An alternative
/// may be empty; groups do not nest.
fn alternatives(phrase: &str) -> Result<Vec<String>, String> {
    let mut forms = vec![String::new()];
    let mut rest = phrase;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("`}` without `{`".into());
        }
        let close = rest[open + 1..]
            .find(['{', '}'])
            .filter(|&i| rest[open + 1 + i..].starts_with('}'))
            .ok_or("`{` without its `}` (groups do not nest)")?;
        let options: Vec<&str> = rest[open + 1..open + 1 + close].split('|').collect();
        if options.len() < 2 {
            return Err("a `{…}` group needs at least two alternatives".into());
        }
        let head = &rest[..open];
        forms = forms
            .iter()
            .flat_map(|f| options.iter().map(move |o| format!("{f}{head}{o}")))
            .collect();
        if forms.len() > MAX_FORMS {
            return Err(format!("more than {MAX_FORMS} forms"));
        }
        rest = &rest[open + 1 + close + 1..];
    }
    for f in &mut forms {
        f.push_str(rest);
        // Collapse the double space an empty alternative leaves ("my {own |}life" is fine,
        // "my {own|} life" would leave "my  life").
        while f.contains("  ") {
            *f = f.replace("  ", " ");
        }
        *f = f.trim_matches(' ').to_string();
    }
    if forms.iter().any(String::is_empty) {
        return Err("an alternative leaves the phrase empty".into());
    }
    Ok(forms)
}

/// The spellings a phrase matches: as written, and for apostrophes the curly and bare forms
/// people actually type ("don’t", "dont").
fn spellings(phrase: &str) -> Vec<String> {
    if !phrase.contains('\'') {
        return vec![phrase.to_string()];
    }
    vec![
        phrase.to_string(),
        phrase.replace('\'', "\u{2019}"),
        phrase.replace('\'', ""),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[settings]
cooccurrence_window = 120
guard_window = 40
min_report_score = 0.2
evidence_max_bytes = 80

[context]
long_context_base = 0.6
escalation_medium = 0.7
escalation_high = 0.9

[breaks]
en = [".", ","]

[groups.options]
en = ["two offers"]
zh = ["两个offer"]

[groups.tension]
en = ["can't decide"]

[[guards]]
name = "negation"
scope = "before"
factor = 0.0
signals = ["complex_decision"]
en = ["not"]

[[rules]]
signal = "complex_decision"
all = ["options", "tension"]
score = 0.8
"#;

    fn parse_err(src: &str) -> SourceError {
        match Lexicon::parse("signals.toml", src) {
            Ok(_) => panic!("expected an error for:\n{src}"),
            Err(e) => e,
        }
    }

    #[test]
    fn builtin_lexicon_loads() {
        let lex = Lexicon::builtin().unwrap_or_else(|e| panic!("{e}"));
        assert!(lex.pattern_count() > 100);
        assert!(lex.group_names().count() >= 7);
    }

    #[test]
    fn minimal_lexicon_loads() {
        let lex = Lexicon::parse("signals.toml", MINIMAL).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lex.rules.len(), 1);
        assert_eq!(lex.guards[0].window, 40);
        // "can't decide" adds curly and bare spellings.
        assert!(lex.pattern_count() >= 7);
    }

    #[test]
    fn unknown_signal_names_line_key_and_suggests() {
        let src = MINIMAL.replace(
            "signal = \"complex_decision\"\nall",
            "signal = \"complex_decisions\"\nall",
        );
        let e = parse_err(&src);
        assert_eq!(e.file, "signals.toml");
        assert_eq!(e.key, "rules[0].signal");
        assert_eq!(
            e.line,
            src.lines()
                .position(|l| l.contains("complex_decisions"))
                .unwrap()
                + 1
        );
        assert_eq!(e.hint.as_deref(), Some("did you mean `complex_decision`?"));
    }

    #[test]
    fn unknown_group_in_rule_is_located() {
        let src = MINIMAL.replace(
            "all = [\"options\", \"tension\"]",
            "all = [\"options\", \"tensions\"]",
        );
        let e = parse_err(&src);
        assert_eq!(e.key, "rules[0].all[1]");
        assert!(e.message.contains("unknown group `tensions`"), "{e}");
        assert_eq!(e.hint.as_deref(), Some("did you mean `tension`?"));
        assert!(e.line > 1);
    }

    #[test]
    fn unknown_group_in_a_guard_is_located() {
        let src = MINIMAL.replace(
            "signals = [\"complex_decision\"]\nen = [\"not\"]",
            "signals = [\"complex_decision\"]\ngroups = [\"optons\"]\nen = [\"not\"]",
        );
        let e = parse_err(&src);
        assert_eq!(e.key, "guards[0].groups[0]");
        assert!(e.message.contains("unknown group `optons`"), "{e}");
        assert_eq!(e.hint.as_deref(), Some("did you mean `options`?"));
    }

    #[test]
    fn unknown_crisis_model_cue_is_located() {
        let src = MINIMAL.replace(
            "evidence_max_bytes = 80",
            "evidence_max_bytes = 80\ncrisis_model_cues = [\"optoins\"]",
        );
        let e = parse_err(&src);
        assert_eq!(e.key, "settings.crisis_model_cues[0]");
        assert!(e.message.contains("unknown group `optoins`"), "{e}");
        assert_eq!(e.hint.as_deref(), Some("did you mean `options`?"));
    }

    #[test]
    fn score_out_of_range_is_refused() {
        let src = MINIMAL.replace("score = 0.8", "score = 1.5");
        let e = parse_err(&src);
        assert_eq!(e.key, "rules[0].score");
        assert_eq!(
            e.line,
            src.lines().position(|l| l.contains("1.5")).unwrap() + 1
        );
    }

    #[test]
    fn empty_phrase_and_misplaced_star_are_refused() {
        let src = MINIMAL.replace("en = [\"two offers\"]", "en = [\"two offers\", \" \"]");
        let e = parse_err(&src);
        assert_eq!(e.key, "groups.options.en[1]");
        assert!(e.message.contains("empty phrase"));

        let src = MINIMAL.replace("\"two offers\"", "\"two*offers\"");
        let e = parse_err(&src);
        assert_eq!(e.key, "groups.options.en[0]");
        assert!(e.message.contains("`*` may only start or end a phrase"));
    }

    #[test]
    fn unused_group_and_unknown_field_are_refused() {
        let src = MINIMAL.replace(
            "[groups.tension]",
            "[groups.spare]\nen = [\"x\"]\n\n[groups.tension]",
        );
        let e = parse_err(&src);
        assert_eq!(e.key, "groups.spare");
        assert!(e.message.contains("not used by any rule"));

        let src = MINIMAL.replace("factor = 0.0", "factor = 0.0\nfactr = 1");
        let e = parse_err(&src);
        assert!(e.message.contains("unknown field"), "{e}");
        assert_eq!(
            e.line,
            src.lines().position(|l| l.starts_with("factr")).unwrap() + 1
        );
    }

    #[test]
    fn guard_factor_scope_and_long_context_rule_are_checked() {
        let e = parse_err(&MINIMAL.replace("factor = 0.0", "factor = -1.0"));
        assert_eq!(e.key, "guards[0].factor");
        let e = parse_err(&MINIMAL.replace("scope = \"before\"", "scope = \"sentence\""));
        assert!(e.message.contains("unknown variant"), "{e}");
        let e = parse_err(&MINIMAL.replace(
            "signal = \"complex_decision\"\nall",
            "signal = \"long_context\"\nall",
        ));
        assert_eq!(e.key, "rules[0].signal");
        let e = parse_err(&MINIMAL.replace("escalation_high = 0.9", "escalation_high = 9.0"));
        assert_eq!(e.key, "context.escalation_high");
    }

    #[test]
    fn apostrophes_get_curly_and_bare_spellings() {
        assert_eq!(
            spellings("can't decide"),
            vec!["can't decide", "can\u{2019}t decide", "cant decide"]
        );
        assert_eq!(spellings("两个offer"), vec!["两个offer"]);
    }

    #[test]
    fn alternatives_expand_every_combination() {
        assert_eq!(
            alternatives("{end|ending} my {own |}life").unwrap(),
            vec![
                "end my own life",
                "end my life",
                "ending my own life",
                "ending my life"
            ]
        );
        assert_eq!(
            alternatives("{|just }die").unwrap(),
            vec!["die", "just die"]
        );
        assert_eq!(alternatives("想{死|去死}").unwrap(), vec!["想死", "想去死"]);
        assert_eq!(alternatives("plain").unwrap(), vec!["plain"]);
    }

    #[test]
    fn malformed_alternatives_are_refused_with_their_line() {
        for (phrase, why) in [
            ("{end|ending my life", "without its `}`"),
            ("end} my life", "`}` without `{`"),
            ("{end} my life", "at least two"),
            ("{a|{b|c}}", "do not nest"),
            ("{a|} {|}", "empty"),
            ("{a|b|c|d}{a|b|c|d}{a|b|c|d}{a|b|c|d}{a|b}", "more than 256"),
        ] {
            let src = MINIMAL.replace("\"two offers\"", &format!("\"{phrase}\""));
            let e = parse_err(&src);
            let text = e.to_string();
            assert!(text.contains(why), "{phrase}: {text}");
            assert!(text.contains(":17:"), "{phrase} names no line: {text}");
        }
    }

    #[test]
    fn lexicon_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Lexicon>();
    }
}
