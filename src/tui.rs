//! Owning the terminal: raw mode and the alternate screen on the way in, and a guaranteed way out
//! on quit, panic, SIGTERM/SIGHUP/SIGINT and Ctrl-Z.

use std::io::{self, BufWriter, Stdout, Write};
use std::sync::atomic::{AtomicBool, AtomicBool as Flag, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};

use crossterm::{cursor, event, execute, terminal};
use ratatui::backend::{Backend, ClearType, CrosstermBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Rect, Size};
use ratatui::{Terminal, TerminalOptions, Viewport};

pub type Term = Terminal<Quiet<CrosstermBackend<BufWriter<Stdout>>>>;

/// A backend that sends nothing for a frame in which no cell changed. ratatui ends every frame
/// with colour resets and a hide-cursor (25 bytes) even when its diff is empty; on an idle
/// screen, over SSH, those are bytes for nothing. The cursor is hidden once, and again after
/// [`Quiet::forget`] (the terminal was given back, or resized).
pub struct Quiet<B> {
    inner: B,
    cursor_hidden: bool,
}

impl<B> Quiet<B> {
    pub fn new(inner: B) -> Self {
        Quiet {
            inner,
            cursor_hidden: false,
        }
    }

    /// The terminal's state is no longer known: hide the cursor again at the next frame.
    pub fn forget(&mut self) {
        self.cursor_hidden = false;
    }
}

impl<B: Backend> Backend for Quiet<B> {
    type Error = B::Error;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a Cell)>,
    {
        let mut content = content.peekable();
        if content.peek().is_none() {
            return Ok(());
        }
        self.inner.draw(content)
    }

    fn append_lines(&mut self, n: u16) -> Result<(), Self::Error> {
        self.inner.append_lines(n)
    }

    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        if !self.cursor_hidden {
            self.inner.hide_cursor()?;
            self.cursor_hidden = true;
        }
        Ok(())
    }

    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.cursor_hidden = false;
        self.inner.show_cursor()
    }

    fn get_cursor_position(&mut self) -> Result<Position, Self::Error> {
        self.inner.get_cursor_position()
    }

    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> Result<(), Self::Error> {
        self.inner.set_cursor_position(position)
    }

    fn clear(&mut self) -> Result<(), Self::Error> {
        self.inner.clear()
    }

    fn clear_region(&mut self, clear_type: ClearType) -> Result<(), Self::Error> {
        self.inner.clear_region(clear_type)
    }

    fn size(&self) -> Result<Size, Self::Error> {
        self.inner.size()
    }

    fn window_size(&mut self) -> Result<WindowSize, Self::Error> {
        self.inner.window_size()
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush()
    }
}

/// Whether the terminal is currently in our modes, so restoring twice (panic during quit, a signal
/// after a panic) is harmless.
static ACTIVE: AtomicBool = AtomicBool::new(false);
static MOUSE: Flag = Flag::new(false);

type ExitHook = Box<dyn FnOnce() + Send>;
/// Clean-ups that must run however the process ends. A normal return runs its own (drops); these
/// are for the ways out that never return: a re-raised signal and a panic.
static EXIT_HOOKS: Mutex<Vec<ExitHook>> = Mutex::new(Vec::new());

/// Runs `hook` if the process ends by a re-raised signal (SIGTERM, SIGHUP, SIGINT, a hung-up
/// terminal) or a panic. It must be idempotent with the owner's own clean-up.
pub fn on_exit(hook: impl FnOnce() + Send + 'static) {
    EXIT_HOOKS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Box::new(hook));
}

fn run_exit_hooks() {
    // try_lock: a panic inside `on_exit` itself must not deadlock the panic hook.
    let hooks = match EXIT_HOOKS.try_lock() {
        Ok(mut hooks) => std::mem::take(&mut *hooks),
        Err(TryLockError::Poisoned(p)) => std::mem::take(&mut *p.into_inner()),
        Err(TryLockError::WouldBlock) => return,
    };
    for hook in hooks {
        hook();
    }
}

pub fn enter(mouse: bool) -> io::Result<()> {
    MOUSE.store(mouse, Ordering::SeqCst);
    terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = io::stdout();
    execute!(out, terminal::EnterAlternateScreen, cursor::Hide)?;
    if mouse {
        execute!(out, event::EnableMouseCapture)?;
    }
    Ok(())
}

/// Leaves our terminal modes. Errors are ignored: when the SSH session is gone there is nobody to
/// tell, and the other steps must still be tried.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = io::stdout();
    if MOUSE.load(Ordering::SeqCst) {
        let _ = execute!(out, event::DisableMouseCapture);
    }
    let _ = execute!(out, terminal::LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
    let _ = out.flush();
}

/// A terminal of a fixed size that follows resize events (see [`resize`]) instead of asking the
/// tty for its size at every frame, which costs an open of /dev/tty per frame.
pub fn terminal() -> io::Result<Term> {
    // One write syscall per frame instead of one per escape sequence.
    let out = BufWriter::with_capacity(64 * 1024, io::stdout());
    let (w, h) = terminal::size()?;
    let viewport = Viewport::Fixed(Rect::new(0, 0, w, h));
    Terminal::with_options(
        Quiet::new(CrosstermBackend::new(out)),
        TerminalOptions { viewport },
    )
}

