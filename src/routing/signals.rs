//! Deterministic signal detectors: one pass of the lexicon's automaton over the message, then
//! look-alike exclusions, guards (negation, past, resolved) and rule scoring on the handful of
//! matches found. Context facts (turn count, escalation risk) add `long_context` and
//! `escalation_prep`.
//!
//! Scoring: a rule names 1–3 concept groups that must all match, on distinct phrases, within
//! the co-occurrence window; its instance score is the rule score times the factors of any
//! guards covering the phrases used. A signal's score combines the best instance of each of
//! its rules as a noisy-or, `1 - Π(1 - s)`, so independent evidence adds up but never passes 1.
//!
//! `crisis` has a second opinion: the crisis model (`crisis_model.rs`), asked only when a
//! crisis cue is present; the higher of the two scores wins.

use std::cell::Cell;

use crate::routing::crisis_model::CompiledModel;
use crate::routing::lexicon::{GuardScope, Lexicon, Rule, SetId, SetRole, signal_bit};
use crate::routing::types::{
    EscalationRisk, Safety, Signal, SignalContext, SignalKind, SignalSource,
};

/// A signal with score >= this triggers an upgrade.
pub const DEFAULT_UPGRADE_THRESHOLD: f32 = 0.5;

/// One phrase match in the message.
#[derive(Debug, Clone, Copy)]
struct Hit {
    start: u32,
    end: u32,
    set: SetId,
    live: bool,
    /// Index of this hit in `Hits::hits`.
    index: u32,
}

/// The matches of one message, indexed by set.
struct Hits {
    hits: Vec<Hit>,
    /// Hit indices grouped by set, each group in match order (by end).
    by_set: Vec<u32>,
    /// Per set: its range of `by_set`.
    set_ranges: Vec<(u32, u32)>,
    /// Clause breaks as (start, end), sorted by start.
    breaks: Vec<(u32, u32)>,
    /// Per hit: bit `i` set when guard `i` covers it; `UNKNOWN` until first asked.
    guard_masks: Vec<Cell<u32>>,
    /// Bit `i` set when guard `i` matched anywhere: most messages trip no guard at all.
    guards_present: u32,
    /// The message, ASCII-lowercased (same byte offsets), for the crisis model's own scan.
    lowered: String,
    any_exclusion: bool,
}

const UNKNOWN: u32 = u32::MAX;

impl Hits {
    fn indices_of(&self, set: SetId) -> &[u32] {
        let (from, to) = self.set_ranges[set as usize];
        &self.by_set[from as usize..to as usize]
    }

    /// The live hits of `set`, in match order.
    fn of_set(&self, set: SetId) -> impl Iterator<Item = &Hit> {
        self.indices_of(set)
            .iter()
            .map(|&i| &self.hits[i as usize])
            .filter(|h| h.live)
    }

    /// The live hits of `set` that could share a `window`-byte span with `anchor`: a cheap
    /// necessary bound (binary search on ends), the exact span is checked by the caller.
    fn near(&self, set: SetId, anchor: &Hit, window: u32) -> impl Iterator<Item = &Hit> {
        let indices = self.indices_of(set);
        let first = indices
            .partition_point(|&i| self.hits[i as usize].end.saturating_add(window) < anchor.end);
        let last_end = anchor.start.saturating_add(window);
        indices[first..]
            .iter()
            .map(|&i| &self.hits[i as usize])
            .take_while(move |h| h.end <= last_end)
            .filter(|h| h.live)
    }
}

/// The best instance of one rule: its score and the byte span of the phrases it used.
#[derive(Debug, Clone, Copy)]
struct Instance {
    score: f32,
    parts: [(u32, u32); 3],
    len: usize,
}

impl Instance {
    fn spans(&self) -> &[(u32, u32)] {
        &self.parts[..self.len]
    }

    /// Whether the two instances use any of the same words.
    fn overlaps(&self, other: &Instance) -> bool {
        self.spans()
            .iter()
            .any(|a| other.spans().iter().any(|b| a.0 < b.1 && b.0 < a.1))
    }
}

/// Runs every detector on one message. At most one `Signal` per kind, sorted by score
/// (highest first); signals below the lexicon's `min_report_score` are left out.
pub fn detect(lexicon: &Lexicon, ctx: &SignalContext<'_>) -> Vec<Signal> {
    let hits = scan(lexicon, ctx.message);
    let mut out: Vec<Signal> = Vec::new();

    // Sized once for the few dozen rule instances a long message may have: letting it grow
    // from empty measured about 0.4 µs slower per decision.
    let mut found: Vec<(SignalKind, Instance)> = Vec::with_capacity(32);
    for rule in &lexicon.rules {
        if let Some(inst) = best_instance(lexicon, &hits, rule) {
            found.push((rule.signal, inst));
        }
    }
    combine(lexicon, ctx.message, &mut found, &mut out);

    if let Some(model) = &lexicon.crisis_model {
        detect_with_model(lexicon, model, &hits, ctx.message, &mut out);
    }

    detect_context(lexicon, ctx, &mut out);

    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.kind.cmp(&a.kind)));
    out
}

