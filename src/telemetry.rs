//! Logging and progress.
//!
//! Logs go to stderr as text or JSON lines, fields before the message. Long runs show an
//! indicatif bar when stderr is a terminal, and a plain log line every few seconds otherwise
//! (Airflow and cron capture stderr; a bar there would be noise). Standard output is kept for
//! the run summary, so `--output json` stays parseable.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tracing::info;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

static QUIET: AtomicBool = AtomicBool::new(false);

/// Set up tracing. `verbosity`: -1 quiet (errors only), 0 info, 1 debug, 2 trace, 3+ trace for
/// the libraries too.
/// `RUST_LOG` overrides the level for those who need a module filter.
pub fn init(format: LogFormat, verbosity: i8) {
    QUIET.store(verbosity < 0, Ordering::Relaxed);
    let level = match verbosity {
        i8::MIN..=-1 => "error",
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // Our own crate at the chosen level; the libraries one notch quieter unless asked.
    // delta-rs logs expected conditions at WARN/ERROR (a table not created yet, binary columns
    // without statistics); vbda reports real failures itself, with their causes.
    let default = if verbosity >= 3 {
        level.to_string()
    } else {
        format!("warn,vbda={level},deltalake_core=off,buoyant_kernel=off,delta_kernel=off")
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colour only on a terminal, and never with NO_COLOR set (https://no-color.org): Airflow,
    // cron and `2>file` get plain text.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A progress indicator for a long run: a bar on a terminal, periodic log lines elsewhere.
pub struct Progress {
    bar: Option<ProgressBar>,
    what: &'static str,
    total: u64,
    done: AtomicU64,
    last_log: Mutex<Instant>,
    bytes: bool,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// `total` units of work; `bytes` says whether units are bytes (for display).
    pub fn new(what: &'static str, total: u64, bytes: bool) -> Self {
        let bar = (std::io::stderr().is_terminal() && !QUIET.load(Ordering::Relaxed) && total > 0).then(|| {
            let template = if bytes {
                "{msg} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
            } else {
                "{msg} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} ({per_sec}, {eta})"
            };
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_message(what);
            bar
        });
        Self { bar, what, total, done: AtomicU64::new(0), last_log: Mutex::new(Instant::now()), bytes }
    }

    pub fn inc(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            return;
        }
        let Ok(mut last) = self.last_log.try_lock() else { return };
        if last.elapsed() >= LOG_EVERY {
            *last = Instant::now();
            let unit = if self.bytes { "bytes" } else { "items" };
            info!(what = self.what, done, total = self.total, unit, "Progress.");
        }
    }

    pub fn set(&self, done: u64) {
        let before = self.done.load(Ordering::Relaxed);
        if done > before {
            self.inc(done - before);
        }
    }

    /// What the run is doing now, when that is not more units of work (a commit after the
    /// last file is read): shown next to the bar, or logged once off a terminal.
    pub fn phase(&self, message: impl Into<String>) {
        let message = message.into();
        match &self.bar {
            Some(bar) => bar.set_message(format!("{}: {message}", self.what)),
            None => info!(what = self.what, "{message}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Run `work`, turning a panic inside it (a library's, on damaged input) into `None` without
/// the panic message on stderr: the caller reports the input as unreadable. Panics anywhere
/// else keep the default report.
pub fn contained<T>(work: impl FnOnce() -> T + std::panic::UnwindSafe) -> Option<T> {
    use std::sync::Once;
    use std::sync::atomic::Ordering;
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINED.load(Ordering::SeqCst) > 0 {
                tracing::debug!(panic = %info, "Contained a library panic on damaged input.");
            } else {
                default(info);
            }
        }));
    });
    CONTAINED.fetch_add(1, Ordering::SeqCst);
    let out = std::panic::catch_unwind(work).ok();
    CONTAINED.fetch_sub(1, Ordering::SeqCst);
    out
}

/// How many [`contained`] sections are running (Polars panics on its own worker threads, so
/// this cannot be per thread).
static CONTAINED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
