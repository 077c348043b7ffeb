//! The personal coach in the TUI: the profile screen (F6) and its version diffs, the
//! consultation (cost confirmation, its tab, pause and resume), and commitment proposals.

use super::*;

impl App {
    /// `d` on the profile screen: what changed from the previous prompt version to the
    /// newest, or back to the profile.
    pub(super) fn toggle_profile_diff(&mut self) {
        if self.profile_diff.take().is_some() {
            self.profile_scroll = 0;
            return;
        }
        let versions = self.profile.as_ref().map(|p| p.versions.as_slice());
        match versions {
            Some([.., from, to]) => {
                self.outbox.push(Intent::DiffVersions {
                    from: from.version,
                    to: to.version,
                });
                self.info(format!(
                    "comparing prompt versions {} and {}…",
                    from.version, to.version
                ));
            }
            _ => self.info("a diff needs two prompt versions"),
        }
    }

    /// Prompt version numbers, oldest first.
    pub(super) fn version_numbers(&self) -> Vec<i64> {
        self.profile
            .as_ref()
            .map(|p| p.versions.iter().map(|v| v.version).collect())
            .unwrap_or_default()
    }

    pub(super) fn request_diff(&mut self, from: i64, to: i64) {
        self.outbox.push(Intent::DiffVersions { from, to });
        self.info(format!("comparing prompt versions {from} and {to}…"));
    }

    /// `D` on the profile screen: the first version against the newest.
    pub(super) fn diff_first_to_newest(&mut self) {
        match self.version_numbers().as_slice() {
            [first, .., last] => {
                let (first, last) = (*first, *last);
                self.request_diff(first, last);
            }
            _ => self.info("a diff needs two prompt versions"),
        }
    }

    /// `[`/`]` move version A (`from`) of the open diff to the previous/next version,
    /// `{`/`}` version B (`to`); any two versions can be compared, never one with itself.
    pub(super) fn step_diff(&mut self, move_from: bool, delta: isize) {
        let Some((from, to)) = self.profile_diff.as_ref().map(|d| (d.from, d.to)) else {
            return self.info("d or D opens a diff first");
        };
        let nums = self.version_numbers();
        let (moving, other) = if move_from { (from, to) } else { (to, from) };
        let Some(mut i) = nums.iter().position(|v| *v == moving) else {
            return;
        };
        let next = loop {
            let j = i as isize + delta;
            if j < 0 || j >= nums.len() as isize {
                break None;
            }
            i = j as usize;
            if nums[i] != other {
                break Some(nums[i]);
            }
        };
        match next {
            Some(v) if move_from => self.request_diff(v, to),
            Some(v) => self.request_diff(from, v),
            None => self.info(if delta < 0 {
                "no older version to compare"
            } else {
                "no newer version to compare"
            }),
        }
    }

    pub(super) fn request_profile(&mut self) {
        self.profile_loading = true;
        self.outbox.push(Intent::Profile);
    }

