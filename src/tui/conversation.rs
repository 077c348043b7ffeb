//! One conversation tab: its messages (with their wrapped-line caches), its turns (routing
//! decisions, attempts, costs), its scroll position and its comparison.

use std::time::Instant;

use ratatui::text::{Line, Span};

use super::markdown;
use super::theme::Theme;
use super::wrap::wrap_spans;
use crate::catalog::OFFLINE_MODEL;
use crate::coach::api::{AttemptReport, TurnId, TurnStatus, TurnSummary};
use crate::routing::types::{RouteDecision, Safety};
use crate::sanitize::{expand_tabs, strip_controls};

pub type TabId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Coach,
    /// A line from grow itself (greeting, comparison note).
    Notice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Streaming,
    Complete,
    /// Stopped before the end (cancelled or cut off); the partial text is kept.
    Interrupted,
    Failed,
}

/// What a message needs to be laid out: everything but the message itself.
pub struct RenderCtx<'a> {
    pub width: u16,
    pub theme: &'a Theme,
    pub crisis_notice: &'a str,
}

/// A message laid out at one width, in three parts so that a streaming answer re-lays out
/// only its unsettled end: blocks before the last paragraph break never change again.
#[derive(Debug, Clone)]
struct Wrapped {
    width: u16,
    /// Header and safety banner.
    head: Vec<Line<'static>>,
    /// The body, or while streaming its settled blocks.
    body: Vec<Line<'static>>,
    /// Bytes of the sanitised text that `body` covers.
    settled: usize,
    /// The unsettled end of a streaming body, the notice, the closing blank line.
    tail: Vec<Line<'static>>,
    /// Text arrived since `tail` was laid out.
    tail_stale: bool,
}

impl Wrapped {
    fn len(&self) -> usize {
        self.head.len() + self.body.len() + self.tail.len()
    }
}

#[derive(Debug, Clone)]
pub struct Message {
    pub role: Role,
    /// As received (untrusted); sanitised whenever it is laid out.
    raw: String,
    pub model: Option<String>,
    /// The model routing chose, when another one answered (fallback).
    pub routed_model: Option<String>,
    pub status: MessageStatus,
    pub offline: bool,
    pub safety: Safety,
    /// This user message was sent with `/compare`.
    pub compare: bool,
    /// One-line small print under the answer (why the answer came from elsewhere).
    pub notice: Option<String>,
    cache: Option<Wrapped>,
}

impl Message {
    pub fn new(role: Role, text: impl Into<String>) -> Message {
        Message {
            role,
            raw: text.into(),
            model: None,
            routed_model: None,
            status: MessageStatus::Complete,
            offline: false,
            safety: Safety::None,
            compare: false,
            notice: None,
            cache: None,
        }
    }

    pub fn coach(model: impl Into<String>, text: impl Into<String>) -> Message {
        let model = model.into();
        let mut m = Message::new(Role::Coach, text);
        m.offline = model == OFFLINE_MODEL;
        m.model = Some(model);
        m
    }

    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Appends streamed text; only the unsettled end is laid out again.
    pub fn push_text(&mut self, delta: &str) {
        self.raw.push_str(delta);
        if let Some(c) = &mut self.cache {
            c.tail_stale = true;
        }
    }

    /// Drops the wrapped lines; the next layout recomputes them.
    pub fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Number of lines at this width, laying the message out if needed.
    pub fn height(&mut self, ctx: &RenderCtx<'_>) -> usize {
        self.ensure_wrapped(ctx);
        self.cache.as_ref().map_or(0, Wrapped::len)
    }

    pub fn ensure_wrapped(&mut self, ctx: &RenderCtx<'_>) {
        let Some(mut c) = self.cache.take().filter(|c| c.width == ctx.width) else {
            self.cache = Some(self.layout_parts(ctx));
            return;
        };
        if c.tail_stale {
            let text = strip_controls(&self.raw);
            if self.role != Role::Coach
                || self.status != MessageStatus::Streaming
                || text.len() < c.settled
            {
                self.cache = Some(self.layout_parts(ctx));
                return;
            }
            let k = settled_split(&text, c.settled);
            if k > c.settled {
                let mut more = body_lines(&text[c.settled..k], ctx);
                if !c.body.is_empty() && !more.is_empty() {
                    c.body.push(block_separator());
                }
                c.body.append(&mut more);
                c.settled = k;
            }
            c.tail = self.tail_lines(&text[k..], !c.body.is_empty(), ctx);
            c.tail_stale = false;
        }
        self.cache = Some(c);
    }

