//! The Review screen's state: the conversation list, full-text search and one conversation
//! opened read-only with its routing decisions.
//!
//! Keys are turned into `ReviewAction`s that `App` carries out (intents, tabs, clipboard),
//! so this module knows nothing of the event loop. The read-only conversation is laid out
//! once per width here, not on every frame.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use pulldown_cmark::{Event as MdEvent, Parser, Tag, TagEnd};
use ratatui::text::{Line, Span};
use serde_json::Value;

use super::markdown;
use super::theme::Theme;
use super::wrap::wrap_spans;
use crate::coach::api::{
    ConversationDetail, ConversationSummary, ExportFormat, Intent, SearchHit, StoredMessage,
    StoredRole, StoredStatus, UsageRecord, usage_kind,
};
use crate::sanitize::{expand_tabs, strip_controls};

/// Most search hits asked for.
pub const SEARCH_LIMIT: usize = 100;

/// What a key in Review asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewAction {
    None,
    Send(Intent),
    /// Continue a conversation in a chat tab.
    Continue {
        id: i64,
        title: String,
    },
    /// Put text on the clipboard (OSC 52); `what` names it for the status line.
    Copy {
        text: String,
        what: String,
    },
    Status(String),
    Close,
}

/// Which list the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewPane {
    Conversations,
    SearchResults,
    Detail,
}

/// One message of the read-only view, where it starts and ends in the laid-out lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchor {
    pub message_id: i64,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub label: String,
}

/// A conversation opened read-only.
#[derive(Debug, Clone)]
pub struct DetailView {
    pub detail: ConversationDetail,
    width: u16,
    pub lines: Vec<Line<'static>>,
    pub anchors: Vec<Anchor>,
    /// Index into `anchors` of the selected message (copy target).
    pub selected: usize,
    /// First line shown.
    pub scroll: usize,
    /// Which code block of the selected message `b` copies next.
    code_cursor: usize,
}

#[derive(Debug, Clone, Default)]
pub struct SearchState {
    /// The query as typed.
    pub query: String,
    /// The query box has the keys.
    pub editing: bool,
    /// The query the results answer, and the hits.
    pub results: Option<(String, Vec<SearchHit>)>,
    pub selected: usize,
    /// A search was sent and has not come back.
    pub waiting: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReviewState {
    /// `None` until the list arrives.
    pub conversations: Option<Vec<ConversationSummary>>,
    pub selected: usize,
    pub search: SearchState,
    pub detail: Option<DetailView>,
    /// Asked for this conversation; when it arrives, select this message (from a search hit).
    pending_open: Option<(i64, Option<i64>)>,
    /// Minutes east of UTC that times are shown in.
    pub utc_offset_minutes: i32,
}

impl ReviewState {
    pub fn new(utc_offset_minutes: i32) -> ReviewState {
        ReviewState {
            utc_offset_minutes,
            ..ReviewState::default()
        }
    }

    pub fn pane(&self) -> ReviewPane {
        if self.detail.is_some() {
            ReviewPane::Detail
        } else if self.search.results.is_some() || self.search.waiting {
            ReviewPane::SearchResults
        } else {
            ReviewPane::Conversations
        }
    }

    /// Opening the screen: ask for a fresh list.
    pub fn open(&mut self) -> Intent {
        Intent::ListConversations
    }

    pub fn set_conversations(&mut self, list: Vec<ConversationSummary>) {
        self.selected = self.selected.min(list.len().saturating_sub(1));
        self.conversations = Some(list);
    }

    pub fn set_results(&mut self, query: String, hits: Vec<SearchHit>) {
        self.search.waiting = false;
        self.search.selected = 0;
        self.search.results = Some((query, hits));
    }

    /// A conversation arrived; shown only when this screen asked for it.
    pub fn set_detail(&mut self, detail: ConversationDetail, width: u16, theme: &Theme) -> bool {
        let Some((id, focus)) = self.pending_open else {
            return false;
        };
        if id != detail.conversation.id {
            return false;
        }
        self.pending_open = None;
        let mut view = DetailView {
            detail,
            width: 0,
            lines: Vec::new(),
            anchors: Vec::new(),
            selected: 0,
            scroll: 0,
            code_cursor: 0,
        };
        view.relayout(width, theme, self.utc_offset_minutes);
        if let Some(i) = focus.and_then(|m| view.anchors.iter().position(|a| a.message_id == m)) {
            view.selected = i;
            view.scroll = view.anchors[i].start.saturating_sub(1);
        }
        self.detail = Some(view);
        true
    }

