//! The state of the terminal UI and every way it changes.
//!
//! All changes go through `App::handle_*` (keys, paste, mouse, resize, coach events, ticks);
//! drawing only reads. Intents for the worker are queued in an outbox the event loop drains,
//! so the whole behaviour is testable without a terminal or a worker.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crossterm::event::{
    Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui_textarea::{TextArea, WrapMode};

use super::commands::{self, Command};
use super::conversation::{
    Comparison, HistoryCursor, Message, MessageStatus, Pending, RenderCtx, Role, Tab, TabId,
    TurnRecord,
};
use super::review::{self, ReviewAction, ReviewState};
use super::theme::{Theme, ThemeKind};
use super::views;
use crate::catalog::OFFLINE_MODEL;
use crate::coach::api::{
    ConsultationInfo, ConsultationState, CostSnapshot, DashboardData, Event, ExportFormat,
    HistoryPage, Intent, PersonalStatus, ProfileData, Proposal, SendRequest, TurnId, TurnStatus,
    VersionDiff,
};
use crate::routing::types::{RouteDecision, Safety};
use crate::sanitize::strip_controls;

/// How long typing must pause before the draft is routed for the live preview.
pub const PREVIEW_DEBOUNCE: Duration = Duration::from_millis(150);
/// Spinner frame period.
pub const SPINNER_PERIOD: Duration = Duration::from_millis(100);
/// How long an informational status message stays.
const STATUS_TTL: Duration = Duration::from_secs(8);
/// Lines per mouse-wheel notch.
const WHEEL_LINES: usize = 3;
/// Messages loaded at a time when a chat tab resumes a saved conversation.
pub const HISTORY_PAGE: usize = 100;

/// Shown in the chat with a crisis decision when the caller supplies nothing else.
pub const DEFAULT_CRISIS_NOTICE: &str = "If you are thinking about harming yourself or are in \
danger, please contact someone now: your local emergency number (112 / 911 / 999), a crisis \
line such as 988 (US), 116 123 (UK & Ireland) or 12356 (China mainland), or someone you trust. \
This coach is not a crisis service.";

/// What `tui::run` needs from the caller.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub theme: ThemeKind,
    /// No colour at all (`NO_COLOR`); meaning is carried by bold, dim, reverse, underline.
    pub no_color: bool,
    /// The offline coach's one-line greeting, shown when no key is configured.
    pub offline_greeting: Option<String>,
    pub default_model: String,
    pub upgrade_model: String,
    /// From config; the cost meter also takes it from `CostSnapshot::monthly_budget`.
    pub monthly_budget: Option<f64>,
    /// Where the log file is, for error messages and help ("logs: …").
    pub log_hint: String,
    /// Safety notice shown with every crisis decision (crisis resources).
    pub crisis_notice: String,
    /// Minutes east of UTC that Review shows times in (the local offset at start).
    pub utc_offset_minutes: i32,
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            theme: ThemeKind::Dark,
            no_color: false,
            offline_greeting: None,
            default_model: String::new(),
            upgrade_model: String::new(),
            monthly_budget: None,
            log_hint: String::new(),
            crisis_notice: DEFAULT_CRISIS_NOTICE.to_string(),
            utc_offset_minutes: chrono::Local::now().offset().local_minus_utc() / 60,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Input,
    Messages,
}

/// The full-screen views; Chat is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Chat,
    Review,
    Dashboard,
    /// The person's profile, prompt versions, metrics and commitments (read-only).
    Profile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone)]
pub struct Status {
    pub text: String,
    pub kind: StatusKind,
    pub since: Instant,
}

/// A yes/no question drawn over everything; only y/Enter and n/Esc answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    /// What the person should know before answering (one row each).
    pub lines: Vec<String>,
    pub question: String,
    action: ConfirmAction,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConfirmAction {
    EnableConsultation,
}

/// A commitment the coach proposed, waiting for the person's yes or no.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingProposal {
    pub conversation_id: i64,
    pub proposal: Proposal,
}

impl PendingProposal {
    /// `Commit to: Send the portfolio by Fri 27 Nov? [y/n]`.
    pub fn question(&self) -> String {
        format!(
            "Commit to: {}{}",
            strip_controls(&self.proposal.text),
            self.question_end()
        )
    }

    /// ` by Fri 27 Nov? [y/n]`: the part a narrow screen must not cut.
    pub fn question_end(&self) -> String {
        let due = self
            .proposal
            .due
            .map(|d| format!(" by {}", d.format("%a %-d %b")))
            .unwrap_or_default();
        format!("{due}? [y/n]")
    }
}