/// Per signal, a noisy-or over the rule instances that rest on different words: two rules
/// reading the same phrase are one piece of evidence, not two. Kept out of `detect`'s hot
/// loop on purpose (written inline, it kept the rule matching from being inlined into the
/// scan and cost about 0.3 µs per decision).
#[inline(never)]
fn combine(
    lexicon: &Lexicon,
    message: &str,
    found: &mut [(SignalKind, Instance)],
    out: &mut Vec<Signal>,
) {
    found.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.score.total_cmp(&a.1.score)));
    for same_kind in found.chunk_by(|a, b| a.0 == b.0) {
        let (kind, best) = same_kind[0];
        let mut miss = 1.0 - best.score;
        let mut taken = 1u64; // bit `i`: instance `i` is counted (a signal has few rules)
        for (i, (_, inst)) in same_kind.iter().enumerate().take(64).skip(1) {
            let disjoint = same_kind[..i]
                .iter()
                .enumerate()
                .all(|(j, (_, t))| taken & (1 << j) == 0 || !t.overlaps(inst));
            if disjoint {
                miss *= 1.0 - inst.score;
                taken |= 1 << i;
            }
        }
        push_max(out, kind, 1.0 - miss, lexicon.min_report_score, || {
            evidence(message, &best, lexicon.evidence_max_bytes)
        });
    }
}

/// `long_context` from the turn count and `escalation_prep` from the known risk level.
fn detect_context(lexicon: &Lexicon, ctx: &SignalContext<'_>, out: &mut Vec<Signal>) {
    let c = &lexicon.context;
    if ctx.prior_turns > ctx.long_context_turns {
        let excess = (ctx.prior_turns - ctx.long_context_turns) as f32;
        let growth = if ctx.long_context_turns == 0 {
            1.0
        } else {
            (excess / ctx.long_context_turns as f32).min(1.0)
        };
        let score = c.long_context_base + (1.0 - c.long_context_base) * growth;
        push_max(
            out,
            SignalKind::LongContext,
            score,
            lexicon.min_report_score,
            || {
                format!(
                    "{} prior turns (> {})",
                    ctx.prior_turns, ctx.long_context_turns
                )
            },
        );
    }
    let risk_score = match ctx.escalation_risk {
        EscalationRisk::Medium => Some(c.escalation_medium),
        EscalationRisk::High => Some(c.escalation_high),
        EscalationRisk::None | EscalationRisk::Low => None,
    };
    if let Some(score) = risk_score {
        push_max(
            out,
            SignalKind::EscalationPrep,
            score,
            lexicon.min_report_score,
            || format!("escalation risk: {}", ctx.escalation_risk.as_str()),
        );
    }
}

/// Adds a signal, or raises the existing one of the same kind when this score is higher.
fn push_max(
    out: &mut Vec<Signal>,
    kind: SignalKind,
    score: f32,
    min_score: f32,
    evidence: impl FnOnce() -> String,
) {
    let score = score.clamp(0.0, 1.0);
    if score < min_score || score == 0.0 {
        return;
    }
    match out.iter_mut().find(|s| s.kind == kind) {
        Some(existing) if existing.score >= score => {}
        Some(existing) => {
            existing.score = score;
            existing.evidence = evidence();
        }
        None => out.push(Signal {
            kind,
            score,
            evidence: evidence(),
            source: SignalSource::Deterministic,
        }),
    }
}