    pub fn relayout(&mut self, width: u16, theme: &Theme) {
        if let Some(d) = &mut self.detail
            && d.width != width
        {
            d.relayout(width, theme, self.utc_offset_minutes);
        }
    }

    /// Handles a key; `rows` is the height of the list or text area.
    pub fn key(&mut self, key: KeyEvent, rows: usize) -> ReviewAction {
        if self.search.editing {
            return self.search_key(key);
        }
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        if let Some(view) = &mut self.detail {
            return match key.code {
                KeyCode::Esc | KeyCode::Backspace | KeyCode::Char('h') | KeyCode::Left => {
                    self.detail = None;
                    ReviewAction::None
                }
                _ => view.key(key, rows, plain),
            };
        }
        let in_results = self.search.results.is_some();
        let len = if in_results {
            self.search.results.as_ref().map_or(0, |(_, h)| h.len())
        } else {
            self.conversations.as_ref().map_or(0, Vec::len)
        };
        let cursor = if in_results {
            &mut self.search.selected
        } else {
            &mut self.selected
        };
        match key.code {
            KeyCode::Char('j') | KeyCode::Down if plain => move_cursor(cursor, 1, len),
            KeyCode::Char('k') | KeyCode::Up if plain => move_cursor(cursor, -1, len),
            KeyCode::PageDown => move_cursor(cursor, rows.max(1) as isize, len),
            KeyCode::PageUp => move_cursor(cursor, -(rows.max(1) as isize), len),
            KeyCode::Char('g') | KeyCode::Home if plain => *cursor = 0,
            KeyCode::Char('G') | KeyCode::End => *cursor = len.saturating_sub(1),
            KeyCode::Char('/') => {
                self.search.editing = true;
            }
            KeyCode::Enter | KeyCode::Char('l') | KeyCode::Right
                if plain || key.code == KeyCode::Enter =>
            {
                if let Some((id, focus)) = self.target() {
                    self.pending_open = Some((id, focus));
                    return ReviewAction::Send(Intent::OpenConversation { id });
                }
            }
            KeyCode::Char('c') if plain => {
                if let Some((id, title)) = self.target_title() {
                    return ReviewAction::Continue { id, title };
                }
            }
            KeyCode::Char('e') if plain => return self.export(ExportFormat::Markdown),
            KeyCode::Char('E') => return self.export(ExportFormat::Json),
            KeyCode::Char('r') if plain => return ReviewAction::Send(Intent::ListConversations),
            KeyCode::Esc => {
                if in_results || self.search.waiting {
                    self.search.results = None;
                    self.search.waiting = false;
                } else {
                    return ReviewAction::Close;
                }
            }
            _ => {}
        }
        ReviewAction::None
    }

    fn search_key(&mut self, key: KeyEvent) -> ReviewAction {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => self.search.editing = false,
            KeyCode::Enter => {
                self.search.editing = false;
                let query = self.search.query.trim().to_string();
                if query.is_empty() {
                    self.search.results = None;
                    return ReviewAction::None;
                }
                self.search.waiting = true;
                return ReviewAction::Send(Intent::Search {
                    query,
                    limit: SEARCH_LIMIT,
                });
            }
            KeyCode::Backspace => {
                self.search.query.pop();
            }
            KeyCode::Char('u') if ctrl => self.search.query.clear(),
            KeyCode::Char(c) if !ctrl => {
                self.search.query.push(c);
            }
            _ => {}
        }
        ReviewAction::None
    }

    pub fn paste(&mut self, text: &str) {
        let clean = strip_controls(text);
        let one_line = clean.split_whitespace().collect::<Vec<_>>().join(" ");
        self.search.editing = true;
        self.search.query.push_str(&one_line);
    }