/// Title of a consultation tab.
pub const CONSULTATION_TITLE: &str = "◆ consultation";

#[derive(Debug, Clone)]
struct Abandoned {
    seq: u64,
    conversation_id: Option<i64>,
    expected: u8,
}

pub struct App {
    pub opts: TuiOptions,
    pub theme: Theme,
    tabs: Vec<Tab>,
    active: usize,
    next_tab_id: TabId,
    next_pending_seq: u64,
    turn_index: HashMap<TurnId, (TabId, usize)>,
    input: TextArea<'static>,
    focus: Focus,
    /// Routing panel beside the chat (wide terminals).
    show_routing: bool,
    /// Routing panel over the chat (narrow terminals, until toggled off).
    routing_overlay: bool,
    show_help: bool,
    help_scroll: usize,
    /// Lines the routing panel is scrolled down (Alt+↑/↓; PgUp/PgDn when it covers the chat).
    routing_scroll: usize,
    size: (u16, u16),
    now: Instant,
    status: Option<Status>,
    costs: CostSnapshot,
    preview: Option<RouteDecision>,
    preview_due: Option<Instant>,
    last_preview_text: String,
    outbox: Vec<Intent>,
    /// Sends given up before their turn started (stopped, or their tab closed): their
    /// TurnStarted events are still coming and must not be mistaken for another send's.
    abandoned: Vec<Abandoned>,
    quit: bool,
    worker_gone: bool,
    /// The personalised coach's state, as the worker last reported it.
    personal: Option<PersonalStatus>,
    profile: Option<ProfileData>,
    profile_loading: bool,
    profile_scroll: u16,
    /// The diff shown instead of the profile (`d`), when one arrived.
    profile_diff: Option<VersionDiff>,
    /// The consultation as the worker last described it.
    consultation: Option<ConsultationInfo>,
    /// The person asked for the consultation: the next description opens it (or asks to
    /// turn it on).
    consultation_requested: bool,
    /// A yes/no question over everything.
    confirm: Option<Confirm>,
    /// A commitment the coach proposed, waiting for yes or no.
    proposal: Option<PendingProposal>,
    /// Proposals said no to in this session (lowercase text), not asked again.
    dismissed_proposals: Vec<String>,
    /// Consultation turns given up before they started: their TurnStarted belongs to no tab.
    cancelled_turns: Vec<TurnId>,
    screen: Screen,
    review: ReviewState,
    dashboard: Option<DashboardData>,
    /// The month the dashboard shows (0 = this month) and whether it is on its way.
    dashboard_months_back: u32,
    dashboard_loading: bool,
    /// Text to put on the terminal's clipboard (OSC 52), drained by the event loop.
    clipboard: Vec<String>,
}

impl App {
    pub fn new(opts: TuiOptions, now: Instant) -> App {
        let theme = Theme::new(opts.theme, opts.no_color);
        let mut tab = Tab::new(1);
        if let Some(greeting) = &opts.offline_greeting {
            tab.push_message(Message::coach(OFFLINE_MODEL, greeting.clone()));
        }
        let mut app = App {
            theme,
            tabs: vec![tab],
            active: 0,
            next_tab_id: 2,
            next_pending_seq: 1,
            turn_index: HashMap::new(),
            input: TextArea::default(),
            focus: Focus::Input,
            show_routing: true,
            routing_overlay: false,
            show_help: false,
            help_scroll: 0,
            routing_scroll: 0,
            size: (100, 30),
            now,
            status: None,
            costs: CostSnapshot {
                monthly_budget: opts.monthly_budget,
                ..CostSnapshot::default()
            },
            preview: None,
            preview_due: None,
            last_preview_text: String::new(),
            outbox: Vec::new(),
            abandoned: Vec::new(),
            quit: false,
            worker_gone: false,
            personal: None,
            profile: None,
            profile_loading: false,
            profile_scroll: 0,
            profile_diff: None,
            consultation: None,
            consultation_requested: false,
            confirm: None,
            proposal: None,
            dismissed_proposals: Vec::new(),
            cancelled_turns: Vec::new(),
            screen: Screen::Chat,
            review: ReviewState::new(opts.utc_offset_minutes),
            dashboard: None,
            dashboard_months_back: 0,
            dashboard_loading: false,
            clipboard: Vec::new(),
            opts,
        };
        app.style_input();
        app
    }

    // ----- read access for views and tests -----

