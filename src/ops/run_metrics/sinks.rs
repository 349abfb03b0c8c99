//! Where a run's metrics go: the `--metrics-file` (through [`crate::files`]) and the
//! `--pushgateway` (an HTTP `PUT` of the run's group). Both are checked before the command runs;
//! after it, a failure is a warning (see the module above).

use std::time::Duration;

use serde::Serialize;

use super::RunOutcome;
use crate::error::{Error, Result};

/// Where a run's metrics go (both may be set).
#[derive(Debug, Clone, Default, Serialize)]
pub struct MetricsSinks {
    pub file: Option<std::path::PathBuf>,
    /// The Pushgateway's base URL (credentials in it are never printed).
    #[serde(serialize_with = "redacted_url")]
    pub pushgateway: Option<String>,
}

impl MetricsSinks {
    pub fn is_empty(&self) -> bool {
        self.file.is_none() && self.pushgateway.is_none()
    }

    /// Before the command runs: the file's folder exists and the URL is an http(s) URL.
    pub fn check(&self) -> Result<()> {
        if let Some(file) = &self.file {
            crate::files::check_output_path("--metrics-file", file)?;
        }
        if let Some(url) = &self.pushgateway {
            pushgateway_base(url)?;
        }
        Ok(())
    }

    /// Write and push; problems come back as warnings (the run's work is already done).
    pub async fn emit(&self, text: &str, outcome: &RunOutcome<'_>) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(file) = &self.file {
            if let Err(e) = crate::files::write_atomically(file, text.as_bytes(), "the metrics file") {
                warnings.push(e.to_string());
            }
        }
        if let Some(url) = &self.pushgateway {
            if let Err(e) = push(url, text, outcome).await {
                warnings.push(format!(
                    "{e}{}",
                    e.hint().map(|h| format!(" ({h})")).unwrap_or_default()
                ));
            }
        }
        warnings
    }
}

fn redacted_url<S: serde::Serializer>(
    url: &Option<String>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    url.as_deref()
        .map(crate::settings::redact_url_userinfo)
        .serialize(s)
}

/// The Pushgateway's base URL, checked: http or https, no query or fragment.
pub(super) fn pushgateway_base(url: &str) -> Result<url::Url> {
    let shown = crate::settings::redact_url_userinfo(url);
    let parsed = url::Url::parse(url)
        .map_err(|e| Error::data(format!("--pushgateway {shown}: not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::data(format!("--pushgateway {shown}: expected http://HOST:PORT or https://HOST:PORT"))
            .with_hint("the Pushgateway listens on port 9091 by default: --pushgateway http://pushgateway:9091"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::data(format!(
            "--pushgateway {shown}: a query or fragment has no meaning here"
        )));
    }
    Ok(parsed)
}

/// `PUT {base}/metrics/job/vbda/command/<command>[/dag_id/<d>/task_id/<t>]`: the group of this
/// command (and Airflow task) is replaced by this run's samples. Label values are
/// base64url-encoded in the path (`@base64`), so any value is safe.
async fn push(url: &str, text: &str, outcome: &RunOutcome<'_>) -> Result<()> {
    use base64::Engine as _;
    let mut target = pushgateway_base(url)?;
    let shown = crate::settings::redact_url_userinfo(url);
    // The URL holds them percent-encoded (`p%40ss` for `p@ss`); Basic auth wants them as they are.
    let decode = |v: &str| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned();
    let (user, password) = (decode(target.username()), target.password().map(decode));
    let _ = target.set_username("");
    let _ = target.set_password(None);
    let mut path = target.path().trim_end_matches('/').to_string();
    path.push_str("/metrics/job/vbda");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for (k, v) in std::iter::once(("command".to_string(), outcome.command.to_string()))
        .chain(outcome.labels.iter().cloned())
    {
        let encoded = if v.is_empty() {
            "=".to_string()
        } else {
            b64.encode(v.as_bytes())
        };
        path.push_str(&format!("/{k}@base64/{encoded}"));
    }
    target.set_path(&path);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::environment("cannot start an HTTP client").with_source(e))?;
    let mut request = client
        .put(target.clone())
        .header("content-type", "text/plain; version=0.0.4")
        .body(text.to_string());
    if !user.is_empty() {
        request = request.basic_auth(user, password);
    }
    let response = request.send().await.map_err(|e| {
        // reqwest's message names the URL; ours is redacted.
        let why = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        Error::environment(format!(
            "cannot push metrics to the Pushgateway {shown}: {why}"
        ))
        .with_hint("check --pushgateway / VBDA_PUSHGATEWAY and that the Pushgateway runs")
    })?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(300).collect();
        return Err(Error::environment(format!(
            "the Pushgateway {shown} refused the metrics: HTTP {status}: {}",
            body.trim()
        )));
    }
    Ok(())
}

