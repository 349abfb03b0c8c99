//! The one error type of the library and its mapping to exit codes (DESIGN §5).
//!
//! Every error says which of three things went wrong, because a scheduler decides on that:
//! the data or a spec is wrong (exit 1: retrying will not help), the environment failed
//! (exit 3: storage, Kafka, network; worth a retry), or the user typed something clap could
//! not parse (exit 2, produced by clap itself). A `hint` tells the user what to do next.

use std::fmt;

/// Result with the library's error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, as a scheduler needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The data, a spec or an argument is wrong; the user must fix it (exit 1).
    Data,
    /// Storage, Kafka or the network failed; a retry may succeed (exit 3).
    Environment,
}

/// The library's error: a message, its kind, an optional hint and the chain of causes.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    hint: Option<String>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    /// `fail` expectations that stopped the run: (table, expectation, failing rows), for the
    /// run's metrics.
    failed_rules: Vec<(String, String, u64)>,
}

impl Error {
    /// An error in the data, a spec or an argument (exit 1).
    pub fn data(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Data, message)
    }

    /// A failure of storage, Kafka or the network (exit 3).
    pub fn environment(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Environment, message)
    }

    fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), hint: None, source: None, failed_rules: Vec::new() }
    }

    /// Prefix the message with what was being done; kind and hint stay.
    pub fn context(mut self, what: impl Into<String>) -> Self {
        self.message = format!("{}: {}", what.into(), self.message);
        self
    }

    /// Attach what the user can do about it.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attach the underlying cause.
    pub fn with_source(mut self, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Record a `fail` expectation that stopped the run.
    pub fn with_failed_rule(mut self, table: &str, rule: &str, failing_rows: u64) -> Self {
        self.failed_rules.push((table.to_string(), rule.to_string(), failing_rows));
        self
    }

    pub fn failed_rules(&self) -> &[(String, String, u64)] {
        &self.failed_rules
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// The process exit code for this error (DESIGN §5). Never 99, which Airflow reads as "skipped".
    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Data => 1,
            ErrorKind::Environment => 3,
        }
    }

    /// The causes below this error, outermost first.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> =
            self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static));
        while let Some(err) = next {
            let text = redact_signing(&without_backtrace(&err.to_string()));
            // Many libraries repeat their cause in their own message; keep the chain readable.
            if out.last() != Some(&text) {
                out.push(text);
            }
            next = err.source();
        }
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// One table's failure in a command that goes on with the other tables (`tables`, `status`):
/// shown on the table's row, and the run fails at the end with the first of them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableProblem {
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Whether retrying may help (the environment's failure, exit 3).
    #[serde(skip)]
    pub retry: bool,
}

impl TableProblem {
    pub fn of(e: &Error) -> Self {
        Self { error: e.message().to_string(), hint: e.hint().map(str::to_string), retry: e.kind() == ErrorKind::Environment }
    }

    /// The run's error for `problems` (table, problem), the first one in full.
    pub fn run_error<'a>(mut problems: impl Iterator<Item = (&'a str, &'a TableProblem)>) -> Option<Error> {
        let (table, first) = problems.next()?;
        let others = problems.count();
        let more = if others > 0 { format!(" ({others} more table(s) could not be read either)") } else { String::new() };
        let message = format!("{}{more}", first.error);
        let message = if first.error.contains(table) { message } else { format!("{table}: {message}") };
        let e = if first.retry { Error::environment(message) } else { Error::data(message) };
        Some(match &first.hint {
            Some(h) => e.with_hint(h.clone()),
            None => e,
        })
    }
}

/// Attach context to foreign errors, choosing the kind at the call site where it is known.
pub trait Context<T> {
    /// The cause is the data's or the user's fault (exit 1).
    fn data_err(self, message: impl FnOnce() -> String) -> Result<T>;
    /// The cause is the environment's (exit 3).
    fn env_err(self, message: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E> Context<T> for std::result::Result<T, E>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn data_err(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::data(message()).with_source(e))
    }

    fn env_err(self, message: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::environment(message()).with_source(e))
    }
}

/// S3 error bodies (SignatureDoesNotMatch) echo the canonical request, which carries the
/// session token (`x-amz-security-token`): cut those parts out of any text shown.
/// A library error's text without the backtrace some append to it (delta kernel errors do
/// when `RUST_BACKTRACE` is set): frames are for a debugger, never for an error message.
pub fn without_backtrace(text: &str) -> String {
    let is_frame = |line: &str| {
        let t = line.trim_start();
        let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
        (digits > 0 && t[digits..].starts_with(": ")) || t == "stack backtrace:"
    };
    match text.lines().position(is_frame) {
        Some(0) | None => text.to_string(),
        Some(first) => {
            let kept: Vec<&str> = text.lines().take(first).collect();
            kept.join("\n").trim_end().to_string()
        }
    }
}

pub fn redact_signing(text: &str) -> String {
    let mut out = text.to_string();
    for tag in ["CanonicalRequest", "CanonicalRequestBytes", "StringToSign", "StringToSignBytes"] {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut from = 0;
        while let Some(found) = out[from..].find(&open) {
            let body = from + found + open.len();
            let end = out[body..].find(&close).map_or(out.len(), |e| body + e);
            out.replace_range(body..end, "<redacted>");
            from = body + "<redacted>".len();
        }
    }
    const TOKEN: &str = "x-amz-security-token";
    let mut from = 0;
    while let Some(found) = out[from..].to_ascii_lowercase().find(TOKEN) {
        let value = from + found + TOKEN.len() + 1;
        if value > out.len() || !out.is_char_boundary(value) {
            break;
        }
        let end = out[value..].find(['\n', '<', '&', ' ', '"']).map_or(out.len(), |e| value + e);
        out.replace_range(value..end, "<redacted>");
        from = value + "<redacted>".len();
    }
    out
}

#[cfg(test)]
mod redaction_tests {
    #[test]
    fn backtraces_are_cut_from_causes() {
        let text = "Json error: Truncated record\n   0: buoyant_kernel::error::Error::with_backtrace\n             at src/x.rs:1\n   1: main";
        assert_eq!(super::without_backtrace(text), "Json error: Truncated record");
        assert_eq!(super::without_backtrace("a: b\nc"), "a: b\nc", "nothing to cut");
        assert_eq!(super::without_backtrace("404: not found"), "404: not found", "a status code is not a frame");
    }

    #[test]
    fn signing_details_and_session_tokens_are_cut_from_causes() {
        let body = "403: <Error><Code>SignatureDoesNotMatch</Code><StringToSign>AWS4 abc</StringToSign><CanonicalRequest>GET\n/x\nx-amz-security-token:SECRETTOKEN\n</CanonicalRequest></Error>";
        let shown = super::redact_signing(body);
        assert!(!shown.contains("SECRETTOKEN") && !shown.contains("AWS4 abc"), "{shown}");
        assert!(shown.contains("SignatureDoesNotMatch"), "{shown}");
        let plain = super::redact_signing("GET /x?X-Amz-Security-Token=SECRETTOKEN&y=1");
        assert!(!plain.contains("SECRETTOKEN"), "{plain}");
    }
}