    /// Conversation (and message) under the cursor of the list or the results.
    fn target(&self) -> Option<(i64, Option<i64>)> {
        match &self.search.results {
            Some((_, hits)) => hits
                .get(self.search.selected)
                .map(|h| (h.conversation_id, Some(h.message_id))),
            None => self
                .conversations
                .as_ref()?
                .get(self.selected)
                .map(|c| (c.conversation.id, None)),
        }
    }

    fn target_title(&self) -> Option<(i64, String)> {
        match &self.search.results {
            Some((_, hits)) => hits.get(self.search.selected).map(|h| {
                (
                    h.conversation_id,
                    h.conversation_title.clone().unwrap_or_default(),
                )
            }),
            None => self.conversations.as_ref()?.get(self.selected).map(|c| {
                (
                    c.conversation.id,
                    c.conversation.title.clone().unwrap_or_default(),
                )
            }),
        }
    }

    fn export(&self, format: ExportFormat) -> ReviewAction {
        match self.target() {
            Some((conversation_id, _)) => ReviewAction::Send(Intent::Export {
                conversation_id,
                format,
            }),
            None => ReviewAction::Status("nothing selected to export".into()),
        }
    }
}

fn move_cursor(cursor: &mut usize, delta: isize, len: usize) {
    let max = len.saturating_sub(1) as isize;
    *cursor = (*cursor as isize + delta).clamp(0, max.max(0)) as usize;
}

impl DetailView {
    fn relayout(&mut self, width: u16, theme: &Theme, utc_offset_minutes: i32) {
        self.width = width;
        let (lines, anchors) = layout_detail(&self.detail, width, theme, utc_offset_minutes);
        self.lines = lines;
        self.anchors = anchors;
        self.selected = self.selected.min(self.anchors.len().saturating_sub(1));
        self.scroll = self.scroll.min(self.lines.len().saturating_sub(1));
    }

    pub fn max_scroll(&self, rows: usize) -> usize {
        self.lines.len().saturating_sub(rows)
    }

    fn key(&mut self, key: KeyEvent, rows: usize, plain: bool) -> ReviewAction {
        let id = self.detail.conversation.id;
        match key.code {
            KeyCode::Char('j') | KeyCode::Down if plain => self.scroll_by(1, rows),
            KeyCode::Char('k') | KeyCode::Up if plain => self.scroll_by(-1, rows),
            KeyCode::PageDown | KeyCode::Char(' ') => self.scroll_by(rows as isize - 1, rows),
            KeyCode::PageUp => self.scroll_by(-(rows as isize - 1), rows),
            KeyCode::Char('g') | KeyCode::Home if plain => self.scroll = 0,
            KeyCode::Char('G') | KeyCode::End => self.scroll = self.max_scroll(rows),
            KeyCode::Char('n') | KeyCode::Char(']') => self.select(1, rows),
            KeyCode::Char('p') | KeyCode::Char('[') => self.select(-1, rows),
            KeyCode::Char('y') if plain => {
                if let Some(a) = self.anchors.get(self.selected) {
                    return ReviewAction::Copy {
                        text: a.text.clone(),
                        what: a.label.clone(),
                    };
                }
            }
            KeyCode::Char('b') if plain => {
                let Some(a) = self.anchors.get(self.selected) else {
                    return ReviewAction::None;
                };
                let blocks = code_blocks(&a.text);
                if blocks.is_empty() {
                    return ReviewAction::Status(format!("no code block in {}", a.label));
                }
                let i = self.code_cursor % blocks.len();
                self.code_cursor = i + 1;
                return ReviewAction::Copy {
                    text: blocks[i].clone(),
                    what: format!("code block {}/{} of {}", i + 1, blocks.len(), a.label),
                };
            }
            KeyCode::Char('c') if plain => {
                return ReviewAction::Continue {
                    id,
                    title: self.detail.conversation.title.clone().unwrap_or_default(),
                };
            }
            KeyCode::Char('e') if plain => {
                return ReviewAction::Send(Intent::Export {
                    conversation_id: id,
                    format: ExportFormat::Markdown,
                });
            }
            KeyCode::Char('E') => {
                return ReviewAction::Send(Intent::Export {
                    conversation_id: id,
                    format: ExportFormat::Json,
                });
            }
            _ => {}
        }
        ReviewAction::None
    }

