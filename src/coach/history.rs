//! The conversation as the model sees it: a window of recent messages, and the facts the
//! router needs about the whole conversation (turn count, tokens, last upgrade).

use crate::providers::{ChatMessage, Role};
use crate::routing::tokens::estimate_tokens;
use crate::routing::types::Signal;
use crate::store::Store;
use crate::store::{MessageStatus, Role as StoredRole};

#[derive(Debug, Clone, Default)]
pub struct HistoryWindow {
    /// Messages to send before the new one (oldest first).
    pub messages: Vec<ChatMessage>,
    /// Turns already in the conversation, not counting the new message.
    pub prior_turns: u32,
    /// Tokens of `messages`.
    pub tokens: u64,
    /// Turns since a signal last upgraded this conversation (1 = the previous turn).
    pub turns_since_signal_upgrade: Option<u32>,
}

/// Loads the window for a conversation whose newest user message may already be stored:
/// that message is left out (the caller appends it).
pub fn load(
    store: &Store,
    conversation_id: i64,
    history_turns: u32,
    upgrade_threshold: f32,
) -> anyhow::Result<HistoryWindow> {
    let recent = store.recent_messages(conversation_id, (history_turns as usize) * 2 + 1)?;
    let size = store.conversation_size(conversation_id)?;
    let mut msgs: Vec<_> = recent
        .into_iter()
        .filter(|m| m.status != MessageStatus::Failed && m.compare_lane.unwrap_or(0) == 0)
        .filter(|m| m.role != StoredRole::System && !m.content.trim().is_empty())
        .collect();
    // The newest user message is the one being answered now.
    let pending_user = msgs.last().is_some_and(|m| m.role == StoredRole::User);
    if pending_user {
        msgs.pop();
    }
    let messages: Vec<ChatMessage> = msgs
        .iter()
        .map(|m| match m.role {
            StoredRole::Assistant => ChatMessage::assistant(m.content.clone()),
            _ => ChatMessage::user(m.content.clone()),
        })
        .collect();
    let tokens = messages
        .iter()
        .map(|m| estimate_tokens(&m.content) + 4)
        .sum();
    let turns = size.turns.saturating_sub(u64::from(pending_user)) as u32;
    let decisions = store.recent_decisions(conversation_id, 16)?;
    let turns_since_signal_upgrade = decisions
        .iter()
        .position(|d| d.upgraded && triggered(&d.signals_json, upgrade_threshold))
        .map(|i| i as u32 + 1);
    Ok(HistoryWindow {
        messages,
        prior_turns: turns,
        tokens,
        turns_since_signal_upgrade,
    })
}

/// Whether a stored decision had a signal strong enough to upgrade on its own.
fn triggered(signals_json: &str, threshold: f32) -> bool {
    serde_json::from_str::<Vec<Signal>>(signals_json)
        .map(|signals| signals.iter().any(|s| s.score >= threshold))
        .unwrap_or(false)
}

/// Providers want user/assistant turns alternating, starting with the user: merge runs of
/// the same role (e.g. a user message whose answer failed) and drop a leading assistant.
pub fn alternate(messages: Vec<ChatMessage>) -> Vec<ChatMessage> {
    let mut out: Vec<ChatMessage> = Vec::with_capacity(messages.len());
    for m in messages {
        match out.last_mut() {
            Some(last) if last.role == m.role => {
                last.content.push_str("\n\n");
                last.content.push_str(&m.content);
            }
            None if m.role == Role::Assistant => {}
            _ => out.push(m),
        }
    }
    out
}

/// A conversation title from its first message, until a better one is generated.
pub fn title_from(text: &str) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let mut title: String = line.chars().take(48).collect();
    if line.chars().count() > 48 {
        title.push('…');
    }
    if title.is_empty() {
        "New conversation".to_string()
    } else {
        title
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternate_merges_same_role_runs_and_drops_leading_assistant() {
        let out = alternate(vec![
            ChatMessage::assistant("hi"),
            ChatMessage::user("a"),
            ChatMessage::user("b"),
            ChatMessage::assistant("c"),
            ChatMessage::user("d"),
        ]);
        let roles: Vec<Role> = out.iter().map(|m| m.role).collect();
        assert_eq!(roles, vec![Role::User, Role::Assistant, Role::User]);
        assert_eq!(out[0].content, "a\n\nb");
    }

    #[test]
    fn title_is_first_line_truncated() {
        assert_eq!(
            title_from("\n  Should I take the job?\nmore"),
            "Should I take the job?"
        );
        assert_eq!(title_from(""), "New conversation");
        assert_eq!(title_from(&"x".repeat(60)).chars().count(), 49);
    }
}