    /// The cached lines (head, body, tail) when they are current at `width`.
    pub fn cached_lines(&self, width: u16) -> Option<[&[Line<'static>]; 3]> {
        self.cache
            .as_ref()
            .filter(|c| c.width == width && !c.tail_stale)
            .map(|c| [c.head.as_slice(), c.body.as_slice(), c.tail.as_slice()])
    }

    /// Header, safety banner, body and trailing blank line.
    pub fn layout(&self, ctx: &RenderCtx<'_>) -> Vec<Line<'static>> {
        let mut w = self.layout_parts(ctx);
        let mut lines = w.head;
        lines.append(&mut w.body);
        lines.append(&mut w.tail);
        lines
    }

    fn layout_parts(&self, ctx: &RenderCtx<'_>) -> Wrapped {
        let t = ctx.theme;
        let width = usize::from(ctx.width.max(8));
        let text = strip_controls(&self.raw);
        let plain = || expand_tabs(&text, 4).into_owned();
        let mut head = Vec::new();
        let mut body = Vec::new();
        let mut tail = Vec::new();
        let mut settled = text.len();
        match self.role {
            Role::User => {
                let mut header = vec![Span::styled("▌ you", t.user_label)];
                if self.compare {
                    header.push(Span::styled("  ⇄ compare", t.dim));
                }
                head.push(Line::from(header));
                for l in plain().split('\n') {
                    body.extend(wrap_spans(
                        &[Span::styled(l.to_string(), t.base)],
                        &[Span::raw("  ")],
                        &[Span::raw("  ")],
                        width,
                    ));
                }
                tail.push(Line::default());
            }
            Role::Coach => {
                let header = self.coach_header(t);
                head.extend(wrap_spans(&header.spans, &[], &[Span::raw("    ")], width));
                if self.safety == Safety::Crisis {
                    head.extend(safety_banner(ctx.crisis_notice, width, t));
                }
                if self.status == MessageStatus::Streaming {
                    settled = settled_split(&text, 0);
                }
                body = body_lines(&text[..settled], ctx);
                tail = self.tail_lines(&text[settled..], !body.is_empty(), ctx);
            }
            Role::Notice => {
                body.extend(wrap_spans(
                    &[Span::styled(plain(), t.dim)],
                    &[Span::styled("· ", t.dim)],
                    &[Span::raw("  ")],
                    width,
                ));
                tail.push(Line::default());
            }
        }
        Wrapped {
            width: ctx.width,
            head,
            body,
            settled,
            tail,
            tail_stale: false,
        }
    }

    /// The unsettled end of the body (after a blank line when it follows settled blocks),
    /// the notice and the closing blank line.
    fn tail_lines(&self, text: &str, after_body: bool, ctx: &RenderCtx<'_>) -> Vec<Line<'static>> {
        let t = ctx.theme;
        let mut lines = Vec::new();
        let mut rest = body_lines(text, ctx);
        if after_body && !rest.is_empty() {
            lines.push(block_separator());
        }
        lines.append(&mut rest);
        if let Some(n) = &self.notice {
            lines.extend(wrap_spans(
                &[Span::styled(format!("↳ {}", strip_controls(n)), t.dim)],
                &[Span::raw("  ")],
                &[Span::raw("    ")],
                usize::from(ctx.width.max(8)),
            ));
        }
        lines.push(Line::default());
        lines
    }

    fn coach_header(&self, t: &Theme) -> Line<'static> {
        let mut spans = vec![Span::styled("▌ coach", t.coach_label)];
        let routed = self
            .routed_model
            .as_ref()
            .filter(|r| Some(*r) != self.model.as_ref());
        if self.offline {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(" offline coach ", t.offline_label));
            // No key or no network: say what routing would have used.
            if let Some(r) = routed {
                spans.push(Span::styled(format!(" · routing would use {r}"), t.dim));
            }
        } else {
            if let Some(model) = &self.model {
                spans.push(Span::styled(format!(" · {model}"), t.dim));
            }
            if let Some(r) = routed {
                spans.push(Span::styled(format!(" (fell back from {r})"), t.warn));
            }
        }
        match self.status {
            MessageStatus::Interrupted => {
                spans.push(Span::styled(" · interrupted (partial)", t.warn));
            }
            MessageStatus::Failed => spans.push(Span::styled(" · failed", t.error)),
            MessageStatus::Streaming | MessageStatus::Complete => {}
        }
        Line::from(spans)
    }
}

/// The blank line between two top-level blocks, as the Markdown renderer indents it.
fn block_separator() -> Line<'static> {
    Line::from(Span::raw("  "))
}

