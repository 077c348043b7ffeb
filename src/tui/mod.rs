//! The terminal UI: chat tabs with streamed Markdown answers, the live routing panel, the
//! cost meter, compare, Review (history, search, read-only conversations), Dashboard, help.
//!
//! It talks to the coach worker only through `coach::api` (intents down, events up) and
//! never does HTTP or SQL. State lives in `App`, changed only by its `handle_*` methods;
//! `views::draw` reads it.

pub mod app;
pub mod clipboard;
pub mod commands;
pub mod conversation;
pub mod highlight;
pub mod markdown;
pub mod review;
pub mod terminal;
pub mod theme;
pub mod views;
pub mod wrap;

use std::io::{IsTerminal, Write};
use std::time::Instant;

use anyhow::Context;
use crossterm::event::EventStream;
use futures::StreamExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use app::{App, DEFAULT_CRISIS_NOTICE, TuiOptions};
pub use theme::{ThemeKind, no_color_from_env};
pub use views::draw;

use crate::coach::api::{Event, Intent};

/// Most coach events applied before a redraw, so a fast stream cannot starve the keyboard.
const MAX_EVENTS_PER_FRAME: usize = 512;

/// Runs the terminal UI until the person quits. Sends `Intent::Shutdown` on the way out.
pub async fn run(
    opts: TuiOptions,
    intents: UnboundedSender<Intent>,
    mut events: UnboundedReceiver<Event>,
) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "the full-screen interface needs a terminal on stdout; \
             in scripts use `grow ask` or `grow route`"
        );
    }
    let (guard, mut terminal) =
        terminal::TerminalGuard::enter().context("could not switch the terminal to full screen")?;
    let mut app = App::new(opts, Instant::now());
    let size = terminal
        .size()
        .context("could not read the terminal size")?;
    app.handle_resize(size.width, size.height);
    let mut reader = EventStream::new();
    let mut events_open = true;
    let mut dirty = true;
    loop {
        if dirty {
            terminal
                .draw(|frame| views::draw(frame, &app))
                .context("could not draw to the terminal")?;
            dirty = false;
        }
        for text in app.take_clipboard() {
            let backend = terminal.backend_mut();
            backend
                .write_all(clipboard::osc52(&text).as_bytes())
                .and_then(|()| backend.flush())
                .context("could not write to the terminal")?;
        }
        for intent in app.take_intents() {
            if intents.send(intent).is_err() && events_open {
                tracing::warn!("coach worker channel closed while sending an intent");
            }
        }
        if app.should_quit() {
            break;
        }
        let wake = app.next_wakeup();
        let sleep = async {
            match wake {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            term = reader.next() => match term {
                Some(Ok(ev)) => {
                    app.handle_terminal_event(ev, Instant::now());
                    dirty = true;
                }
                Some(Err(e)) => return Err(e).context("could not read from the terminal"),
                None => break,
            },
            ev = events.recv(), if events_open => match ev {
                Some(ev) => {
                    let now = Instant::now();
                    app.handle_coach_event(ev, now);
                    // Apply what else has arrived before drawing: one frame per burst.
                    for _ in 0..MAX_EVENTS_PER_FRAME {
                        match events.try_recv() {
                            Ok(ev) => app.handle_coach_event(ev, now),
                            Err(_) => break,
                        }
                    }
                    dirty = true;
                }
                None => {
                    events_open = false;
                    app.handle_worker_gone();
                    dirty = true;
                }
            },
            _ = sleep => {
                dirty |= app.handle_tick(Instant::now());
            }
        }
    }
    drop(terminal);
    drop(guard);
    Ok(())
}