    fn scroll_by(&mut self, delta: isize, rows: usize) {
        let max = self.max_scroll(rows) as isize;
        self.scroll = (self.scroll as isize + delta).clamp(0, max.max(0)) as usize;
        // Keep the selection on screen so `y` copies something visible.
        let top = self.scroll;
        let bottom = self.scroll + rows;
        if let Some(a) = self.anchors.get(self.selected)
            && (a.end <= top || a.start >= bottom)
            && let Some(i) = self
                .anchors
                .iter()
                .position(|a| a.end > top && a.start < bottom)
        {
            self.selected = i;
            self.code_cursor = 0;
        }
    }

    fn select(&mut self, delta: isize, rows: usize) {
        if self.anchors.is_empty() {
            return;
        }
        let max = self.anchors.len() as isize - 1;
        self.selected = (self.selected as isize + delta).clamp(0, max) as usize;
        self.code_cursor = 0;
        let a = &self.anchors[self.selected];
        if a.start < self.scroll || a.start >= self.scroll + rows {
            self.scroll = a.start.saturating_sub(1).min(self.max_scroll(rows));
        }
    }
}

/// Fenced and indented code blocks of a Markdown text, in order.
pub fn code_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for ev in Parser::new(markdown) {
        match ev {
            MdEvent::Start(Tag::CodeBlock(_)) => current = Some(String::new()),
            MdEvent::Text(t) => {
                if let Some(c) = &mut current {
                    c.push_str(&t);
                }
            }
            MdEvent::End(TagEnd::CodeBlock) => {
                if let Some(c) = current.take() {
                    out.push(c);
                }
            }
            _ => {}
        }
    }
    out
}

