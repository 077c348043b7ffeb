//! What the coach worker reports back: turn progress, decisions, deltas, errors, pages of
//! history and every screen's data, applied to the app state.

use super::*;

impl App {
    pub fn handle_coach_event(&mut self, event: Event, now: Instant) {
        self.now = now;
        match event {
            Event::TurnStarted {
                turn,
                conversation_id,
                user_message_id: _,
                compare_lane,
            } => self.turn_started(turn, conversation_id, compare_lane),
            Event::Decision { turn, decision } => {
                let crisis = self.on_turn(turn, |tab, rec| {
                    let crisis = decision.safety == Safety::Crisis;
                    if let Some(m) = rec.message.and_then(|i| tab.messages.get_mut(i)) {
                        m.model = Some(decision.model.clone());
                        m.routed_model = Some(decision.model.clone());
                        m.safety = decision.safety;
                        m.invalidate();
                    }
                    rec.decision = Some(decision);
                    crisis
                });
                if crisis == Some(true) {
                    self.warn("safety notice: crisis resources are shown with this answer");
                }
            }
            Event::AttemptStarted { turn, model } => {
                self.on_turn(turn, |_, rec| rec.current_attempt = Some(model));
            }
            Event::AttemptFinished { turn, attempt } => {
                self.on_turn(turn, |_, rec| rec.attempts.push(attempt));
            }
            Event::FirstToken { turn, after_ms } => {
                self.on_turn(turn, |_, rec| rec.first_token_ms = Some(after_ms));
            }
            Event::Delta { turn, text } => {
                let now = self.now;
                self.on_turn(turn, |tab, rec| {
                    if rec.cancelled {
                        return;
                    }
                    if rec.first_token_ms.is_none() {
                        let ms = now.saturating_duration_since(rec.sent_at).as_millis();
                        rec.first_token_ms = Some(u64::try_from(ms).unwrap_or(u64::MAX));
                    }
                    match rec.message.and_then(|i| tab.messages.get_mut(i)) {
                        Some(m) => m.push_text(&text),
                        None => rec.lane_text.push_str(&text),
                    }
                });
            }
            Event::TurnFinished { turn, summary } => {
                let costs = summary.costs;
                let notice = summary.notice.clone();
                let failed = summary.status == TurnStatus::Failed;
                self.on_turn(turn, |tab, rec| {
                    tab.conversation_id = Some(summary.conversation_id);
                    tab.conversation_cost = costs.conversation;
                    tab.cost_per_turn.push(summary.cost_usd);
                    if let Some(m) = rec.message.and_then(|i| tab.messages.get_mut(i)) {
                        m.model = Some(summary.model.clone());
                        m.offline = summary.offline || summary.model == OFFLINE_MODEL;
                        m.notice = summary.notice.clone();
                        m.status = if rec.cancelled {
                            MessageStatus::Interrupted
                        } else {
                            match summary.status {
                                TurnStatus::Complete => MessageStatus::Complete,
                                TurnStatus::Partial => MessageStatus::Interrupted,
                                TurnStatus::Failed => MessageStatus::Failed,
                            }
                        };
                        m.invalidate();
                    }
                    rec.summary = Some(summary);
                });
                // Today and this month are global: true even for a turn of a closed tab.
                self.costs = CostSnapshot {
                    monthly_budget: costs.monthly_budget.or(self.opts.monthly_budget),
                    ..costs
                };
                if self.turn_index.contains_key(&turn) {
                    if let Some(n) = notice {
                        if failed {
                            self.error(n);
                        } else {
                            self.info(n);
                        }
                    }
                }
            }
            Event::Preview { decision } => {
                if !self.input_text().trim().is_empty() {
                    self.preview = Some(decision);
                }
            }
            Event::Conversations(list) => self.review.set_conversations(list),
            Event::SearchResults { query, hits } => {
                let n = hits.len();
                self.review.set_results(query.clone(), hits);
                if self.screen == Screen::Review {
                    self.info(match n {
                        0 => format!("nothing found for “{query}”"),
                        1 => format!("1 message found for “{query}”"),
                        n => format!("{n} messages found for “{query}”"),
                    });
                }
            }
            Event::Conversation(detail) => {
                let width = views::review::text_width(self.size);
                self.review.set_detail(*detail, width, &self.theme);
            }
            Event::History(page) => self.history_arrived(page),
            Event::Dashboard(data) => {
                if data.months_back == self.dashboard_months_back {
                    self.dashboard_loading = false;
                    self.dashboard = Some(*data);
                }
            }
            Event::Commitments(list) => self.info(commands::commitments_summary(&list)),
            Event::PersonalCoach(status) => self.personal_coach(status),
            Event::Profile(data) => {
                self.profile_loading = false;
                self.profile = Some(*data);
            }
            Event::VersionDiff(diff) => {
                if self.screen == Screen::Profile {
                    self.profile_diff = Some(*diff);
                    self.profile_scroll = 0;
                }
            }
            Event::Consultation(info) => self.consultation_arrived(*info),
            Event::ConsultationTurnQueued { turn } => self.consultation_queued(turn),
            Event::ConsultationStep {
                turn,
                conversation_id,
                finished,
            } => self.consultation_step(turn, conversation_id, finished),
            Event::CommitmentProposal {
                conversation_id,
                proposal,
            } => {
                let text = proposal.text.trim().to_lowercase();
                if !self.dismissed_proposals.contains(&text) {
                    self.proposal = Some(PendingProposal {
                        conversation_id,
                        proposal,
                    });
                    self.refresh_view();
                }
            }
            Event::Notice(text) => self.info(text),
            Event::Error(text) => {
                self.review.search.waiting = false;
                self.dashboard_loading = false;
                self.profile_loading = false;
                for tab in &mut self.tabs {
                    if let Some(h) = &mut tab.history {
                        h.loading = false;
                    }
                }
                self.coach_error(text)
            }
        }
    }