/// A coach answer's Markdown, indented under its header.
fn body_lines(text: &str, ctx: &RenderCtx<'_>) -> Vec<Line<'static>> {
    if text.is_empty() {
        return Vec::new();
    }
    markdown::render(text, ctx.width.saturating_sub(2).max(4), ctx.theme)
        .into_iter()
        .map(|l| {
            let mut spans = vec![Span::raw("  ")];
            spans.extend(l.spans);
            Line::from(spans)
        })
        .collect()
}

/// Where the settled part of a streaming Markdown text ends, searching from `from` (itself a
/// settled point): the start of the last line that opens a new top-level block after a blank
/// line, outside code fences and lists, so the text before it renders the same whatever
/// arrives later. Returns `from` when there is no such line.
pub fn settled_split(text: &str, from: usize) -> usize {
    let mut best = from;
    let mut in_fence = false;
    let mut prev_blank = false;
    let mut pos = from;
    for line in text[from..].split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim_start();
        let indent = content.len() - trimmed.len();
        if indent <= 3 && (trimmed.starts_with("```") || trimmed.starts_with("~~~")) {
            if !in_fence && prev_blank && indent == 0 && start > from {
                best = start;
            }
            in_fence = !in_fence;
            prev_blank = false;
            continue;
        }
        if in_fence {
            continue;
        }
        if content.trim().is_empty() {
            prev_blank = true;
            continue;
        }
        let complete = line.ends_with('\n');
        if prev_blank
            && indent == 0
            && start > from
            && !starts_list_item(trimmed)
            && (complete || !may_become_list_item(trimmed))
        {
            best = start;
        }
        prev_blank = false;
    }
    best
}

/// A line still arriving that more characters could turn into a list item ("3", "-").
fn may_become_list_item(line: &str) -> bool {
    matches!(line, "-" | "*" | "+") || line.bytes().all(|b| b.is_ascii_digit())
}

fn starts_list_item(line: &str) -> bool {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return true;
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(line.as_bytes().get(digits), Some(b'.' | b')'))
}

/// The crisis notice, framed so it cannot be missed.
pub fn safety_banner(notice: &str, width: usize, t: &Theme) -> Vec<Line<'static>> {
    let inner = width.saturating_sub(2).max(8);
    let mut out = Vec::new();
    let wrapped = wrap_spans(
        &[Span::styled(notice.to_string(), t.safety)],
        &[Span::styled(" ⚠ SAFETY  ", t.safety)],
        &[Span::styled(" ", t.safety)],
        inner,
    );
    for l in wrapped {
        let pad = inner.saturating_sub(l.width());
        let mut spans = vec![Span::raw("  ")];
        spans.extend(l.spans);
        spans.push(Span::styled(" ".repeat(pad), t.safety));
        out.push(Line::from(spans));
    }
    out
}

/// One turn of the conversation, as the worker reported it.
#[derive(Debug, Clone)]
pub struct TurnRecord {
    pub turn: TurnId,
    pub lane: Option<u8>,
    pub sent_at: Instant,
    pub decision: Option<RouteDecision>,
    pub attempts: Vec<AttemptReport>,
    /// Model being tried right now.
    pub current_attempt: Option<String>,
    pub first_token_ms: Option<u64>,
    pub summary: Option<TurnSummary>,
    /// Index of the answer in `Tab::messages` (not for comparison lanes).
    pub message: Option<usize>,
    /// Answer text of a comparison lane.
    pub lane_text: String,
    pub cancelled: bool,
}