    pub(super) fn profile_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => self.screen = Screen::Chat,
            KeyCode::Char('j') | KeyCode::Down => {
                self.profile_scroll = self.profile_scroll.saturating_add(1);
            }
            KeyCode::Char('k') | KeyCode::Up => {
                self.profile_scroll = self.profile_scroll.saturating_sub(1);
            }
            KeyCode::PageDown => self.profile_scroll = self.profile_scroll.saturating_add(10),
            KeyCode::PageUp => self.profile_scroll = self.profile_scroll.saturating_sub(10),
            KeyCode::Char('g') | KeyCode::Home => self.profile_scroll = 0,
            KeyCode::Char('r') => self.request_profile(),
            KeyCode::Char('d') => self.toggle_profile_diff(),
            KeyCode::Char('D') => self.diff_first_to_newest(),
            KeyCode::Char('[') => self.step_diff(true, -1),
            KeyCode::Char(']') => self.step_diff(true, 1),
            KeyCode::Char('{') => self.step_diff(false, -1),
            KeyCode::Char('}') => self.step_diff(false, 1),
            KeyCode::Char('c') => self.request_consultation(),
            KeyCode::Char('?') => {
                self.show_help = true;
                self.help_scroll = 0;
            }
            _ => {}
        }
    }

    pub(super) fn confirm_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Char('y' | 'Y') | KeyCode::Enter => {
                if let Some(c) = self.confirm.take() {
                    match c.action {
                        ConfirmAction::EnableConsultation => {
                            self.outbox
                                .push(Intent::EnableConsultation { enabled: true });
                            self.info("turning the consultation on…");
                        }
                    }
                }
            }
            KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                if let Some(c) = self.confirm.take() {
                    match c.action {
                        ConfirmAction::EnableConsultation => {
                            self.consultation_requested = false;
                            self.info("the consultation stays off (/consult asks again)");
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// y/n answer a proposal while there is no draft to type into (Alt+Y/Alt+N always do);
    /// Esc with an empty draft says no. False when the key is not for the proposal.
    pub(super) fn proposal_key(&mut self, key: KeyEvent) -> bool {
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        let free = self.screen == Screen::Chat && self.input_text().trim().is_empty();
        match key.code {
            KeyCode::Char('y' | 'Y') if alt || (plain && free) => {
                if let Some(p) = self.proposal.take() {
                    self.outbox.push(Intent::AcceptProposal {
                        conversation_id: Some(p.conversation_id),
                        proposal: p.proposal,
                    });
                    self.info("saving the commitment…");
                    self.refresh_view();
                }
                true
            }
            KeyCode::Char('n' | 'N') if alt || (plain && free) => {
                self.dismiss_proposal();
                true
            }
            KeyCode::Esc if free && !self.tab().is_busy() => {
                self.dismiss_proposal();
                true
            }
            _ => false,
        }
    }

    pub(super) fn dismiss_proposal(&mut self) {
        if let Some(p) = self.proposal.take() {
            self.dismissed_proposals
                .push(p.proposal.text.trim().to_lowercase());
            self.info("not committed (/commit <text> [by <date>] notes one any time)");
            self.refresh_view();
        }
    }

    /// `/consult`, or `c` on the profile screen: ask the worker where the consultation is;
    /// its answer opens it (or asks to turn it on, showing the cost).
    pub fn request_consultation(&mut self) {
        self.consultation_requested = true;
        self.outbox.push(Intent::Consultation);
        self.info("opening the consultation…");
    }

    pub(super) fn consultation_arrived(&mut self, info: ConsultationInfo) {
        if let Some(p) = &mut self.profile {
            p.consultation = info.state.clone();
        }
        if let ConsultationState::Completed {
            conversation_id, ..
        } = info.state
        {
            self.consultation_completed(conversation_id);
        }
        let requested = std::mem::take(&mut self.consultation_requested);
        self.consultation = Some(info.clone());
        if !requested {
            return;
        }
        match info.state {
            ConsultationState::Disabled => {
                self.consultation_requested = true;
                self.confirm = Some(enable_consultation_question(&info));
            }
            _ if !info.has_model => self.warn(
                "the consultation needs a model: set ANTHROPIC_API_KEY or OPENAI_API_KEY (or a local endpoint); the offline coach cannot interview you",
            ),
            ConsultationState::NotStarted => self.open_consultation(None, false),
            ConsultationState::InProgress {
                conversation_id,
                exchanges,
            } => self.open_consultation(Some((conversation_id, exchanges)), false),
            ConsultationState::Completed { .. } => self.open_consultation(None, true),
        }
    }

    /// Opens (or goes to) the consultation tab; `resume`: the paused consultation and how
    /// many exchanges it has, whose messages load as in a resumed chat.
    pub(super) fn open_consultation(&mut self, resume: Option<(i64, u64)>, after_completed: bool) {
        self.screen = Screen::Chat;
        if let Some(i) = self.tabs.iter().position(|t| t.consultation) {
            self.activate(i);
            self.set_focus(Focus::Input);
            self.info("the consultation is open in this tab");
            return;
        }
        let intro = match resume {
            Some((conversation_id, exchanges)) => {
                self.resume_conversation(conversation_id, CONSULTATION_TITLE);
                format!(
                    "Resuming your consultation ({exchanges} exchange(s) so far). Write to continue; \
                     leave this tab any time to pause; /finish ends it and prepares your personal coach."
                )
            }
            None => {
                let reuse = self.tab().conversation_id.is_none()
                    && !self.tab().is_busy()
                    && self.tab().messages.iter().all(|m| m.role != Role::User);
                if !reuse {
                    self.new_tab();
                }
                self.tabs[self.active].messages.clear();
                let again = if after_completed {
                    "Your last consultation is complete; writing here starts a new one (a new personal prompt version follows). "
                } else {
                    ""
                };
                format!(
                    "{again}Consultation: the coach interviews you about your goals, your situation, \
                     what you tried and what got in the way, your values and how you like to be \
                     coached. Say hello to begin. Leave this tab any time to pause (/consult \
                     resumes); /finish ends it and prepares your personal coach."
                )
            }
        };
        let tab = &mut self.tabs[self.active];
        tab.consultation = true;
        tab.title = CONSULTATION_TITLE.to_string();
        tab.push_message(Message::new(Role::Notice, intro));
        self.set_focus(Focus::Input);
        self.refresh_view();
        self.info("consultation open: write to the interviewer (/finish ends it)");
    }

    pub(super) fn consultation_queued(&mut self, turn: TurnId) {
        let waiting = self
            .tabs
            .iter()
            .enumerate()
            .filter(|(_, t)| t.consultation)
            .filter_map(|(i, t)| {
                t.pending
                    .as_ref()
                    .filter(|p| p.turn.is_none())
                    .map(|p| (p.seq, i))
            })
            .min();
        match waiting {
            Some((_, i)) => {
                if let Some(p) = &mut self.tabs[i].pending {
                    p.turn = Some(turn);
                }
            }
            None => {
                // Stopped, or its tab closed, before the worker queued it.
                self.cancelled_turns.push(turn);
                self.outbox.push(Intent::Cancel { turn });
            }
        }
    }

    pub(super) fn consultation_step(&mut self, turn: TurnId, conversation_id: i64, finished: bool) {
        if finished {
            tracing::debug!(
                turn,
                conversation_id,
                "the interviewer completed the consultation"
            );
            self.consultation_completed(conversation_id);
            self.info("consultation complete: preparing your personal coach…");
        }
    }

    /// Says so in the consultation's tab, once (the interviewer ended it, or `/finish`).
    pub(super) fn consultation_completed(&mut self, conversation_id: i64) {
        let done_title = format!("{CONSULTATION_TITLE} ✓");
        let Some(i) = self.tabs.iter().position(|t| {
            t.consultation && t.conversation_id == Some(conversation_id) && t.title != done_title
        }) else {
            return;
        };
        let first = self.tabs[i].messages.len();
        self.change_tab(i, first, |tab| {
            tab.title = done_title;
            tab.push_message(Message::new(
                Role::Notice,
                "The consultation is complete. Preparing your personal coach… the chat keeps the \
                 generic coach until it is ready (F6 shows your profile). Writing here starts a \
                 new consultation.",
            ));
        });
        self.style_input();
    }

    /// Whether the consultation in the active tab is complete.
    pub fn consultation_tab_done(&self) -> bool {
        self.tab().consultation && self.tab().title.ends_with('✓')
    }

    pub(super) fn personal_coach(&mut self, status: PersonalStatus) {
        // Only a change seen while grow runs is news; the first report is the starting state.
        if self.personal == Some(PersonalStatus::Preparing) {
            match &status {
                PersonalStatus::Ready(v) => {
                    self.info(format!("your personal coach is ready (prompt version {v})"))
                }
                PersonalStatus::Failed(why) => self.warn(format!(
                    "preparing your personal coach failed: {why} (it is retried within the hour)"
                )),
                PersonalStatus::None | PersonalStatus::Preparing => {}
            }
        }
        self.personal = Some(status);
    }
}

/// The question before the consultation is turned on: what it is and what it costs.
pub(super) fn enable_consultation_question(info: &ConsultationInfo) -> Confirm {
    let mut lines = vec![
        "A guided interview (about 12 exchanges) about your goals, your situation, what you \
         tried, your values and how you like to be coached; then grow writes your profile and \
         a personal coaching prompt. Pause any time; /consult resumes."
            .to_string(),
        String::new(),
        "estimated cost (catalog prices, typical token counts):".to_string(),
    ];
    for l in &info.estimate.lines {
        let what = match l.interaction {
            "CONSULTATION" => "interview",
            "PROFILE_GENERATION" => "profile",
            "PERSONA_GENERATION" => "personal prompt",
            other => other,
        };
        lines.push(format!(
            "  {what:<16}{:>3} × {:<20}{:>8}",
            l.calls,
            strip_controls(&l.model),
            views::money(l.cost_usd)
        ));
    }
    lines.push(format!(
        "  {:<16}{:>34}",
        "total",
        format!("about {}", views::money(info.estimate.total_usd))
    ));
    if !info.has_model {
        lines.push(String::new());
        lines.push(
            "No model is configured yet: set ANTHROPIC_API_KEY or OPENAI_API_KEY to start it."
                .to_string(),
        );
    }
    Confirm {
        title: "Turn on the consultation?".to_string(),
        lines,
        question: "Turn it on? [y/n]".to_string(),
        action: ConfirmAction::EnableConsultation,
    }
}