/// The safety level of a set of signals: crisis at or above `threshold` wins, then distress.
pub fn safety_of(signals: &[Signal], threshold: f32) -> Safety {
    let fired = |kind| {
        signals
            .iter()
            .any(|s| s.kind == kind && s.score >= threshold)
    };
    if fired(SignalKind::Crisis) {
        Safety::Crisis
    } else if fired(SignalKind::Distress) {
        Safety::Distress
    } else {
        Safety::None
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// One automaton pass: every phrase match that sits on its word boundaries, with look-alike
/// exclusions already applied.
fn scan(lexicon: &Lexicon, original: &str) -> Hits {
    // ASCII lowercasing keeps every byte offset, so matches (and evidence) index the original.
    // Traditional Chinese needs no pass here: the lexicon compiled its spellings in.
    let lowered = original.to_ascii_lowercase();
    let text = lowered.as_str();
    let bytes = text.as_bytes();
    let mut hits: Vec<Hit> = Vec::with_capacity(128);
    let mut breaks: Vec<(u32, u32)> = Vec::with_capacity(128);
    let mut any_exclusion = false;
    let mut guards_present = 0u32;
    for m in lexicon.matcher.0.find_overlapping_iter(text) {
        let (start, end) = (m.start() as u32, m.end() as u32);
        let word_before = start > 0 && is_word_byte(bytes[start as usize - 1]);
        let word_after = bytes.get(end as usize).is_some_and(|&b| is_word_byte(b));
        for entry in lexicon.entries_of(m.value()) {
            if (entry.left_boundary && word_before) || (entry.right_boundary && word_after) {
                continue;
            }
            match entry.role {
                // Breaks are never cancelled (the lexicon refuses exclusions for them), so
                // they go straight to their own list.
                SetRole::Break => {
                    breaks.push((start, end));
                    continue;
                }
                SetRole::Exclude { .. } => any_exclusion = true,
                SetRole::Guard(i) => guards_present |= 1 << i,
                SetRole::Group => {}
            }
            hits.push(Hit {
                start,
                end,
                set: entry.set,
                live: true,
                index: hits.len() as u32,
            });
        }
    }

    // Look-alikes: "long-term parking" cancels the "long-term" it contains. A cancelled guard
    // phrase still counts in `guards_present`, which only ever makes the guard check run.
    if any_exclusion {
        for i in 0..hits.len() {
            if let SetRole::Exclude { target } = lexicon.set_roles[hits[i].set as usize] {
                let (s, e) = (hits[i].start, hits[i].end);
                for h in hits.iter_mut() {
                    if h.set == target && h.start < e && s < h.end {
                        h.live = false;
                    }
                }
            }
        }
    }

    // Matches arrive in order of their end; guard reach looks breaks up by start.
    breaks.sort_unstable();
    // Only asked when some guard matched (see `guard_mask`).
    let guard_masks = if guards_present == 0 {
        Vec::new()
    } else {
        vec![Cell::new(UNKNOWN); hits.len()]
    };
    // Counting sort of hit indices by set: each set's hits become one contiguous, ordered run.
    let mut set_ranges = vec![(0u32, 0u32); lexicon.set_roles.len()];
    for h in &hits {
        set_ranges[h.set as usize].1 += 1;
    }
    let mut next_free = 0u32;
    for range in set_ranges.iter_mut() {
        let count = range.1;
        *range = (next_free, next_free);
        next_free += count;
    }
    let mut by_set = vec![0u32; hits.len()];
    for (i, h) in hits.iter().enumerate() {
        let range = &mut set_ranges[h.set as usize];
        by_set[range.1 as usize] = i as u32;
        range.1 += 1;
    }
    Hits {
        hits,
        by_set,
        set_ranges,
        breaks,
        guard_masks,
        guards_present,
        lowered,
        any_exclusion,
    }
}

/// The summed weights of the distinct crisis-model features in the message. Evidence for
/// crisis inside a look-alike phrase ("cut myself some slack") does not count: the lexicon
/// already knows that phrase is harmless.
fn model_weight_sum(lexicon: &Lexicon, model: &CompiledModel, hits: &Hits) -> f32 {
    let mut sum = 0.0;
    let inside_look_alike = |start: u32, end: u32| {
        hits.any_exclusion
            && hits.hits.iter().any(|h| {
                matches!(lexicon.set_roles[h.set as usize], SetRole::Exclude { .. })
                    && h.start <= start
                    && end <= h.end
            })
    };
    // A feature counts once however often it occurs: the model was trained on presence.
    let mut seen = vec![0u64; model.weights.len().div_ceil(64)];
    for (feature, start, end) in model.occurrences(&hits.lowered) {
        let (word, bit) = (feature as usize / 64, 1u64 << (feature % 64));
        let weight = model.weights[feature as usize];
        if seen[word] & bit != 0 || (weight > 0.0 && inside_look_alike(start, end)) {
            continue;
        }
        seen[word] |= bit;
        sum += weight;
    }
    sum
}

/// The best-scoring instance of `rule`, if all its groups match within the window.
fn best_instance(lexicon: &Lexicon, hits: &Hits, rule: &Rule) -> Option<Instance> {
    let window = rule.window;
    let mut best: Option<Instance> = None;
    let mut consider = |parts: &[&Hit]| {
        if best.is_some_and(|b| b.score >= rule.score) {
            return; // guards only lower a score: nothing can beat this instance
        }
        let start = parts.iter().map(|h| h.start).min().unwrap_or(0);
        let end = parts.iter().map(|h| h.end).max().unwrap_or(0);
        if end - start > window {
            return;
        }
        for (i, a) in parts.iter().enumerate() {
            for b in &parts[i + 1..] {
                if a.start < b.end && b.start < a.end {
                    return; // the same words cannot count twice
                }
            }
        }
        let score = rule.score * guard_factor(lexicon, hits, parts, rule.signal);
        if score > 0.0 && best.is_none_or(|b| score > b.score) {
            let mut inst = Instance {
                score,
                parts: [(0, 0); 3],
                len: parts.len(),
            };
            for (slot, h) in inst.parts.iter_mut().zip(parts) {
                *slot = (h.start, h.end);
            }
            best = Some(inst);
        }
    };
    match rule.groups.as_slice() {
        [a] => hits.of_set(*a).for_each(|x| consider(&[x])),
        [a, b] => {
            for x in hits.of_set(*a) {
                for y in hits.near(*b, x, window) {
                    consider(&[x, y]);
                }
            }
        }
        [a, b, c] => {
            for x in hits.of_set(*a) {
                for y in hits.near(*b, x, window) {
                    for z in hits.near(*c, x, window) {
                        consider(&[x, y, z]);
                    }
                }
            }
        }
        _ => {}
    }
    best
}

/// The product of the factors of every guard that applies to `kind` and covers any of the
/// phrases of a rule instance (each guard counts once per instance).
fn guard_factor(lexicon: &Lexicon, hits: &Hits, parts: &[&Hit], kind: SignalKind) -> f32 {
    let covering = parts
        .iter()
        .fold(0u32, |mask, cue| mask | guard_mask(lexicon, hits, cue));
    if covering == 0 {
        return 1.0;
    }
    let mut factor = 1.0;
    for (i, guard) in lexicon.guards.iter().enumerate() {
        if covering & (1 << i) != 0 && guard.signals & signal_bit(kind) != 0 {
            factor *= guard.factor;
        }
    }
    factor
}

/// The crisis model's opinion, asked only next to a crisis cue (most messages have none, and
/// then its scan is skipped).
fn detect_with_model(
    lexicon: &Lexicon,
    model: &CompiledModel,
    hits: &Hits,
    message: &str,
    out: &mut Vec<Signal>,
) {
    let Some((factor, cue)) = crisis_cue(lexicon, hits) else {
        return;
    };
    if factor < model.threshold {
        return; // even certainty would not reach the threshold
    }
    let score = model.probability(model_weight_sum(lexicon, model, hits)) * factor;
    if score >= model.threshold {
        // The model's strongest features are often small words that only mean something
        // together; the cue it was allowed to speak next to is what a reader can check.
        push_max(
            out,
            SignalKind::Crisis,
            score,
            lexicon.min_report_score,
            || {
                let quoted = message
                    .get(cue.start as usize..cue.end as usize)
                    .unwrap_or_default();
                format!("crisis model {score:.2}, near '{quoted}'")
            },
        );
    }
}

/// The phrase that lets the crisis model speak, and how far to trust it: the model needs at
/// least one phrase of the lexicon's `crisis_model_cues` groups (style alone never fires it),
/// and the crisis guards (fiction, a topic, past and recovered) lower it as they lower the
/// rules. The least guarded such phrase is the one returned; `None` when there is none.
fn crisis_cue<'h>(lexicon: &Lexicon, hits: &'h Hits) -> Option<(f32, &'h Hit)> {
    let mut best: Option<(f32, &Hit)> = None;
    for &set in &lexicon.crisis_cue_sets {
        for hit in hits.of_set(set) {
            let factor = guard_factor(lexicon, hits, &[hit], SignalKind::Crisis);
            if best.is_none_or(|(f, _)| factor > f) {
                best = Some((factor, hit));
            }
            if factor >= 1.0 {
                return best;
            }
        }
    }
    best
}

/// Which guards cover `cue` (bit `i` for guard `i`), computed once per hit.
fn guard_mask(lexicon: &Lexicon, hits: &Hits, cue: &Hit) -> u32 {
    let candidates = hits.guards_present & lexicon.guards_of_set[cue.set as usize];
    if candidates == 0 {
        return 0;
    }
    let cached = hits.guard_masks[cue.index as usize].get();
    if cached != UNKNOWN {
        return cached;
    }
    let mut mask = 0u32;
    for (i, guard) in lexicon.guards.iter().enumerate() {
        if candidates & (1 << i) == 0 {
            continue;
        }
        let covers = |g: &Hit| match guard.scope {
            GuardScope::Message => true,
            GuardScope::Before => precedes_in_clause(hits, g, cue, guard.window),
            GuardScope::Clause => {
                precedes_in_clause(hits, g, cue, guard.window)
                    || precedes_in_clause(hits, cue, g, guard.window)
            }
        };
        if hits.of_set(guard.set).any(covers) {
            mask |= 1 << i;
        }
    }
    hits.guard_masks[cue.index as usize].set(mask);
    mask
}

/// `first` ends before `second` starts, within `window` bytes, with no clause break between.
fn precedes_in_clause(hits: &Hits, first: &Hit, second: &Hit, window: u32) -> bool {
    if first.end > second.start || second.start - first.end > window {
        return false;
    }
    let from = hits.breaks.partition_point(|b| b.0 < first.end);
    !hits.breaks[from..]
        .iter()
        .take_while(|b| b.0 < second.start)
        .any(|b| b.1 <= second.start)
}

/// The words that fired a rule: the span covering its phrases when short, otherwise the
/// phrases themselves joined with " … ".
fn evidence(text: &str, inst: &Instance, max_bytes: u32) -> String {
    let parts = &inst.parts[..inst.len];
    let start = parts.iter().map(|p| p.0).min().unwrap_or(0) as usize;
    let end = parts.iter().map(|p| p.1).max().unwrap_or(0) as usize;
    if end - start <= max_bytes as usize {
        return text.get(start..end).unwrap_or_default().to_string();
    }
    let mut sorted = [(0u32, 0u32); 3];
    sorted[..parts.len()].copy_from_slice(parts);
    sorted[..parts.len()].sort_unstable();
    let mut out = String::new();
    for (i, (s, e)) in sorted[..parts.len()].iter().enumerate() {
        if i > 0 {
            out.push_str(" … ");
        }
        out.push_str(text.get(*s as usize..*e as usize).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::OnceLock;

    fn lexicon() -> &'static Lexicon {
        static LEX: OnceLock<Lexicon> = OnceLock::new();
        LEX.get_or_init(|| Lexicon::builtin().unwrap_or_else(|e| panic!("{e}")))
    }

    fn run(message: &str) -> Vec<Signal> {
        run_with(lexicon(), message)
    }

    /// A fresh message (no risk, a few turns in) through `lex`.
    fn run_with(lex: &Lexicon, message: &str) -> Vec<Signal> {
        detect(
            lex,
            &SignalContext {
                message,
                prior_turns: 3,
                escalation_risk: EscalationRisk::None,
                long_context_turns: 40,
            },
        )
    }

    fn score(message: &str, kind: SignalKind) -> f32 {
        run(message)
            .iter()
            .find(|s| s.kind == kind)
            .map_or(0.0, |s| s.score)
    }

    fn fires(message: &str, kind: SignalKind) -> bool {
        score(message, kind) >= DEFAULT_UPGRADE_THRESHOLD
    }

    fn upgrades(message: &str) -> bool {
        run(message)
            .iter()
            .any(|s| s.score >= DEFAULT_UPGRADE_THRESHOLD)
    }

    #[test]
    fn paraphrased_decisions_fire() {
        for m in [
            "two companies want me and I can't pick",
            "I'm torn between staying and moving to Berlin",
            "这两个offer我不知道选哪个",
            "I have three job offers, each with different trade-offs",
        ] {
            assert!(fires(m, SignalKind::ComplexDecision), "{m}: {:?}", run(m));
        }
    }

    #[test]
    fn reflection_and_strategy_paraphrases_fire() {
        assert!(fires(
            "I keep doing this to myself",
            SignalKind::DeepReflection
        ));
        assert!(fires(
            "为什么我总是在关键时刻退缩",
            SignalKind::DeepReflection
        ));
        assert!(fires(
            "I'm planning a career pivot into product design",
            SignalKind::StrategicPlanning
        ));
        assert!(fires(
            "我在考虑转行做数据分析",
            SignalKind::StrategicPlanning
        ));
    }

    #[test]
    fn negation_suppresses() {
        assert!(!upgrades("I'm not thinking about a career change"));
        assert!(!upgrades("我没有想换工作，只是想把作息调整好"));
        assert!(!upgrades(
            "I don't need a therapist, I just want to plan my week"
        ));
    }

    #[test]
    fn past_and_resolved_suppress() {
        assert!(!upgrades("I used to self-sabotage but I'm fine now"));
        assert!(!upgrades(
            "I already signed the offer, now I want to plan my first week"
        ));
        assert!(!upgrades("offer已经签了，想准备一下入职第一周"));
        assert!(!upgrades("我以前总是拖延，现在好多了"));
    }

    #[test]
    fn look_alikes_do_not_fire() {
        for m in [
            "Where is the long-term parking at the airport?",
            "I found a pattern for my knitting project",
            "Does the laptop come with a 5 year warranty?",
            "This deadline is killing me",
            "I could kill for a coffee right now",
            "Cut myself some slack today and took a nap",
            "好久不见，想死你了！",
        ] {
            assert!(!upgrades(m), "{m}: {:?}", run(m));
        }
    }

    #[test]
    fn crisis_fires_with_high_score_in_both_languages() {
        for m in [
            "I don't want to be here anymore",
            "I want to end it all",
            "I've been cutting myself again",
            "I keep thinking about killing myself",
            "不想活了",
            "我想结束自己的生命",
            "我最近一直在伤害自己",
        ] {
            let s = score(m, SignalKind::Crisis);
            assert!(s >= 0.9, "{m}: {s}");
            assert_eq!(
                safety_of(&run(m), DEFAULT_UPGRADE_THRESHOLD),
                Safety::Crisis
            );
        }
    }

    #[test]
    fn curly_apostrophes_and_case_match() {
        assert!(fires("I DON’T WANT TO BE HERE ANYMORE", SignalKind::Crisis));
        assert!(fires(
            "Two companies want me and I cant pick",
            SignalKind::ComplexDecision
        ));
    }

    #[test]
    fn context_signals_carry_evidence() {
        let lex = lexicon();
        let ctx = SignalContext {
            message: "ok, next step",
            prior_turns: 52,
            escalation_risk: EscalationRisk::High,
            long_context_turns: 40,
        };
        let signals = detect(lex, &ctx);
        let long = signals
            .iter()
            .find(|s| s.kind == SignalKind::LongContext)
            .unwrap_or_else(|| panic!("{signals:?}"));
        assert_eq!(long.evidence, "52 prior turns (> 40)");
        assert!(long.score >= DEFAULT_UPGRADE_THRESHOLD);
        let esc = signals
            .iter()
            .find(|s| s.kind == SignalKind::EscalationPrep)
            .unwrap_or_else(|| panic!("{signals:?}"));
        assert_eq!(esc.evidence, "escalation risk: high");
        assert!(esc.score >= 0.9);

        let at_limit = SignalContext {
            prior_turns: 40,
            escalation_risk: EscalationRisk::Low,
            ..ctx
        };
        assert!(detect(lex, &at_limit).is_empty());
    }

    #[test]
    fn output_is_sorted_unique_and_deterministic() {
        let m = "I'm burned out, torn between two offers, and I keep sabotaging myself";
        let signals = run(m);
        assert!(signals.windows(2).all(|w| w[0].score >= w[1].score));
        for kind in SignalKind::ALL {
            assert!(signals.iter().filter(|s| s.kind == kind).count() <= 1);
        }
        assert!(
            signals
                .iter()
                .all(|s| s.source == SignalSource::Deterministic)
        );
        assert!(signals.iter().all(|s| (0.0..=1.0).contains(&s.score)));
        assert_eq!(signals, run(m));
    }

    #[test]
    fn evidence_quotes_the_message() {
        let signals = run("Honestly two companies want me and I can't pick.");
        let cd = signals
            .iter()
            .find(|s| s.kind == SignalKind::ComplexDecision)
            .unwrap_or_else(|| panic!("{signals:?}"));
        assert!(cd.evidence.contains("can't pick"), "{}", cd.evidence);
    }

    #[test]
    fn safety_prefers_crisis_then_distress() {
        let sig = |kind, score| Signal {
            kind,
            score,
            evidence: String::new(),
            source: SignalSource::Deterministic,
        };
        let both = [
            sig(SignalKind::Distress, 0.8),
            sig(SignalKind::Crisis, 0.95),
        ];
        assert_eq!(safety_of(&both, 0.5), Safety::Crisis);
        let weak_crisis = [sig(SignalKind::Distress, 0.8), sig(SignalKind::Crisis, 0.3)];
        assert_eq!(safety_of(&weak_crisis, 0.5), Safety::Distress);
        assert_eq!(
            safety_of(&[sig(SignalKind::Distress, 0.4)], 0.5),
            Safety::None
        );
    }

    #[test]
    fn negation_stops_at_clause_breaks() {
        // "not" negates "happy", not the decision after the comma.
        assert!(fires(
            "I'm not happy at work, and I'm torn between two offers",
            SignalKind::ComplexDecision
        ));
        // Phrases that contain a negation but do not negate ("not sure which") keep the cue.
        assert!(fires(
            "I'm not sure which offer to take, they both have real downsides",
            SignalKind::ComplexDecision
        ));
        // 是不是 is a question, not a negation.
        assert!(fires("我是不是该转行了？", SignalKind::StrategicPlanning));
    }

    #[test]
    fn weak_evidence_is_reported_below_the_threshold() {
        let s = score(
            "Why do I always feel sleepy after lunch?",
            SignalKind::DeepReflection,
        );
        assert!(s > 0.0 && s < DEFAULT_UPGRADE_THRESHOLD, "{s}");
    }

    #[test]
    fn crisis_concepts_cover_means_farewell_burden_and_pointlessness() {
        for m in [
            "I've been stockpiling my meds for weeks",
            "This is my final message. You won't hear from me after tonight.",
            "I'm just a burden on my family, I want to end it",
            "Honestly, what's the point of living like this",
            "I pray I never wake up again",
            "我把存的药都准备好了，打算一口气吃下去",
            "人生真的毫无意义",
            "我就是家里的拖累，不如一了百了",
            "给妈妈的信写好了，以后也用不到这些了，再见",
        ] {
            assert!(fires(m, SignalKind::Crisis), "{m}: {:?}", run(m));
        }
    }

    #[test]
    fn crisis_look_alikes_and_recovered_past_stay_quiet() {
        for m in [
            "I want to see Japan before I die",
            "死之前想去一次西藏",
            "I failed my driving test, going to try again next month",
            "Pretty sure I overdosed on coffee this morning, I'm jittery",
            "We're going to end this project and start a new one",
            "帮我做个三年计划，我想自己创业",
            "I hurt myself at the gym, nothing serious",
            "Years ago I had suicidal thoughts, but that's behind me and I'm doing well",
            "十年前有过轻生的念头，现在已经走出来了",
        ] {
            assert!(!fires(m, SignalKind::Crisis), "{m}: {:?}", run(m));
        }
    }

    #[test]
    fn crisis_ignores_generic_negation_but_honours_explicit_denial() {
        // "can't stop" must not cancel the crisis cue that follows it.
        assert!(fires(
            "I can't stop thinking about killing myself",
            SignalKind::Crisis
        ));
        assert!(!fires(
            "I'm not suicidal, just exhausted by this project",
            SignalKind::Crisis
        ));
    }

    #[test]
    fn a_trade_lowers_the_words_of_the_topic_not_a_statement() {
        for m in [
            "I'm a pharmacist and customers keep asking about paracetamol overdose limits",
            "我是派出所民警，上个月劝下来一个想轻生的人，单位让我写材料",
        ] {
            assert!(!fires(m, SignalKind::Crisis), "{m}: {:?}", run(m));
        }
        for m in [
            "I'm a nurse and I'm suicidal. I took potassium home from the ward",
            "ICU nurse here and I want to kill myself after this shift",
            "我是急诊科护士，我想自杀",
            "每天睁眼第一件事就是想自杀，上班也想",
            // Patients and shift workers are not a trade.
            "after my night shift I want to overdose",
            "作为抑郁症患者，我最近总想着割腕",
        ] {
            assert!(fires(m, SignalKind::Crisis), "{m}: {:?}", run(m));
        }
    }

    const MINI: &str = r#"
[settings]
cooccurrence_window = 40
guard_window = 20
min_report_score = 0.1
evidence_max_bytes = 30

[context]
long_context_base = 0.6
escalation_medium = 0.7
escalation_high = 0.9

[breaks]
en = [","]

[groups.a]
en = ["alpha"]
exclude = ["alpha beta"]

[groups.b]
en = ["gamma", "delta*"]

[groups.c]
en = ["epsilon", "*zeta"]

[[guards]]
name = "past"
scope = "clause"
factor = 0.5
signals = ["deep_reflection"]
en = ["once"]

[[guards]]
name = "resolved"
scope = "message"
factor = 0.5
signals = ["deep_reflection"]
en = ["done"]

[[guards]]
name = "trade"
scope = "message"
factor = 0.5
signals = ["deep_reflection"]
groups = ["c"]
en = ["trade"]

[[rules]]
signal = "deep_reflection"
all = ["a", "b"]
score = 0.8

[[rules]]
signal = "deep_reflection"
all = ["c"]
score = 0.7
"#;

    fn mini(message: &str) -> f32 {
        let lex = Lexicon::parse("mini.toml", MINI).unwrap_or_else(|e| panic!("{e}"));
        run_with(&lex, message).first().map_or(0.0, |s| s.score)
    }

    #[test]
    fn rules_need_all_groups_within_the_window() {
        assert!((mini("alpha then gamma") - 0.8).abs() < 1e-6);
        assert_eq!(mini("alpha alone"), 0.0);
        let far = format!("alpha {} gamma", "x".repeat(60));
        assert_eq!(mini(&far), 0.0);
        // Stems match word prefixes; plain phrases need a word boundary.
        assert!(mini("alpha deltas") > 0.0);
        assert_eq!(mini("alphabet gamma"), 0.0);
        // A leading `*` matches a word ending, for words typed without spaces.
        assert!((mini("betazeta") - 0.7).abs() < 1e-6);
        assert_eq!(mini("zetas"), 0.0);
    }

    #[test]
    fn exclusions_and_guard_scopes() {
        assert_eq!(mini("alpha beta gamma"), 0.0, "look-alike cancels the cue");
        // `clause` guard reaches either side, but not across a break.
        assert!((mini("once alpha gamma") - 0.4).abs() < 1e-6);
        assert!((mini("alpha gamma once") - 0.4).abs() < 1e-6);
        assert!((mini("once, alpha gamma") - 0.8).abs() < 1e-6);
        // `message` guard applies anywhere; factors multiply.
        assert!((mini("alpha gamma, all done") - 0.4).abs() < 1e-6);
        assert!((mini("once alpha gamma, all done") - 0.2).abs() < 1e-6);
        // A guard restricted to some groups lowers only their phrases.
        assert!((mini("epsilon, in my trade") - 0.35).abs() < 1e-6);
        assert!((mini("alpha gamma, in my trade") - 0.8).abs() < 1e-6);
    }

    #[test]
    fn word_boundaries_hold_for_english_only() {
        // "torn" must not match inside "stornello"; Chinese cues match inside running text.
        assert!(!fires(
            "stornello between two verses",
            SignalKind::ComplexDecision
        ));
        assert!(fires(
            "我最近真的快崩溃了，每天都在哭",
            SignalKind::Distress
        ));
    }

    const CRISIS_MINI: &str = r#"
[settings]
cooccurrence_window = 40
guard_window = 30
min_report_score = 0.1
evidence_max_bytes = 60
crisis_model_cues = ["means"]

[context]
long_context_base = 0.6
escalation_medium = 0.7
escalation_high = 0.9

[breaks]
en = [","]

[groups.means]
en = ["pills"]
exclude = ["vitamin pills"]

[groups.act]
en = ["swallow all"]

[[guards]]
name = "fiction"
scope = "clause"
factor = 0.5
signals = ["crisis"]
en = ["novel"]

[[rules]]
signal = "crisis"
all = ["means", "act"]
score = 0.9
"#;

    const MODEL_MINI: &str = r#"
[model]
bias = -3.0
threshold = 0.6

[features]
"pills" = 1.5
"tonight" = 2.0
"alone tonight" = 0.5
"nothing" = -3.0
"vitamin" = 0.1
"#;

    fn crisis_mini(message: &str) -> Option<Signal> {
        let model = crate::routing::crisis_model::CrisisModel::parse("m.toml", MODEL_MINI)
            .unwrap_or_else(|e| panic!("{e}"));
        let lex = Lexicon::parse_with_model("mini.toml", CRISIS_MINI, Some(&model))
            .unwrap_or_else(|e| panic!("{e}"));
        run_with(&lex, message)
            .into_iter()
            .find(|s| s.kind == SignalKind::Crisis)
    }

    #[test]
    fn the_crisis_model_catches_what_no_rule_names() {
        // No rule fires ("swallow all" is missing); the features sum to 1.5 + 2.0 + 0.5.
        let s = crisis_mini("the pills, alone tonight").unwrap_or_else(|| panic!("no crisis"));
        let expected = 1.0 / (1.0 + (-(1.0f32)).exp());
        assert!((s.score - expected).abs() < 1e-5, "{}", s.score);
        // The evidence names the cue the model spoke next to.
        assert_eq!(s.evidence, "crisis model 0.73, near 'pills'");
        // A feature counts once, however often it occurs.
        let twice = crisis_mini("pills pills, alone tonight tonight").map(|s| s.score);
        assert_eq!(twice, Some(s.score));
        // Negative evidence pulls it under the threshold.
        assert!(crisis_mini("the pills, alone tonight, nothing").is_none());
    }

    #[test]
    fn the_crisis_model_needs_a_crisis_cue() {
        // Strong features but no phrase of a `crisis_model_cues` group: style alone never fires.
        assert!(crisis_mini("alone tonight, alone tonight").is_none());
    }

    #[test]
    fn the_crisis_model_respects_look_alikes_and_guards() {
        // "vitamin pills" is a look-alike: the cue is cancelled and "pills" inside it does
        // not count for the model.
        assert!(crisis_mini("my vitamin pills, alone tonight").is_none());
        // A fiction guard on the only cue halves the model's score (0.73 → 0.37).
        assert!(crisis_mini("in the novel the pills, alone tonight").is_none());
        // The rules still win where they fire, with their own score.
        let rule = crisis_mini("swallow all the pills").unwrap_or_else(|| panic!("no crisis"));
        assert!((rule.score - 0.9).abs() < 1e-6, "{}", rule.score);
    }

    /// The trainer defines features with `features_of`; the detector finds them with the
    /// automaton. On every labelled message, both must see exactly the same model features.
    #[test]
    fn the_automaton_finds_exactly_the_features_the_model_was_trained_on() {
        use crate::routing::crisis_model::features_of;
        use std::collections::BTreeSet;
        let lex = lexicon();
        let Some(model) = &lex.crisis_model else {
            panic!("the builtin lexicon has no crisis model");
        };
        let names = crate::routing::crisis_model::CrisisModel::builtin()
            .unwrap_or_else(|e| panic!("{e}"))
            .features;
        assert_eq!(names.len(), model.weights.len());
        let vocabulary: BTreeSet<&str> = names.iter().map(|(f, _)| f.as_str()).collect();
        let scripts = crate::routing::scripts::ChineseScripts::new();
        let sets = [
            include_str!("../../tests/data/routing_cases.jsonl"),
            include_str!("../../tests/data/routing_blind7.jsonl"),
            include_str!("../../tests/data/routing_blind8.jsonl"),
            include_str!("../../tests/data/routing_final.jsonl"),
        ];
        let mut checked = 0;
        for line in sets
            .iter()
            .flat_map(|s| s.lines())
            .filter(|l| !l.is_empty())
        {
            let case: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
            let message = case["message"].as_str().unwrap_or_default();
            let found: BTreeSet<&str> = model
                .occurrences(&message.to_ascii_lowercase())
                .map(|(f, _, _)| names[f as usize].0.as_str())
                .collect();
            let defined = features_of(&scripts.to_simplified(message));
            let expected: BTreeSet<&str> = defined
                .iter()
                .map(String::as_str)
                .filter(|f| vocabulary.contains(f))
                .collect();
            assert_eq!(found, expected, "{message}");
            checked += 1;
        }
        assert!(checked > 900);
    }
}
