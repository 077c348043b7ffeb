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

#[derive(Debug, Clone)]
struct Wrapped {
    width: u16,
    lines: Vec<Line<'static>>,
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

    pub fn push_text(&mut self, delta: &str) {
        self.raw.push_str(delta);
        self.invalidate();
    }

    /// Drops the wrapped lines; the next layout recomputes them.
    pub fn invalidate(&mut self) {
        self.cache = None;
    }

    /// Number of lines at this width, laying the message out if needed.
    pub fn height(&mut self, ctx: &RenderCtx<'_>) -> usize {
        self.ensure_wrapped(ctx);
        self.cache.as_ref().map_or(0, |c| c.lines.len())
    }

    pub fn ensure_wrapped(&mut self, ctx: &RenderCtx<'_>) {
        if self.cache.as_ref().is_some_and(|c| c.width == ctx.width) {
            return;
        }
        self.cache = Some(Wrapped {
            width: ctx.width,
            lines: self.layout(ctx),
        });
    }

    /// The cached lines when they were laid out at `width`.
    pub fn cached_lines(&self, width: u16) -> Option<&[Line<'static>]> {
        self.cache
            .as_ref()
            .filter(|c| c.width == width)
            .map(|c| c.lines.as_slice())
    }

    /// Header, safety banner, body and trailing blank line.
    pub fn layout(&self, ctx: &RenderCtx<'_>) -> Vec<Line<'static>> {
        let t = ctx.theme;
        let width = usize::from(ctx.width.max(8));
        let text = strip_controls(&self.raw);
        let mut lines = Vec::new();
        let plain = || expand_tabs(&text, 4).into_owned();
        match self.role {
            Role::User => {
                let mut header = vec![Span::styled("▌ you", t.user_label)];
                if self.compare {
                    header.push(Span::styled("  ⇄ compare", t.dim));
                }
                lines.push(Line::from(header));
                for l in plain().split('\n') {
                    lines.extend(wrap_spans(
                        &[Span::styled(l.to_string(), t.base)],
                        &[Span::raw("  ")],
                        &[Span::raw("  ")],
                        width,
                    ));
                }
            }
            Role::Coach => {
                let header = self.coach_header(t);
                lines.extend(wrap_spans(&header.spans, &[], &[Span::raw("    ")], width));
                if self.safety == Safety::Crisis {
                    lines.extend(safety_banner(ctx.crisis_notice, width, t));
                }
                let indent = [Span::raw("  ")];
                for l in markdown::render(&text, ctx.width.saturating_sub(2).max(4), t) {
                    let mut spans = indent.to_vec();
                    spans.extend(l.spans);
                    lines.push(Line::from(spans));
                }
                if let Some(n) = &self.notice {
                    lines.extend(wrap_spans(
                        &[Span::styled(format!("↳ {}", strip_controls(n)), t.dim)],
                        &indent,
                        &[Span::raw("    ")],
                        width,
                    ));
                }
            }
            Role::Notice => {
                lines.extend(wrap_spans(
                    &[Span::styled(plain(), t.dim)],
                    &[Span::styled("· ", t.dim)],
                    &[Span::raw("  ")],
                    width,
                ));
            }
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