impl TurnRecord {
    pub fn new(turn: TurnId, lane: Option<u8>, sent_at: Instant) -> TurnRecord {
        TurnRecord {
            turn,
            lane,
            sent_at,
            decision: None,
            attempts: Vec::new(),
            current_attempt: None,
            first_token_ms: None,
            summary: None,
            message: None,
            lane_text: String::new(),
            cancelled: false,
        }
    }

    pub fn finished(&self) -> bool {
        self.summary.is_some() || self.cancelled
    }

    pub fn status(&self) -> MessageStatus {
        match (&self.summary, self.cancelled) {
            (_, true) => MessageStatus::Interrupted,
            (None, false) => MessageStatus::Streaming,
            (Some(s), false) => match s.status {
                TurnStatus::Complete => MessageStatus::Complete,
                TurnStatus::Partial => MessageStatus::Interrupted,
                TurnStatus::Failed => MessageStatus::Failed,
            },
        }
    }
}

/// A message sent whose turn has not started yet (the worker has not answered TurnStarted).
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: u64,
    pub since: Instant,
    /// TurnStarted events still expected (two for a comparison).
    pub expected: u8,
    pub text: String,
    /// A consultation turn, once the worker has said which turn it runs as.
    pub turn: Option<TurnId>,
}

#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub prompt: String,
    /// Turn-record indices of lane 0 (default model) and lane 1 (upgrade model).
    pub lanes: [Option<usize>; 2],
}

#[derive(Debug, Clone)]
pub struct Tab {
    pub id: TabId,
    pub conversation_id: Option<i64>,
    pub title: String,
    pub messages: Vec<Message>,
    pub turns: Vec<TurnRecord>,
    pub pending: Option<Pending>,
    /// Lines between the bottom of the view and the bottom of the conversation; 0 follows.
    pub scroll: usize,
    /// Turn shown in the routing panel; `None` follows the draft preview or the latest turn.
    pub selected_turn: Option<usize>,
    pub comparison: Option<Comparison>,
    pub show_compare: bool,
    pub compare_scroll: usize,
    pub pin: Option<String>,
    pub upgrade_next: bool,
    pub cost_per_turn: Vec<f64>,
    pub conversation_cost: f64,
    /// A resumed conversation: how much of its stored history is loaded.
    pub history: Option<HistoryCursor>,
    /// The intake consultation: messages go to the interviewer, not the coach.
    pub consultation: bool,
}

/// Paging through a saved conversation's messages, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCursor {
    /// Stored messages loaded so far (the newest ones).
    pub loaded: usize,
    /// Nothing older is left.
    pub complete: bool,
    /// A page is on its way.
    pub loading: bool,
}

impl Tab {
    pub fn new(id: TabId) -> Tab {
        Tab {
            id,
            conversation_id: None,
            title: String::new(),
            messages: Vec::new(),
            turns: Vec::new(),
            pending: None,
            scroll: 0,
            selected_turn: None,
            comparison: None,
            show_compare: false,
            compare_scroll: 0,
            pin: None,
            upgrade_next: false,
            cost_per_turn: Vec::new(),
            conversation_cost: 0.0,
            history: None,
            consultation: false,
        }
    }

