//! What a run prints at the end, besides its summary: the final error as text or JSON on
//! stderr and, under `--output json`, one JSON object on stdout; clap's usage errors in the
//! same forms; and how stdout is written (a closed pipe is not an error).

use std::io::Write;
use std::process::ExitCode;

use super::OutputFormat;
use crate::error::Error;
use crate::telemetry::LogFormat;

/// Where the final error goes: its JSON object on stdout (`--output json`) and its lines on
/// stderr as text or one JSON log line (`--log-format json`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Formats {
    pub(super) output: OutputFormat,
    pub(super) log: LogFormat,
}

impl Formats {
    /// Before the settings resolve (or when they do not): the flags as typed, then the
    /// environment, then text. `vbda.toml` is not read here: it may be what failed.
    pub(super) fn early(raw: &[String]) -> Self {
        let flag = |name: &str, env: &str| -> Option<String> {
            let prefix = format!("{name}=");
            let mut found = None;
            for (i, a) in raw.iter().enumerate() {
                if a == "--" {
                    break;
                }
                if a == name {
                    found = raw.get(i + 1).cloned();
                } else if let Some(v) = a.strip_prefix(&prefix) {
                    found = Some(v.to_string());
                }
            }
            found.or_else(|| std::env::var(env).ok())
        };
        let output = flag("--output", "VBDA_OUTPUT").and_then(|v| v.parse().ok()).unwrap_or(OutputFormat::Text);
        let log = flag("--log-format", "VBDA_LOG_FORMAT").and_then(|v| v.parse().ok()).unwrap_or(LogFormat::Text);
        Self { output, log }
    }
}

/// A command line clap could not parse (exit 2), or `--help`/`--version` (exit 0). Under
/// `--output json` stdout still gets one JSON object, so a scheduler parsing it never reads an
/// empty string; under `--log-format json` stderr gets one JSON line instead of clap's text.
pub(super) fn usage_error(e: &clap::Error, raw: &[String]) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    let formats = Formats::early(raw);
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
    let message = lines.next().unwrap_or("invalid command line").trim_start_matches("error: ").trim().to_string();
    let rest: Vec<&str> = lines.map(str::trim).collect();
    let hint = rest
        .iter()
        .find_map(|l| l.strip_prefix("tip: "))
        .map(str::to_string)
        .unwrap_or_else(|| "see `vbda --help`, or `vbda <command> --help`".to_string());
    let usage = rest.iter().find_map(|l| l.strip_prefix("Usage: ")).map(str::to_string);
    let failure = Failure { exit_code: 2, message: &message, causes: Vec::new(), hint: Some(&hint), usage: usage.as_deref() };
    match formats.log {
        LogFormat::Text => {
            let _ = e.print();
        }
        LogFormat::Json => failure.log_line(),
    }
    if formats.output == OutputFormat::Json {
        failure.print_summary();
    }
    ExitCode::from(2)
}

/// The final error of a run, in the two JSON forms schedulers read: one log line on stderr
/// (`--log-format json`, shaped like tracing's) and the summary object on stdout
/// (`--output json`).
struct Failure<'a> {
    exit_code: u8,
    message: &'a str,
    causes: Vec<String>,
    hint: Option<&'a str>,
    /// clap's usage line, for usage errors.
    usage: Option<&'a str>,
}

impl Failure<'_> {
    fn log_line(&self) {
        let mut line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "ERROR",
            "message": self.message,
            "causes": self.causes,
            "hint": self.hint,
            "exit_code": self.exit_code,
        });
        if let Some(usage) = self.usage {
            line["usage"] = usage.into();
        }
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn print_summary(&self) {
        let mut value = serde_json::json!({
            "ok": false,
            "exit_code": self.exit_code,
            "error": self.message,
            "causes": self.causes,
            "hint": self.hint,
        });
        if let Some(usage) = self.usage {
            value["usage"] = usage.into();
        }
        print_stdout(&value.to_string());
    }
}

pub(super) fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`vbda tables | head`) is not an error.
    let _ = writeln!(out, "{text}");
}

pub(super) fn print_error(e: &Error, formats: Formats) {
    let failure = Failure { exit_code: e.exit_code(), message: e.message(), causes: e.causes(), hint: e.hint(), usage: None };
    match formats.log {
        LogFormat::Text => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {}", failure.message);
            for cause in &failure.causes {
                let _ = writeln!(err, "  Caused by: {cause}");
            }
            if let Some(hint) = failure.hint {
                let _ = writeln!(err, "hint: {hint}");
            }
        }
        // The same shape as the JSON log lines before it (tracing's, flattened).
        LogFormat::Json => failure.log_line(),
    }
    if formats.output == OutputFormat::Json {
        failure.print_summary();
    }
}
