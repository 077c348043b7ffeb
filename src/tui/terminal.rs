//! Terminal lifecycle: raw mode, alternate screen, bracketed paste, mouse capture and (when
//! the terminal supports it) disambiguated keys — and their restoration on every way out:
//! normal return, error (the guard's `Drop`) and panic (the hook restores first, then the
//! previous hook prints the message on the normal screen).

use std::io::{self, Stdout, stdout};
use std::panic::{self, PanicHookInfo};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    KeyboardEnhancementFlags, PopKeyboardEnhancementFlags, PushKeyboardEnhancementFlags,
};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal is in TUI mode; cleared by the first restore so later ones do nothing.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Keyboard enhancement flags were pushed and must be popped.
static ENHANCED: AtomicBool = AtomicBool::new(false);

type PanicHook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Holds the terminal in TUI mode; dropping it restores everything and the previous panic hook.
pub struct TerminalGuard {
    previous_hook: Arc<PanicHook>,
}

impl TerminalGuard {
    pub fn enter() -> io::Result<(TerminalGuard, Terminal<CrosstermBackend<Stdout>>)> {
        let previous_hook: Arc<PanicHook> = Arc::new(panic::take_hook());
        let chained = Arc::clone(&previous_hook);
        panic::set_hook(Box::new(move |info| {
            restore();
            chained(info);
        }));
        let guard = TerminalGuard { previous_hook };
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        execute!(
            stdout(),
            EnterAlternateScreen,
            EnableBracketedPaste,
            EnableMouseCapture
        )?;
        // Lets Shift+Enter and Esc arrive distinctly on terminals that speak the kitty
        // keyboard protocol; others ignore the sequence. Not asked for first: the query waits
        // up to two seconds for terminals (tmux among them) that never answer it.
        if execute!(
            stdout(),
            PushKeyboardEnhancementFlags(KeyboardEnhancementFlags::DISAMBIGUATE_ESCAPE_CODES)
        )
        .is_ok()
        {
            ENHANCED.store(true, Ordering::SeqCst);
        }
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        Ok((guard, terminal))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
        // The hook cannot be swapped while unwinding (take_hook panics then); ours stays,
        // and it only restores a terminal that is already restored.
        if std::thread::panicking() {
            return;
        }
        let _ = panic::take_hook();
        let previous = Arc::clone(&self.previous_hook);
        panic::set_hook(Box::new(move |info| previous(info)));
    }
}

/// Puts the terminal back as it was. Safe to call more than once and from a panic hook;
/// errors are ignored because there is nowhere left to report them.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = stdout();
    if ENHANCED.swap(false, Ordering::SeqCst) {
        let _ = execute!(out, PopKeyboardEnhancementFlags);
    }
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
}
