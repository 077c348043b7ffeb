//! The coach worker: receives intents from a face, runs turns as tasks, sends events up.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::sync::watch;

use crate::store::ConversationKind;

use super::api::{Event, Intent, SendRequest, TurnId};
use super::engine::{CancelSignal, Coach};

/// Starts the worker on the current tokio runtime; returns the face's ends of the channels.
pub fn spawn(coach: Arc<Coach>) -> (UnboundedSender<Intent>, UnboundedReceiver<Event>) {
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    (start(coach, event_tx), event_rx)
}

/// Starts the worker sending its events into `events` (which other sources, such as the
/// config watcher, may share).
pub fn start(coach: Arc<Coach>, events: UnboundedSender<Event>) -> UnboundedSender<Intent> {
    let (intent_tx, intent_rx) = mpsc::unbounded_channel();
    tokio::spawn(run(coach, intent_rx, events));
    intent_tx
}

async fn run(
    coach: Arc<Coach>,
    mut intents: UnboundedReceiver<Intent>,
    events: UnboundedSender<Event>,
) {
    let mut next_turn: TurnId = 1;
    let mut cancels: HashMap<TurnId, watch::Sender<bool>> = HashMap::new();
    while let Some(intent) = intents.recv().await {
        cancels.retain(|_, tx| !tx.is_closed());
        match intent {
            Intent::Send(req) => {
                let turn = next_turn;
                next_turn += 1;
                match coach.begin_turn(&req, ConversationKind::Chat) {
                    Ok((conversation_id, user_message_id)) => {
                        let _ = events.send(Event::TurnStarted {
                            turn,
                            conversation_id,
                            user_message_id,
                            compare_lane: None,
                        });
                        let (tx, cancel) = CancelSignal::new();
                        cancels.insert(turn, tx);
                        spawn_turn(
                            coach.clone(),
                            events.clone(),
                            turn,
                            req,
                            conversation_id,
                            user_message_id,
                            None,
                            cancel,
                        );
                    }
                    Err(e) => {
                        let _ = events
                            .send(Event::Error(format!("could not save your message: {e:#}")));
                    }
                }
            }
            Intent::Compare(req) => {
                let (default, upgrade) = {
                    let p = coach.router().policy();
                    (p.default_model.clone(), p.upgrade_model.clone())
                };
                match coach.begin_turn(&req, ConversationKind::Chat) {
                    Ok((conversation_id, user_message_id)) => {
                        for (lane, model) in [(0u8, default), (1u8, upgrade)] {
                            let turn = next_turn;
                            next_turn += 1;
                            let _ = events.send(Event::TurnStarted {
                                turn,
                                conversation_id,
                                user_message_id,
                                compare_lane: Some(lane),
                            });
                            let lane_req = SendRequest {
                                pin: Some(model),
                                force_upgrade: false,
                                ..req.clone()
                            };
                            let (tx, cancel) = CancelSignal::new();
                            cancels.insert(turn, tx);
                            spawn_turn(
                                coach.clone(),
                                events.clone(),
                                turn,
                                lane_req,
                                conversation_id,
                                user_message_id,
                                Some(lane),
                                cancel,
                            );
                        }
                    }
                    Err(e) => {
                        let _ = events
                            .send(Event::Error(format!("could not save your message: {e:#}")));
                    }
                }
            }
            Intent::Cancel { turn } => {
                if let Some(tx) = cancels.get(&turn) {
                    let _ = tx.send(true);
                }
            }
            Intent::Preview {
                conversation_id,
                text,
            } => match coach.preview(conversation_id, &text) {
                Ok(decision) => {
                    let _ = events.send(Event::Preview { decision });
                }
                Err(e) => tracing::debug!("preview failed: {e:#}"),
            },
            Intent::Export {
                conversation_id,
                format,
            } => match coach.export(conversation_id, format) {
                Ok(path) => {
                    let _ = events.send(Event::Notice(format!("exported to {}", path.display())));
                }
                Err(e) => {
                    let _ = events.send(Event::Error(format!("export failed: {e:#}")));
                }
            },
            Intent::Shutdown => break,
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn spawn_turn(
    coach: Arc<Coach>,
    events: UnboundedSender<Event>,
    turn: TurnId,
    req: SendRequest,
    conversation_id: i64,
    user_message_id: i64,
    lane: Option<u8>,
    cancel: CancelSignal,
) {
    tokio::spawn(async move {
        if let Err(e) = coach
            .run_turn(
                turn,
                &req,
                conversation_id,
                user_message_id,
                lane,
                &events,
                cancel,
            )
            .await
        {
            tracing::error!(turn, "turn failed: {e:#}");
            let _ = events.send(Event::Error(format!("{e:#}")));
        }
    });
}