/// Local date and time of a stored timestamp, `utc_offset_minutes` east of UTC.
pub fn format_time(ms: i64, utc_offset_minutes: i32, short: bool) -> String {
    let Some(utc) = chrono::DateTime::from_timestamp_millis(ms) else {
        return "?".into();
    };
    let Some(offset) = chrono::FixedOffset::east_opt(utc_offset_minutes * 60) else {
        return utc.format("%Y-%m-%d %H:%M").to_string();
    };
    let local = utc.with_timezone(&offset);
    if short {
        local.format("%m-%d %H:%M").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

/// A model id without its provider prefix or date suffix, for tight columns.
pub fn short_model(model: &str) -> String {
    let name = model.rsplit('/').next().unwrap_or(model);
    let name = name.strip_prefix("claude-").unwrap_or(name);
    // Drop a trailing date stamp (`-20250929`).
    match name.rsplit_once('-') {
        Some((head, tail)) if tail.len() == 8 && tail.chars().all(|c| c.is_ascii_digit()) => {
            head.to_string()
        }
        _ => name.to_string(),
    }
}

/// `[{"kind":..,"score":..,"evidence":..}]` → (kind, score, evidence).
fn parse_signals(json: &str) -> Vec<(String, Option<f64>, String)> {
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(json) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|v| match v {
            Value::String(s) => Some((s.clone(), None, String::new())),
            Value::Object(o) => Some((
                o.get("kind")?.as_str()?.to_string(),
                o.get("score").and_then(Value::as_f64),
                o.get("evidence")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )),
            _ => None,
        })
        .collect()
}

fn parse_reasons(json: &str) -> Vec<String> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// Lays out a conversation turn by turn: the message, the routing decision (model, signals
/// with evidence, reasons, attempts), the answers rendered as Markdown.
/// The analyzer's part in a stored decision. The store keeps where the signals came from
/// and the analyzer's usage records, not the live report, so this says what those show.
fn stored_analyzer_text(signal_origin: &str, decision_id: i64, usage: &[UsageRecord]) -> String {
    let calls: Vec<&UsageRecord> = usage
        .iter()
        .filter(|u| {
            u.kind == usage_kind::ANALYZER && u.decision_id.is_none_or(|d| d == decision_id)
        })
        .collect();
    let cost: f64 = calls.iter().map(|u| u.cost_usd).sum();
    let model = calls
        .first()
        .map(|u| format!(" · {}", strip_controls(&u.model)))
        .unwrap_or_default();
    match signal_origin {
        "analyzer" if calls.is_empty() => "cached".to_string(),
        "analyzer" => format!("used{model} · {}", super::views::money(cost)),
        "fallback" if calls.is_empty() => "skipped or failed (detectors decided)".to_string(),
        "fallback" => format!(
            "failed or timed out{model} · {} (detectors decided)",
            super::views::money(cost)
        ),
        _ => "off".to_string(),
    }
}

pub fn layout_detail(
    d: &ConversationDetail,
    width: u16,
    t: &Theme,
    utc_offset_minutes: i32,
) -> (Vec<Line<'static>>, Vec<Anchor>) {
    let w = usize::from(width.max(20));
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut anchors = Vec::new();
    let indent = || vec![Span::raw("  ")];
    for turn in &d.turns {
        let when = turn
            .user
            .as_ref()
            .or(turn.replies.first())
            .map(|m| format_time(m.created_at, utc_offset_minutes, false));
        let mut head = vec![Span::styled(
            if turn.index == 0 {
                "── before the first turn".to_string()
            } else {
                format!("── turn {}", turn.index)
            },
            t.heading,
        )];
        if let Some(when) = when {
            head.push(Span::styled(format!(" · {when}"), t.dim));
        }
        if turn.cost_usd > 0.0 {
            head.push(Span::styled(
                format!(" · {}", super::views::money(turn.cost_usd)),
                t.dim,
            ));
        }
        lines.extend(wrap_spans(&head, &[], &indent(), w));
        if let Some(u) = &turn.user {
            let start = lines.len();
            lines.push(Line::from(Span::styled("▌ you", t.user_label)));
            let text = expand_tabs(&strip_controls(&u.content), 4).into_owned();
            for l in text.split('\n') {
                lines.extend(wrap_spans(
                    &[Span::styled(l.to_string(), t.base)],
                    &indent(),
                    &indent(),
                    w,
                ));
            }
            anchors.push(Anchor {
                message_id: u.id,
                start,
                end: lines.len(),
                text: u.content.clone(),
                label: format!("your message (turn {})", turn.index),
            });
        }
        for dd in &turn.decisions {
            let dec = &dd.decision;
            let mut spans = vec![
                Span::styled("  routing ", t.accent),
                Span::styled(dec.model.clone(), t.strong),
                Span::styled(format!(" ({}, tier {})", dec.provider, dec.tier), t.dim),
            ];
            if dec.upgraded {
                spans.push(Span::styled(" ↑ upgraded", t.warn));
            }
            if dec.safety != "none" {
                spans.push(Span::styled(format!(" · safety: {}", dec.safety), t.safety));
            }
            spans.push(Span::styled(
                format!(
                    " · {} · ~{} tok · est {}",
                    dec.signal_origin,
                    dec.estimated_input_tokens,
                    super::views::money(dec.estimated_cost_usd)
                ),
                t.dim,
            ));
            lines.extend(wrap_spans(&spans, &[], &[Span::raw("    ")], w));
            lines.extend(wrap_spans(
                &[Span::styled(
                    stored_analyzer_text(&dec.signal_origin, dec.id, &turn.usage),
                    t.dim,
                )],
                &[Span::styled("    analyzer ", t.dim)],
                &[Span::raw("      ")],
                w,
            ));
            for (kind, score, evidence) in parse_signals(&dec.signals_json) {
                let mut s = vec![Span::styled(kind, t.accent)];
                if let Some(score) = score {
                    s.push(Span::styled(format!(" {score:.2}"), t.base));
                }
                if !evidence.is_empty() {
                    s.push(Span::styled(
                        format!(" “{}”", strip_controls(&evidence)),
                        t.dim,
                    ));
                }
                lines.extend(wrap_spans(
                    &s,
                    &[Span::styled("    • ", t.dim)],
                    &[Span::raw("      ")],
                    w,
                ));
            }
            for reason in parse_reasons(&dec.reasons_json) {
                lines.extend(wrap_spans(
                    &[Span::styled(strip_controls(&reason).into_owned(), t.dim)],
                    &[Span::styled("    – ", t.dim)],
                    &[Span::raw("      ")],
                    w,
                ));
            }
            if dd.attempts.len() > 1 || dd.attempts.iter().any(|a| a.outcome != "ok") {
                let mut s = vec![Span::styled("attempts: ", t.dim)];
                for (i, a) in dd.attempts.iter().enumerate() {
                    if i > 0 {
                        s.push(Span::styled(" → ", t.dim));
                    }
                    let style = if a.outcome == "ok" { t.ok } else { t.error };
                    s.push(Span::styled(short_model(&a.model), t.base));
                    let status = a.http_status.map(|h| format!(" {h}")).unwrap_or_default();
                    s.push(Span::styled(
                        format!(" {}{status} {}ms", a.outcome, a.duration_ms),
                        style,
                    ));
                }
                lines.extend(wrap_spans(
                    &s,
                    &[Span::raw("    ")],
                    &[Span::raw("      ")],
                    w,
                ));
            }
        }
        for r in &turn.replies {
            let start = lines.len();
            lines.extend(reply_lines(r, w, t));
            anchors.push(Anchor {
                message_id: r.id,
                start,
                end: lines.len(),
                text: r.content.clone(),
                label: format!("the answer of turn {}", turn.index),
            });
        }
        lines.push(Line::default());
    }
    if d.turns.is_empty() {
        lines.push(Line::from(Span::styled(
            "  (this conversation has no messages)",
            t.dim,
        )));
    }
    (lines, anchors)
}

fn reply_lines(m: &StoredMessage, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut head = vec![match m.role {
        StoredRole::System => Span::styled("▌ system", t.dim),
        _ => Span::styled("▌ coach", t.coach_label),
    }];
    if let Some(model) = &m.model {
        head.push(Span::styled(format!(" · {model}"), t.dim));
    }
    if let Some(lane) = m.compare_lane {
        head.push(Span::styled(format!(" · compare lane {}", lane + 1), t.dim));
    }
    match m.status {
        StoredStatus::Complete => {}
        StoredStatus::Partial => head.push(Span::styled(" · partial (cut off)", t.warn)),
        StoredStatus::Failed => head.push(Span::styled(" · failed", t.error)),
    }
    let mut out = wrap_spans(&head, &[], &[Span::raw("    ")], w);
    let text = strip_controls(&m.content);
    let body_w = u16::try_from(w.saturating_sub(2)).unwrap_or(u16::MAX);
    for line in markdown::render(&text, body_w, t) {
        let mut spans = vec![Span::raw("  ")];
        spans.extend(line.spans);
        out.push(Line::from(spans).style(line.style));
    }
    out
}

/// A stored message as a chat message (resuming a conversation in a tab).
pub fn to_chat_message(m: &StoredMessage) -> super::conversation::Message {
    use super::conversation::{Message, MessageStatus, Role};
    let mut msg = match m.role {
        StoredRole::User => Message::new(Role::User, m.content.clone()),
        StoredRole::Assistant => {
            Message::coach(m.model.clone().unwrap_or_default(), m.content.clone())
        }
        StoredRole::System => Message::new(Role::Notice, m.content.clone()),
    };
    msg.status = match m.status {
        StoredStatus::Complete => MessageStatus::Complete,
        StoredStatus::Partial => MessageStatus::Interrupted,
        StoredStatus::Failed => MessageStatus::Failed,
    };
    msg.offline = m.model.as_deref() == Some(crate::catalog::OFFLINE_MODEL);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_blocks_are_found_in_order() {
        let md = "text\n\n```rust\nlet x = 1;\n```\n\nmore\n\n    indented\n";
        assert_eq!(code_blocks(md), vec!["let x = 1;\n", "indented\n"]);
    }

    #[test]
    fn short_model_drops_prefix_and_date() {
        assert_eq!(short_model("claude-haiku-4-5-20251001"), "haiku-4-5");
        assert_eq!(short_model("openai/gpt-4o-mini"), "gpt-4o-mini");
    }

    #[test]
    fn times_use_the_given_offset() {
        // 2026-11-21 12:00 UTC
        let ms = 1_795_262_400_000;
        assert_eq!(format_time(ms, 0, false), "2026-11-21 12:00");
        assert_eq!(format_time(ms, 480, true), "11-21 20:00");
    }
}