    pub fn tabs(&self) -> &[Tab] {
        &self.tabs
    }
    pub fn active_index(&self) -> usize {
        self.active
    }
    pub fn tab(&self) -> &Tab {
        &self.tabs[self.active]
    }
    pub fn input(&self) -> &TextArea<'static> {
        &self.input
    }
    pub fn input_text(&self) -> String {
        self.input.lines().join("\n")
    }
    pub fn focus(&self) -> Focus {
        self.focus
    }
    pub fn show_routing(&self) -> bool {
        self.show_routing
    }
    pub fn show_help(&self) -> bool {
        self.show_help
    }
    pub fn help_scroll(&self) -> usize {
        self.help_scroll
    }
    pub fn routing_scroll(&self) -> usize {
        self.routing_scroll
    }
    fn is_wide(&self) -> bool {
        self.size.0 >= views::SIDE_PANEL_MIN_WIDTH
    }
    /// Whether the routing panel is on screen (beside the chat, or over it when narrow).
    pub fn routing_visible(&self) -> bool {
        if self.is_wide() {
            self.show_routing
        } else {
            self.routing_overlay
        }
    }
    pub fn size(&self) -> (u16, u16) {
        self.size
    }
    pub fn now(&self) -> Instant {
        self.now
    }
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }
    pub fn costs(&self) -> &CostSnapshot {
        &self.costs
    }
    pub fn preview(&self) -> Option<&RouteDecision> {
        self.preview.as_ref()
    }
    pub fn should_quit(&self) -> bool {
        self.quit
    }
    pub fn worker_gone(&self) -> bool {
        self.worker_gone
    }
    /// A personal coach is being prepared from a finished consultation.
    pub fn personal_preparing(&self) -> bool {
        self.personal == Some(PersonalStatus::Preparing)
    }
    pub fn screen(&self) -> Screen {
        self.screen
    }
    pub fn review(&self) -> &ReviewState {
        &self.review
    }
    pub fn dashboard(&self) -> Option<&DashboardData> {
        self.dashboard.as_ref()
    }
    pub fn dashboard_months_back(&self) -> u32 {
        self.dashboard_months_back
    }
    pub fn dashboard_loading(&self) -> bool {
        self.dashboard_loading
    }
    pub fn profile(&self) -> Option<&ProfileData> {
        self.profile.as_ref()
    }
    /// The local time zone's offset, for dates on screen.
    pub fn utc_offset_minutes(&self) -> i32 {
        self.opts.utc_offset_minutes
    }
    /// The prompt-version diff the profile screen shows, if one is open.
    pub fn profile_diff(&self) -> Option<&VersionDiff> {
        self.profile_diff.as_ref()
    }
    pub fn profile_loading(&self) -> bool {
        self.profile_loading
    }
    /// The consultation as the worker last described it.
    pub fn consultation(&self) -> Option<&ConsultationInfo> {
        self.consultation.as_ref()
    }
    /// The yes/no question on screen, if any.
    pub fn confirm(&self) -> Option<&Confirm> {
        self.confirm.as_ref()
    }
    /// The commitment proposal waiting for an answer, if any.
    pub fn proposal(&self) -> Option<&PendingProposal> {
        self.proposal.as_ref()
    }
    /// Lines scrolled past at the top of the profile screen.
    pub fn profile_scroll(&self) -> u16 {
        self.profile_scroll
    }
    /// Texts to copy to the clipboard since the last call (the event loop writes OSC 52).
    pub fn take_clipboard(&mut self) -> Vec<String> {
        std::mem::take(&mut self.clipboard)
    }
    pub fn monthly_budget(&self) -> Option<f64> {
        self.costs.monthly_budget.or(self.opts.monthly_budget)
    }

    /// Intents queued since the last call, in order.
    pub fn take_intents(&mut self) -> Vec<Intent> {
        std::mem::take(&mut self.outbox)
    }

    /// The routing panel shows the draft preview while one is fresh and the person types.
    pub fn panel_shows_preview(&self) -> bool {
        self.tab().selected_turn.is_none()
            && self.preview.is_some()
            && !self.input_text().trim().is_empty()
    }

    /// The turn the routing panel shows.
    pub fn panel_turn(&self) -> Option<(usize, &TurnRecord)> {
        let tab = self.tab();
        let i = tab.selected_turn.or_else(|| tab.latest_turn())?;
        tab.turns.get(i).map(|t| (i, t))
    }

    pub fn render_ctx(&self) -> RenderCtx<'_> {
        RenderCtx {
            width: self.message_width(),
            theme: &self.theme,
            crisis_notice: &self.opts.crisis_notice,
        }
    }

    fn layout(&self) -> views::AppLayout {
        views::layout(Rect::new(0, 0, self.size.0, self.size.1), self)
    }

    /// Width available to message text in the chat pane.
    pub fn message_width(&self) -> u16 {
        views::chat::text_width(self.layout().messages)
    }

    /// Rows of the chat pane.
    pub fn message_rows(&self) -> usize {
        usize::from(views::chat::text_rows(self.layout().messages))
    }

    /// True while the active tab shows a spinner (a turn waiting for its first token).
    pub fn animating(&self) -> bool {
        self.tab().spinner_since().is_some()
    }

    /// When the event loop should wake up with no input: spinner frame, preview, status expiry.
    pub fn next_wakeup(&self) -> Option<Instant> {
        let mut next: Option<Instant> = self.preview_due;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if self.animating() {
            consider(self.now + SPINNER_PERIOD);
        }
        if let Some(s) = &self.status
            && s.kind == StatusKind::Info
        {
            consider(s.since + STATUS_TTL);
        }
        next
    }

    // ----- terminal events -----

    pub fn handle_terminal_event(&mut self, event: TermEvent, now: Instant) {
        self.now = now;
        match event {
            TermEvent::Key(key) => self.handle_key(key, now),
            TermEvent::Paste(text) => self.handle_paste(&text, now),
            TermEvent::Mouse(m) => self.handle_mouse(m),
            TermEvent::Resize(w, h) => self.handle_resize(w, h),
            TermEvent::FocusGained | TermEvent::FocusLost => {}
        }
    }

    pub fn handle_resize(&mut self, w: u16, h: u16) {
        self.size = (w, h);
        self.refresh_view();
        let width = views::review::text_width(self.size);
        self.review.relayout(width, &self.theme);
    }

    pub fn handle_mouse(&mut self, m: MouseEvent) {
        if self.screen == Screen::Review {
            let code = match m.kind {
                MouseEventKind::ScrollUp => KeyCode::Up,
                MouseEventKind::ScrollDown => KeyCode::Down,
                _ => return,
            };
            for _ in 0..WHEEL_LINES {
                self.review_key(KeyEvent::new(code, KeyModifiers::NONE));
            }
            return;
        }
        if self.screen == Screen::Profile {
            match m.kind {
                MouseEventKind::ScrollUp => {
                    self.profile_scroll = self
                        .profile_scroll
                        .saturating_sub(u16::try_from(WHEEL_LINES).unwrap_or(1));
                }
                MouseEventKind::ScrollDown => {
                    self.profile_scroll = self
                        .profile_scroll
                        .saturating_add(u16::try_from(WHEEL_LINES).unwrap_or(1));
                }
                _ => {}
            }
            return;
        }
        match m.kind {
            MouseEventKind::ScrollUp => self.scroll_up(WHEEL_LINES),
            MouseEventKind::ScrollDown => self.scroll_down(WHEEL_LINES),
            _ => {}
        }
    }

    pub fn handle_paste(&mut self, text: &str, now: Instant) {
        self.now = now;
        self.show_help = false;
        match self.screen {
            Screen::Review => return self.review.paste(text),
            Screen::Dashboard | Screen::Profile => self.screen = Screen::Chat,
            Screen::Chat => {}
        }
        self.set_focus(Focus::Input);
        let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
        let clean = strip_controls(&normalized);
        self.input.insert_str(clean.as_ref());
        let lines = clean.lines().count();
        if lines > 1 {
            self.info(format!(
                "pasted {lines} lines ({} chars); Enter sends",
                clean.chars().count()
            ));
        }
        self.input_changed(now);
    }

    pub fn handle_key(&mut self, key: KeyEvent, now: Instant) {
        self.now = now;
        if key.kind == KeyEventKind::Release {
            return;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);

        // Keys that work everywhere, help open or not.
        match key.code {
            KeyCode::Char('c') if ctrl => {
                if self.tab().is_busy() {
                    self.cancel_active();
                } else {
                    self.request_quit();
                }
                return;
            }
            KeyCode::Char('q') if ctrl => {
                self.request_quit();
                return;
            }
            KeyCode::F(1) => {
                self.show_help = !self.show_help;
                self.help_scroll = 0;
                return;
            }
            _ => {}
        }
        if self.show_help {
            match key.code {
                KeyCode::Char('j') | KeyCode::Down => self.help_scroll += 1,
                KeyCode::Char('k') | KeyCode::Up => {
                    self.help_scroll = self.help_scroll.saturating_sub(1);
                }
                KeyCode::PageDown => self.help_scroll += 10,
                KeyCode::PageUp => self.help_scroll = self.help_scroll.saturating_sub(10),
                // Any other key closes the overlay and does nothing else.
                _ => self.show_help = false,
            }
            return;
        }

        if self.confirm.is_some() {
            return self.confirm_key(key);
        }
        if self.proposal.is_some() && self.proposal_key(key) {
            return;
        }

        let editing_search = self.screen == Screen::Review && self.review.search.editing;
        match key.code {
            KeyCode::Char('o') if ctrl => return self.toggle_screen(Screen::Review),
            KeyCode::F(5) => return self.toggle_screen(Screen::Review),
            KeyCode::F(4) => return self.toggle_screen(Screen::Dashboard),
            KeyCode::F(6) => return self.toggle_screen(Screen::Profile),
            _ => {}
        }
        match self.screen {
            Screen::Chat => {}
            Screen::Review => {
                if !editing_search && key.code == KeyCode::Char('?') {
                    self.show_help = true;
                    self.help_scroll = 0;
                    return;
                }
                return self.review_key(key);
            }
            Screen::Dashboard => return self.dashboard_key(key),
            Screen::Profile => return self.profile_key(key),
        }

        match key.code {
            KeyCode::Esc => {
                if self.tab().is_busy() {
                    self.cancel_active();
                } else if self.routing_overlay && !self.is_wide() {
                    self.routing_overlay = false;
                } else if self.tab().show_compare {
                    self.tabs[self.active].show_compare = false;
                    self.refresh_view();
                } else if self.focus == Focus::Messages {
                    self.set_focus(Focus::Input);
                } else if self.tab().selected_turn.is_some() {
                    self.tabs[self.active].selected_turn = None;
                }
                return;
            }
            KeyCode::F(2) => return self.toggle_routing(),
            KeyCode::Char('r') if ctrl => return self.toggle_routing(),
            KeyCode::F(3) => return self.toggle_compare(),
            KeyCode::Char('t') if ctrl => return self.new_tab(),
            KeyCode::Char('w') if ctrl => return self.close_tab(),
            KeyCode::Left if ctrl => return self.switch_tab(-1),
            KeyCode::Right if ctrl => return self.switch_tab(1),
            KeyCode::Char(d @ '1'..='9') if alt => {
                let i = usize::from(d as u8 - b'1');
                if i < self.tabs.len() {
                    self.activate(i);
                }
                return;
            }
            KeyCode::Up if alt && self.routing_visible() => {
                self.routing_scroll = self.routing_scroll.saturating_sub(1);
                return;
            }
            KeyCode::Down if alt && self.routing_visible() => {
                self.routing_scroll += 1;
                return;
            }
            KeyCode::PageUp if self.routing_overlay && !self.is_wide() => {
                self.routing_scroll = self.routing_scroll.saturating_sub(self.page());
                return;
            }
            KeyCode::PageDown if self.routing_overlay && !self.is_wide() => {
                self.routing_scroll += self.page();
                return;
            }
            KeyCode::PageUp => return self.scroll_up(self.page()),
            KeyCode::PageDown => return self.scroll_down(self.page()),
            KeyCode::Tab | KeyCode::BackTab if !ctrl && !alt => {
                let next = match self.focus {
                    Focus::Input => Focus::Messages,
                    Focus::Messages => Focus::Input,
                };
                return self.set_focus(next);
            }
            _ => {}
        }

        match self.focus {
            Focus::Input => self.input_key(key, now),
            Focus::Messages => self.messages_key(key, now),
        }
    }

    fn input_key(&mut self, key: KeyEvent, now: Instant) {
        let shift = key.modifiers.contains(KeyModifiers::SHIFT);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter if shift || alt => self.input.insert_newline(),
            // Ctrl+J is a line feed: the newline key of terminals that hide Shift+Enter.
            KeyCode::Char('j') if ctrl => self.input.insert_newline(),
            KeyCode::Enter => return self.submit(now),
            _ => {
                if !self.input.input(key) {
                    return;
                }
            }
        }
        self.input_changed(now);
    }

    fn messages_key(&mut self, key: KeyEvent, now: Instant) {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('j') | KeyCode::Down if plain => self.scroll_down(1),
            KeyCode::Char('k') | KeyCode::Up if plain => self.scroll_up(1),
            KeyCode::Char('g') | KeyCode::Home if plain => self.scroll_top(),
            KeyCode::Char('G') | KeyCode::End => self.scroll_bottom(),
            KeyCode::Char('?') => {
                self.show_help = true;
                self.help_scroll = 0;
            }
            KeyCode::Char('[') => self.select_turn(-1),
            KeyCode::Char(']') => self.select_turn(1),
            KeyCode::Enter | KeyCode::Char('i') if plain => self.set_focus(Focus::Input),
            KeyCode::Char(_) if plain => {
                // Typing while the pane has focus goes to the input, not lost.
                self.set_focus(Focus::Input);
                self.input_key(key, now);
            }
            _ => {}
        }
    }

    fn set_focus(&mut self, focus: Focus) {
        self.focus = focus;
        self.style_input();
    }

    fn style_input(&mut self) {
        self.input.set_cursor_line_style(Style::default());
        self.input.set_wrap_mode(WrapMode::WordOrGlyph);
        self.input
            .set_placeholder_text(if self.consultation_tab_done() {
                "Write to start a new consultation…  (Ctrl+T opens a chat tab)"
            } else if self.tab().consultation {
                "Answer the interviewer…  (/finish ends the consultation)"
            } else {
                "Message the coach…  (/help for commands)"
            });
        self.input.set_placeholder_style(self.theme.dim);
        let cursor = if self.focus == Focus::Input {
            Style::default().add_modifier(ratatui::style::Modifier::REVERSED)
        } else {
            Style::default()
        };
        self.input.set_cursor_style(cursor);
    }

    fn page(&self) -> usize {
        self.message_rows().saturating_sub(2).max(1)
    }

    // ----- input, preview and commands -----

    fn input_changed(&mut self, now: Instant) {
        let text = self.input_text();
        let trimmed = text.trim();
        if trimmed.is_empty() || commands::parse(&text).is_some() {
            self.preview_due = None;
            self.preview = None;
            self.last_preview_text.clear();
        } else {
            self.preview_due = Some(now + PREVIEW_DEBOUNCE);
        }
        // A new draft takes the routing panel back from a selected past turn.
        self.tabs[self.active].selected_turn = None;
        self.routing_scroll = 0;
    }

    pub fn handle_tick(&mut self, now: Instant) -> bool {
        let before_frame = self.spinner_frame();
        self.now = now;
        let mut dirty = false;
        if let Some(due) = self.preview_due
            && now >= due
        {
            self.preview_due = None;
            let text = self.input_text();
            if text != self.last_preview_text {
                self.outbox.push(Intent::Preview {
                    conversation_id: self.tab().conversation_id,
                    text: commands::unescape_message(&text).to_string(),
                });
                self.last_preview_text = text;
            }
        }
        if let Some(s) = &self.status
            && s.kind == StatusKind::Info
            && now.duration_since(s.since) >= STATUS_TTL
        {
            self.status = None;
            dirty = true;
        }
        dirty || (self.animating() && self.spinner_frame() != before_frame)
    }

    /// Spinner frame index, derived from the clock so every view agrees.
    pub fn spinner_frame(&self) -> u128 {
        self.tab().spinner_since().map_or(0, |since| {
            self.now.saturating_duration_since(since).as_millis() / SPINNER_PERIOD.as_millis()
        })
    }

    fn submit(&mut self, now: Instant) {
        let text = self.input_text();
        if text.trim().is_empty() {
            return;
        }
        match commands::parse(&text) {
            Some(Ok(cmd)) => {
                self.clear_input();
                self.run_command(cmd, now);
            }
            Some(Err(e)) => self.warn(e.to_string()),
            None => {
                if self.send_message(commands::unescape_message(&text).to_string(), false, now) {
                    self.clear_input();
                }
            }
        }
    }

    fn clear_input(&mut self) {
        self.input = TextArea::default();
        self.style_input();
        self.preview = None;
        self.preview_due = None;
        self.last_preview_text.clear();
    }

    fn run_command(&mut self, cmd: Command, now: Instant) {
        match cmd {
            Command::New => self.new_tab(),
            Command::Model(id) => {
                self.info(format!(
                    "model pinned to {id} for this conversation (/auto unpins)"
                ));
                self.tabs[self.active].pin = Some(id);
            }
            Command::ShowModel => match &self.tab().pin {
                Some(p) => self.info(format!("pinned: {p} (/auto unpins)")),
                None => self.info("routing chooses the model (/model <id> pins one)"),
            },
            Command::Auto => {
                self.tabs[self.active].pin = None;
                self.info("routing chooses the model again");
            }
            Command::Upgrade => {
                self.tabs[self.active].upgrade_next = true;
                let m = self.opts.upgrade_model.clone();
                self.info(if m.is_empty() {
                    "the next turn uses the upgrade model".to_string()
                } else {
                    format!("the next turn uses the upgrade model ({m})")
                });
            }
            Command::Compare(Some(text)) => {
                self.send_message(text, true, now);
            }
            Command::Compare(None) => self.toggle_compare(),
            Command::Export(format) => self.export(format),
            Command::Commit(input) => {
                self.outbox.push(Intent::Commit {
                    conversation_id: self.tab().conversation_id,
                    input,
                });
                self.info("saving the commitment…");
            }
            Command::Resolve(id, resolution) => {
                self.outbox
                    .push(Intent::ResolveCommitment { id, resolution });
            }
            Command::Commitments => self.outbox.push(Intent::ListCommitments),
            Command::Propose => match self.tab().conversation_id {
                Some(conversation_id) if !self.tab().consultation => {
                    self.outbox
                        .push(Intent::ProposeCommitment { conversation_id });
                    self.info("reading the last exchange for a commitment…");
                }
                _ => self.warn("nothing to read yet: /propose works after a coaching turn"),
            },
            Command::Consult => self.request_consultation(),
            Command::Finish => {
                self.outbox.push(Intent::FinishConsultation);
                self.info("finishing the consultation…");
            }
            Command::Help => {
                self.show_help = true;
                self.help_scroll = 0;
            }
            Command::Quit => self.request_quit(),
        }
    }

    fn export(&mut self, format: ExportFormat) {
        match self.tab().conversation_id {
            Some(conversation_id) => {
                self.outbox.push(Intent::Export {
                    conversation_id,
                    format,
                });
                self.info(format!("exporting as {}…", format.as_str()));
            }
            None => self.warn("nothing to export yet: this conversation has no saved turn"),
        }
    }

    /// Queues a turn (or a comparison). False when it cannot be sent now.
    fn send_message(&mut self, text: String, compare: bool, now: Instant) -> bool {
        if self.worker_gone {
            self.error(format!(
                "the coach worker has stopped; nothing can be sent (see {})",
                self.log_hint()
            ));
            return false;
        }
        if self.tab().is_busy() {
            self.warn("an answer is still arriving: wait, or press Esc to stop it");
            return false;
        }
        let seq = self.next_pending_seq;
        self.next_pending_seq += 1;
        let tab = &mut self.tabs[self.active];
        let request = SendRequest {
            conversation_id: tab.conversation_id,
            text: text.clone(),
            pin: tab.pin.clone(),
            force_upgrade: std::mem::take(&mut tab.upgrade_next),
        };
        if tab.consultation && compare {
            self.warn("the consultation is an interview: /compare works in a chat tab");
            return false;
        }
        let consultation = tab.consultation;
        let mut msg = Message::new(Role::User, text.clone());
        msg.compare = compare;
        tab.push_message(msg);
        tab.pending = Some(Pending {
            seq,
            since: now,
            expected: if compare { 2 } else { 1 },
            text,
            turn: None,
        });
        tab.selected_turn = None;
        // Sending means wanting to see the answer.
        tab.scroll = 0;
        if compare {
            tab.comparison = Some(Comparison {
                prompt: request.text.clone(),
                lanes: [None, None],
            });
            tab.show_compare = true;
            tab.compare_scroll = 0;
            self.outbox.push(Intent::Compare(request));
        } else if consultation {
            self.outbox
                .push(Intent::ConsultationTurn { text: request.text });
        } else {
            self.outbox.push(Intent::Send(request));
        }
        self.refresh_view();
        true
    }

    // ----- tabs -----

    // ----- scrolling -----

    // ----- Review and Dashboard -----

    /// Opens `screen`, or goes back to the chat when it is already open.
    fn toggle_screen(&mut self, screen: Screen) {
        if self.screen == screen {
            self.screen = Screen::Chat;
            return;
        }
        self.screen = screen;
        match screen {
            Screen::Chat => {}
            Screen::Review => {
                let intent = self.review.open();
                self.outbox.push(intent);
            }
            Screen::Dashboard => self.request_dashboard(),
            Screen::Profile => self.request_profile(),
        }
    }

    fn request_dashboard(&mut self) {
        self.dashboard_loading = true;
        self.outbox.push(Intent::Dashboard {
            months_back: self.dashboard_months_back,
        });
    }

    fn review_key(&mut self, key: KeyEvent) {
        let rows = views::review::body_rows(self.size);
        match self.review.key(key, rows) {
            ReviewAction::None => {}
            ReviewAction::Send(intent) => {
                if let Intent::Export { format, .. } = &intent {
                    self.info(format!("exporting as {}…", format.as_str()));
                }
                self.outbox.push(intent);
            }
            ReviewAction::Continue { id, title } => self.resume_conversation(id, title),
            ReviewAction::Copy { text, what } => {
                let chars = text.chars().count();
                self.clipboard.push(text);
                self.info(format!("copied {what} ({chars} chars) to the clipboard"));
            }
            ReviewAction::Status(text) => self.warn(text),
            ReviewAction::Close => self.screen = Screen::Chat,
        }
    }

    fn dashboard_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => self.screen = Screen::Chat,
            KeyCode::Char('[') | KeyCode::Left | KeyCode::Char('h') => {
                self.dashboard_months_back = self.dashboard_months_back.saturating_add(1);
                self.request_dashboard();
            }
            KeyCode::Char(']') | KeyCode::Right | KeyCode::Char('l') => {
                if self.dashboard_months_back == 0 {
                    self.info("this is the current month");
                } else {
                    self.dashboard_months_back -= 1;
                    self.request_dashboard();
                }
            }
            KeyCode::Char('r') => self.request_dashboard(),
            KeyCode::Char('?') => {
                self.show_help = true;
                self.help_scroll = 0;
            }
            _ => {}
        }
    }

    // ----- consultation, confirmations and proposals -----

    // ----- cancelling and quitting -----

    fn cancel_active(&mut self) {
        let tab_idx = self.active;
        let first = self.tabs[tab_idx].messages.len().saturating_sub(1);
        let mut cancelled = Vec::new();
        let mut abandoned = None;
        let mut unstarted = None;
        self.change_tab(tab_idx, first, |tab| {
            for rec in tab.turns.iter_mut().filter(|t| !t.finished()) {
                rec.cancelled = true;
                cancelled.push(rec.turn);
                if let Some(m) = rec.message.and_then(|i| tab.messages.get_mut(i)) {
                    m.status = MessageStatus::Interrupted;
                    m.invalidate();
                }
            }
            if let Some(p) = tab.pending.take() {
                if tab.consultation {
                    // Bound to its turn already, or cancelled when the worker queues it.
                    unstarted = p.turn;
                } else {
                    abandoned = Some(Abandoned {
                        seq: p.seq,
                        conversation_id: tab.conversation_id,
                        expected: p.expected,
                    });
                }
                if cancelled.is_empty() {
                    // Not started yet: the worker has the message; its turn is cancelled
                    // when it starts.
                    tab.messages.push(Message::new(
                        Role::Notice,
                        "stopped before the answer began",
                    ));
                }
            }
        });
        self.abandoned.extend(abandoned);
        if let Some(turn) = unstarted {
            self.cancelled_turns.push(turn);
            cancelled.push(turn);
        }
        for turn in &cancelled {
            self.outbox.push(Intent::Cancel { turn: *turn });
        }
        self.info("stopped; the partial answer is kept");
    }

    fn request_quit(&mut self) {
        for tab in &self.tabs {
            for t in tab.live_turns() {
                self.outbox.push(Intent::Cancel { turn: t.turn });
            }
        }
        self.outbox.push(Intent::Shutdown);
        self.quit = true;
    }

    /// The worker's channel closed: nothing more will arrive.
    pub fn handle_worker_gone(&mut self) {
        if self.worker_gone {
            return;
        }
        self.worker_gone = true;
        for tab in &mut self.tabs {
            tab.pending = None;
            for rec in tab.turns.iter_mut().filter(|t| !t.finished()) {
                rec.cancelled = true;
                if let Some(m) = rec.message.and_then(|i| tab.messages.get_mut(i)) {
                    m.status = MessageStatus::Failed;
                    m.invalidate();
                }
            }
        }
        self.error(format!(
            "the coach worker stopped unexpectedly (see {}); Ctrl+Q quits",
            self.log_hint()
        ));
        self.refresh_view();
    }

    fn log_hint(&self) -> String {
        if self.opts.log_hint.is_empty() {
            "the log".to_string()
        } else {
            self.opts.log_hint.clone()
        }
    }

    // ----- status bar -----

    fn info(&mut self, text: impl Into<String>) {
        self.set_status(text.into(), StatusKind::Info);
    }
    fn warn(&mut self, text: impl Into<String>) {
        self.set_status(text.into(), StatusKind::Warn);
    }
    fn error(&mut self, text: impl Into<String>) {
        self.set_status(text.into(), StatusKind::Error);
    }
    fn set_status(&mut self, text: String, kind: StatusKind) {
        self.status = Some(Status {
            text: strip_controls(&text).replace('\n', " "),
            kind,
            since: self.now,
        });
    }

    // ----- coach events -----

    // ----- history (loaded conversations) -----
}

mod coach_events;
mod personal;
mod tabs;

#[cfg(test)]
mod tests;