    /// Title for the tab bar: the first line of the first user message.
    pub fn display_title(&self) -> String {
        if !self.title.is_empty() {
            return self.title.clone();
        }
        self.messages
            .iter()
            .find(|m| m.role == Role::User)
            .and_then(|m| strip_controls(m.raw()).lines().next().map(str::to_string))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "new".to_string())
    }

    /// Turns whose answer is still arriving.
    pub fn live_turns(&self) -> impl Iterator<Item = &TurnRecord> {
        self.turns.iter().filter(|t| !t.finished())
    }

    /// A message is on its way: sent and not started, or streaming.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some() || self.live_turns().next().is_some()
    }

    /// The turn waiting for its first token, for the spinner: (since, model being tried).
    pub fn waiting(&self) -> Option<(Instant, Option<&str>)> {
        if let Some(p) = &self.pending {
            return Some((p.since, None));
        }
        self.live_turns()
            .find(|t| t.first_token_ms.is_none() && t.lane.is_none())
            .map(|t| {
                let model = t
                    .current_attempt
                    .as_deref()
                    .or(t.decision.as_ref().map(|d| d.model.as_str()));
                (t.sent_at, model)
            })
    }

    /// Since when something in this tab waits for its first token (chat turn, comparison lane
    /// or a send not started yet): the spinner runs while this is `Some`.
    pub fn spinner_since(&self) -> Option<Instant> {
        if let Some(p) = &self.pending {
            return Some(p.since);
        }
        self.live_turns()
            .filter(|t| t.first_token_ms.is_none())
            .map(|t| t.sent_at)
            .min()
    }

    /// Lines drawn below the last message (the spinner).
    pub fn footer_lines(&self) -> usize {
        usize::from(self.waiting().is_some())
    }

    /// Lines from message `from` to the end, plus the footer, laying messages out as needed.
    pub fn tail_height(&mut self, from: usize, ctx: &RenderCtx<'_>) -> usize {
        let footer = self.footer_lines();
        self.messages
            .iter_mut()
            .skip(from)
            .map(|m| m.height(ctx))
            .sum::<usize>()
            + footer
    }

    /// Lays out messages from the bottom up until `need` lines are covered; returns the lines
    /// available (less than `need` only when the whole conversation is shorter).
    pub fn ensure_tail(&mut self, need: usize, ctx: &RenderCtx<'_>) -> usize {
        let mut have = self.footer_lines();
        for m in self.messages.iter_mut().rev() {
            if have >= need {
                break;
            }
            have += m.height(ctx);
        }
        have
    }

    /// Index of the turn the routing panel shows when nothing is selected: the latest.
    pub fn latest_turn(&self) -> Option<usize> {
        self.turns.len().checked_sub(1)
    }

    pub fn lane_turn(&self, lane: usize) -> Option<&TurnRecord> {
        self.comparison
            .as_ref()
            .and_then(|c| c.lanes.get(lane).copied().flatten())
            .and_then(|i| self.turns.get(i))
    }

    pub fn push_message(&mut self, m: Message) -> usize {
        self.messages.push(m);
        self.messages.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::theme::ThemeKind;

    const SAMPLES: &[&str] = &[
        "## Two options\n\nYou have **two offers**.\n\n1. first\n2. second\n   - nested\n\n3. third after a blank\n\n```python\nx = 1\n\ny = 2\n```\n\nWhich one?",
        "Plain paragraph one.\n\nParagraph two with `code`.\n\n> a quote\n\n---\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nEnd.",
        "我听到了。\n\n- 第一\n- 第二\n\n我们先从目标开始：你希望三个月后有什么不同？",
        "    indented code\n\nafter\n\n* star list\n\n  continued item para\n\ndone",
    ];

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn streaming_layout_matches_the_finished_layout_at_every_step() {
        let theme = Theme::new(ThemeKind::Dark, false);
        let ctx = RenderCtx {
            width: 40,
            theme: &theme,
            crisis_notice: "",
        };
        for sample in SAMPLES {
            let mut m = Message::coach("m", "");
            m.status = MessageStatus::Streaming;
            m.ensure_wrapped(&ctx);
            let chars: Vec<char> = sample.chars().collect();
            for chunk in chars.chunks(3) {
                m.push_text(&chunk.iter().collect::<String>());
                m.ensure_wrapped(&ctx);
                let incremental: Vec<String> = m
                    .cached_lines(40)
                    .map(|p| p.iter().flat_map(|x| texts(x)).collect())
                    .unwrap_or_default();
                // Same text, laid out from scratch as a finished answer.
                let mut done = m.clone();
                done.status = MessageStatus::Complete;
                done.invalidate();
                assert_eq!(incremental, texts(&done.layout(&ctx)), "{:?}", m.raw());
            }
        }
    }

    #[test]
    fn settled_split_stays_out_of_fences_and_lists() {
        let t = "para\n\n```\ncode\n\nmore\n";
        assert_eq!(settled_split(t, 0), "para\n\n".len());
        let t = "1. a\n\n2. b\n";
        assert_eq!(settled_split(t, 0), 0);
        let t = "a\n\nb\n\nc";
        assert_eq!(settled_split(t, 0), "a\n\nb\n\n".len());
        assert_eq!(settled_split(t, 3), "a\n\nb\n\n".len());
    }
}