    pub(super) fn coach_error(&mut self, text: String) {
        // A send that never started is the most likely subject: give its text back.
        let oldest = self
            .tabs
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.pending.as_ref().map(|p| (p.seq, i)))
            .min();
        if let Some((_, i)) = oldest
            && let Some(p) = self.tabs[i].pending.take()
        {
            let first = self.tabs[i].messages.len();
            self.change_tab(i, first, |tab| {
                tab.messages
                    .push(Message::new(Role::Notice, format!("not sent: {text}")));
            });
            if i == self.active && self.input_text().trim().is_empty() {
                self.input = TextArea::from(p.text.lines().map(str::to_string));
                self.style_input();
            }
        }
        self.error(text);
    }

    pub(super) fn turn_started(&mut self, turn: TurnId, conversation_id: i64, lane: Option<u8>) {
        // The worker starts turns in the order it received the sends: the oldest send that
        // can belong to this conversation is the one.
        if let Some(at) = self.cancelled_turns.iter().position(|t| *t == turn) {
            self.cancelled_turns.remove(at);
            self.outbox.push(Intent::Cancel { turn });
            return;
        }
        // A consultation turn was bound to its tab when the worker queued it.
        let bound = self
            .tabs
            .iter()
            .position(|t| t.pending.as_ref().is_some_and(|p| p.turn == Some(turn)));
        let fits = |cid: Option<i64>| cid.is_none() || cid == Some(conversation_id);
        let oldest_tab = self
            .tabs
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.consultation && fits(t.conversation_id))
            .filter_map(|(i, t)| t.pending.as_ref().map(|p| (p.seq, i)))
            .min();
        let oldest_abandoned = self
            .abandoned
            .iter()
            .enumerate()
            .filter(|(_, a)| fits(a.conversation_id))
            .map(|(j, a)| (a.seq, j))
            .min();
        let tab_idx = match (bound, oldest_tab, oldest_abandoned) {
            (Some(i), _, _) => i,
            (None, tab, abandoned) => match (tab, abandoned) {
                (Some((ts, i)), Some((as_, _))) if ts < as_ => i,
                (Some((_, i)), None) => i,
                (_, Some((_, j))) => {
                    self.abandoned[j].expected = self.abandoned[j].expected.saturating_sub(1);
                    if self.abandoned[j].expected == 0 {
                        self.abandoned.remove(j);
                    }
                    self.outbox.push(Intent::Cancel { turn });
                    return;
                }
                (None, None) => {
                    // Not ours (another face, or a bug): stop spending on it.
                    tracing::debug!(turn, conversation_id, "turn started for no open send");
                    self.outbox.push(Intent::Cancel { turn });
                    return;
                }
            },
        };
        let first = self.tabs[tab_idx].messages.len();
        let tab_id = self.tabs[tab_idx].id;
        let now = self.now;
        let mut record_idx = 0;
        self.change_tab(tab_idx, first, |tab| {
            let since = tab.pending.as_ref().map_or(now, |p| p.since);
            if let Some(p) = &mut tab.pending {
                p.expected = p.expected.saturating_sub(1);
                if p.expected == 0 {
                    tab.pending = None;
                }
            }
            tab.conversation_id = Some(conversation_id);
            if tab.consultation {
                // Writing after a completed consultation starts a new one.
                tab.title = CONSULTATION_TITLE.to_string();
            }
            let mut rec = TurnRecord::new(turn, lane, since);
            record_idx = tab.turns.len();
            match lane {
                Some(l) => {
                    let cmp = tab.comparison.get_or_insert_with(Comparison::default);
                    if let Some(slot) = cmp.lanes.get_mut(usize::from(l)) {
                        *slot = Some(record_idx);
                    }
                }
                None => {
                    let mut m = Message::new(Role::Coach, "");
                    m.status = MessageStatus::Streaming;
                    rec.message = Some(tab.push_message(m));
                }
            }
            tab.turns.push(rec);
        });
        self.turn_index.insert(turn, (tab_id, record_idx));
        self.style_input();
    }

    /// Runs `f` on a known turn with its tab, keeping the view stable. `None` for turns of
    /// closed tabs or unknown ids.
    pub(super) fn on_turn<R>(
        &mut self,
        turn: TurnId,
        f: impl FnOnce(&mut Tab, &mut TurnRecord) -> R,
    ) -> Option<R> {
        let &(tab_id, rec_idx) = self.turn_index.get(&turn)?;
        let tab_idx = self.tabs.iter().position(|t| t.id == tab_id)?;
        let first = self.tabs[tab_idx]
            .turns
            .get(rec_idx)?
            .message
            .unwrap_or(self.tabs[tab_idx].messages.len());
        let mut out = None;
        self.change_tab(tab_idx, first, |tab| {
            // Take the record out so `f` may touch the tab's messages too.
            let placeholder = TurnRecord::new(turn, None, tab.turns[rec_idx].sent_at);
            let mut rec = std::mem::replace(&mut tab.turns[rec_idx], placeholder);
            out = Some(f(tab, &mut rec));
            tab.turns[rec_idx] = rec;
        });
        out
    }

    /// Resumes a saved conversation in a new chat tab; its newest messages load first and
    /// older ones as the person scrolls to the top.
    pub fn resume_conversation(&mut self, conversation_id: i64, title: impl Into<String>) {
        if let Some(i) = self
            .tabs
            .iter()
            .position(|t| t.conversation_id == Some(conversation_id))
        {
            self.screen = Screen::Chat;
            return self.activate(i);
        }
        // Reuse the empty tab a fresh start opens rather than leaving it behind.
        let reuse = self.tab().conversation_id.is_none()
            && !self.tab().is_busy()
            && self.tab().messages.iter().all(|m| m.role != Role::User);
        if !reuse {
            self.new_tab();
        }
        self.screen = Screen::Chat;
        let tab = &mut self.tabs[self.active];
        tab.messages.clear();
        tab.conversation_id = Some(conversation_id);
        tab.title = title.into();
        tab.scroll = 0;
        tab.history = Some(HistoryCursor {
            loaded: 0,
            complete: false,
            loading: true,
        });
        self.outbox.push(Intent::LoadHistory {
            conversation_id,
            loaded: 0,
            page: HISTORY_PAGE,
        });
        self.set_focus(Focus::Input);
        self.refresh_view();
    }

    pub(super) fn history_arrived(&mut self, page: HistoryPage) {
        let Some(tab_idx) = self.tabs.iter().position(|t| {
            t.conversation_id == Some(page.conversation_id)
                && t.history.as_ref().is_some_and(|h| h.loading)
        }) else {
            return;
        };
        let n = page.messages.len();
        let older: Vec<Message> = page.messages.iter().map(review::to_chat_message).collect();
        let tab = &mut self.tabs[tab_idx];
        if let Some(h) = &mut tab.history {
            h.loading = false;
            h.loaded += n;
            h.complete = page.complete;
        }
        // The scroll offset counts from the bottom, so lines added above keep the view still;
        // turn records point at messages by index and move with them.
        for rec in &mut tab.turns {
            if let Some(m) = &mut rec.message {
                *m += n;
            }
        }
        tab.messages.splice(0..0, older);
        if tab_idx == self.active {
            self.refresh_view();
        }
    }

    /// Opens a saved conversation in a new tab (Review, resume) with its messages.
    pub fn open_conversation(
        &mut self,
        conversation_id: i64,
        title: impl Into<String>,
        messages: Vec<Message>,
    ) {
        self.new_tab();
        let tab = &mut self.tabs[self.active];
        tab.conversation_id = Some(conversation_id);
        tab.title = title.into();
        tab.messages = messages;
        self.refresh_view();
    }
}
