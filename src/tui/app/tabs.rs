//! Chat tabs and scrolling: opening, closing and switching tabs, the routing panel and
//! compare toggles, turn selection, and paging through a conversation's history.

use super::*;

impl App {
    pub fn new_tab(&mut self) {
        let id = self.next_tab_id;
        self.next_tab_id += 1;
        self.tabs.push(Tab::new(id));
        self.activate(self.tabs.len() - 1);
        self.set_focus(Focus::Input);
    }

    pub(super) fn close_tab(&mut self) {
        let tab = &self.tabs[self.active];
        let live: Vec<TurnId> = tab.live_turns().map(|t| t.turn).collect();
        let id = tab.id;
        match (&tab.pending, tab.consultation) {
            // A consultation turn not yet queued is cancelled when it is.
            (Some(p), true) => {
                if let Some(turn) = p.turn {
                    self.cancelled_turns.push(turn);
                    self.outbox.push(Intent::Cancel { turn });
                }
            }
            (Some(p), false) => self.abandoned.push(Abandoned {
                seq: p.seq,
                conversation_id: tab.conversation_id,
                expected: p.expected,
            }),
            (None, _) => {}
        }
        for turn in live {
            self.outbox.push(Intent::Cancel { turn });
        }
        self.turn_index.retain(|_, (tab_id, _)| *tab_id != id);
        self.tabs.remove(self.active);
        if self.tabs.is_empty() {
            let id = self.next_tab_id;
            self.next_tab_id += 1;
            self.tabs.push(Tab::new(id));
        }
        let i = self.active.min(self.tabs.len() - 1);
        self.activate(i);
    }

    pub(super) fn switch_tab(&mut self, delta: isize) {
        let n = self.tabs.len() as isize;
        let i = (self.active as isize + delta).rem_euclid(n) as usize;
        self.activate(i);
    }

    pub(super) fn activate(&mut self, i: usize) {
        self.active = i;
        self.style_input();
        self.preview = None;
        self.last_preview_text.clear();
        let now = self.now;
        if !self.input_text().trim().is_empty() {
            self.input_changed(now);
        }
        self.refresh_view();
    }

    pub(super) fn toggle_routing(&mut self) {
        if self.is_wide() {
            self.show_routing = !self.show_routing;
        } else {
            self.routing_overlay = !self.routing_overlay;
        }
        self.refresh_view();
    }

    pub(super) fn toggle_compare(&mut self) {
        let tab = &mut self.tabs[self.active];
        if tab.comparison.is_some() {
            tab.show_compare = !tab.show_compare;
        } else {
            self.warn("no comparison in this conversation yet: /compare <text>");
        }
        self.refresh_view();
    }

    pub(super) fn select_turn(&mut self, delta: isize) {
        let tab = &mut self.tabs[self.active];
        let Some(last) = tab.latest_turn() else {
            return;
        };
        let current = tab.selected_turn.unwrap_or(last) as isize;
        let next = current + delta;
        self.routing_scroll = 0;
        // Reaching the latest turn hands the panel back to "follow the latest".
        tab.selected_turn = if next >= last as isize {
            None
        } else {
            Some(next.max(0) as usize)
        };
        if !self.routing_visible() {
            self.toggle_routing();
        }
    }

    pub(super) fn scroll_up(&mut self, n: usize) {
        let rows = self.message_rows();
        if self.tab().show_compare {
            let tab = &mut self.tabs[self.active];
            tab.compare_scroll = tab.compare_scroll.saturating_add(n);
            return;
        }
        let ctx_width = self.message_width();
        let (theme, notice) = (&self.theme, &self.opts.crisis_notice);
        let ctx = RenderCtx {
            width: ctx_width,
            theme,
            crisis_notice: notice,
        };
        let tab = &mut self.tabs[self.active];
        let want = tab.scroll.saturating_add(n);
        let have = tab.ensure_tail(want.saturating_add(rows), &ctx);
        tab.scroll = want.min(have.saturating_sub(rows));
        let at_top = want >= have.saturating_sub(rows);
        self.load_older_if_at_top(at_top);
    }

    /// At the top of a resumed conversation with older messages left: fetch the next page.
    pub(super) fn load_older_if_at_top(&mut self, at_top: bool) {
        let tab = &mut self.tabs[self.active];
        let Some(conversation_id) = tab.conversation_id else {
            return;
        };
        if let Some(h) = &mut tab.history
            && at_top
            && !h.complete
            && !h.loading
        {
            h.loading = true;
            let loaded = h.loaded;
            self.outbox.push(Intent::LoadHistory {
                conversation_id,
                loaded,
                page: HISTORY_PAGE,
            });
        }
    }

    pub(super) fn scroll_down(&mut self, n: usize) {
        let tab = &mut self.tabs[self.active];
        if tab.show_compare {
            tab.compare_scroll = tab.compare_scroll.saturating_sub(n);
            return;
        }
        tab.scroll = tab.scroll.saturating_sub(n);
    }

    pub(super) fn scroll_top(&mut self) {
        self.scroll_up(usize::MAX / 4);
    }

    pub(super) fn scroll_bottom(&mut self) {
        let tab = &mut self.tabs[self.active];
        tab.scroll = 0;
        tab.compare_scroll = 0;
    }

    /// Lays out what the chat pane will show and keeps the scroll position inside the
    /// conversation. Called after anything that changes sizes.
    pub fn refresh_view(&mut self) {
        let rows = self.message_rows();
        let ctx = RenderCtx {
            width: self.message_width(),
            theme: &self.theme,
            crisis_notice: &self.opts.crisis_notice,
        };
        let tab = &mut self.tabs[self.active];
        let have = tab.ensure_tail(tab.scroll.saturating_add(rows), &ctx);
        tab.scroll = tab.scroll.min(have.saturating_sub(rows));
    }

    /// Applies `change` to a tab, keeping what the person looks at in place when they have
    /// scrolled up: lines added below the view push the offset from the bottom up.
    pub(super) fn change_tab(
        &mut self,
        tab_idx: usize,
        first_changed: usize,
        change: impl FnOnce(&mut Tab),
    ) {
        let ctx = RenderCtx {
            width: self.message_width(),
            theme: &self.theme,
            crisis_notice: &self.opts.crisis_notice,
        };
        let tab = &mut self.tabs[tab_idx];
        if tab.scroll == 0 {
            change(tab);
        } else {
            let before = tab.tail_height(first_changed, &ctx);
            change(tab);
            let after = tab.tail_height(first_changed, &ctx);
            tab.scroll = (tab.scroll + after).saturating_sub(before);
        }
        if tab_idx == self.active {
            self.refresh_view();
        }
    }
}