/// Sends `bytes` (an OSC 52 copy) to the terminal between frames, through the writer the frames
/// use, so they can never land inside a frame's own sequences.
pub fn send<W: Write>(
    term: &mut Terminal<Quiet<CrosstermBackend<W>>>,
    bytes: &[u8],
) -> io::Result<()> {
    let out = &mut term.backend_mut().inner;
    out.write_all(bytes)?;
    Write::flush(out)
}

/// Adopts a new size: the next frame is drawn in full.
pub fn resize(term: &mut Term, w: u16, h: u16) -> io::Result<()> {
    term.backend_mut().forget();
    term.resize(Rect::new(0, 0, w, h))
}

/// Restores the terminal before the default hook prints the panic, so the message is readable
/// and the shell is usable. A panic on any thread ends the process: a dashboard whose collector
/// died would otherwise go on showing stale figures as if they were live.
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
        run_exit_hooks();
        std::process::exit(101);
    }));
}

/// Ctrl-Z: give the terminal back, stop like any job, and take it again on `fg`.
pub fn suspend(term: &mut Term) -> io::Result<()> {
    let mouse = MOUSE.load(Ordering::SeqCst);
    restore();
    // SAFETY: raise() is async-signal-safe and SIGTSTP has its default (stop) disposition: we
    // never install a handler for it. Execution continues here after SIGCONT.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    enter(mouse)?;
    term.backend_mut().forget();
    // The window may have changed size while we were stopped.
    let (w, h) = terminal::size()?;
    resize(term, w, h)?;
    term.clear()
}

/// Works around crossterm's event reader spinning at 100% CPU on a terminal that has gone away
/// without a SIGHUP (crossterm-rs/crossterm#793: its read loop retries EOF and EIO forever, holding
/// the reader). A thread blocks in poll(2) on the terminal asking for no events: hang-up and error
/// conditions are reported anyway, it never reads (so it cannot steal keys), and it costs nothing
/// until then. When the terminal is gone we end the way a SIGHUP would have ended us.
pub fn spawn_hangup_watchdog() -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // Keep /dev/tty open for the life of the thread when stdin is not the terminal.
    let tty = if io::IsTerminal::is_terminal(&io::stdin()) {
        None
    } else {
        Some(std::fs::File::open("/dev/tty")?)
    };
    std::thread::Builder::new()
        .name("gatewatch-tty".into())
        .spawn(move || {
            let fd = tty.as_ref().map_or(libc::STDIN_FILENO, |f| f.as_raw_fd());
            loop {
                let mut pfd = libc::pollfd {
                    fd,
                    events: 0,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, count 1, infinite timeout.
                let n = unsafe { libc::poll(&mut pfd, 1, -1) };
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                if n > 0 && pfd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
                    tracing::info!(revents = pfd.revents, "terminal hung up; exiting");
                    reraise(libc::SIGHUP);
                }
                if n < 0 {
                    tracing::warn!("terminal watchdog stopped: {}", io::Error::last_os_error());
                    return;
                }
            }
        })?;
    Ok(())
}

/// After restoring the terminal, die of the same signal so the parent sees the real cause
/// (exit status 128+N), as a well-behaved program does.
pub fn reraise(signal: libc::c_int) -> ! {
    restore();
    run_exit_hooks();
    // SAFETY: resetting to the default disposition and raising are plain libc calls with valid
    // arguments; if the signal somehow does not end us, we exit with the conventional status.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::widgets::Paragraph;
    use std::cell::RefCell;
    use std::rc::Rc;

    /// What the terminal was sent, readable while the backend owns the writer.
    #[derive(Clone, Default)]
    struct Sent(Rc<RefCell<Vec<u8>>>);

    impl Write for Sent {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_copy_is_sent_whole_between_frames() {
        let sent = Sent::default();
        let viewport = Viewport::Fixed(Rect::new(0, 0, 20, 2));
        let backend = Quiet::new(CrosstermBackend::new(sent.clone()));
        let mut term =
            Terminal::with_options(backend, TerminalOptions { viewport }).expect("terminal");
        term.draw(|f| f.render_widget(Paragraph::new("x"), f.area()))
            .expect("draw");
        let before = sent.0.borrow().len();
        let (bytes, _) = crate::app::clipboard::osc52("GET /");
        send(&mut term, &bytes).expect("send");
        assert_eq!(&sent.0.borrow()[before..], b"\x1b]52;c;R0VUIC8=\x07");
    }

    #[test]
    fn a_frame_that_changes_nothing_sends_nothing() {
        let sent = Sent::default();
        let viewport = Viewport::Fixed(Rect::new(0, 0, 20, 2));
        let backend = Quiet::new(CrosstermBackend::new(sent.clone()));
        let mut term =
            Terminal::with_options(backend, TerminalOptions { viewport }).expect("terminal");
        let draw = |term: &mut Terminal<_>, text: &'static str| {
            term.draw(|f| f.render_widget(Paragraph::new(text), f.area()))
                .expect("draw");
        };
        let written = || sent.0.borrow().len();
        draw(&mut term, "load 0.08");
        let first = written();
        assert!(first > 0, "the first frame is sent");
        draw(&mut term, "load 0.08");
        assert_eq!(written(), first, "an unchanged frame sends no byte");
        draw(&mut term, "load 0.09");
        assert!(written() > first, "a changed cell is sent");
        let after = String::from_utf8_lossy(&sent.0.borrow()[first..]).into_owned();
        assert!(
            !after.contains("?25l"),
            "the cursor, hidden at the first frame, is not hidden again: {after:?}"
        );
    }
}
