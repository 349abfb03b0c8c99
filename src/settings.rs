//! Settings: flag > `VBDA_*` environment variable > `vbda.toml` > default.
//!
//! The CLI hands its flags over as `Option`s; this module fills the gaps from the environment
//! and the project file and remembers where each value came from, for `--show-settings`.
//! Secrets (S3 keys, Kafka SASL passwords) are read only from the environment and the AWS
//! credential chain, never from `vbda.toml` or flags, and are printed only as `<redacted>`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

pub const CONFIG_FILE: &str = "vbda.toml";

/// `vbda.toml`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub lakehouse: Option<String>,
    pub output: Option<String>,
    pub log_format: Option<String>,
    #[serde(default)]
    pub ingest: IngestConfig,
    #[serde(default)]
    pub stream: StreamConfig,
    #[serde(default)]
    pub s3: S3Config,
    #[serde(default)]
    pub publish: PublishConfig,
}

/// `[publish]`: where `vbda publish` writes gold (no password here: PGPASSWORD or ~/.pgpass).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    pub target: Option<String>,
    pub schema: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    pub landing: Option<String>,
    pub content: Option<String>,
    pub batch_rows: Option<usize>,
    pub max_file_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    pub brokers: Option<String>,
    pub topic: Option<String>,
    pub group: Option<String>,
    pub metrics_addr: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub allow_http: Option<bool>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Flag,
    Env,
    ConfigFile,
    Default,
    Unset,
}

/// A resolved value and its source.
#[derive(Debug, Clone, Serialize)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
}

/// Resolve one setting through the precedence chain.
pub fn resolve<T: std::str::FromStr>(
    flag: Option<T>,
    env: &str,
    file: Option<T>,
    default: Option<T>,
) -> Result<Setting<Option<T>>>
where
    T::Err: std::fmt::Display,
{
    if let Some(v) = flag {
        return Ok(Setting { value: Some(v), source: Source::Flag });
    }
    if let Some(text) = std::env::var(env).ok().filter(|v| !v.is_empty()) {
        let v = text
            .parse::<T>()
            .map_err(|e| Error::data(format!("environment variable {env}=`{text}` is not valid: {e}")))?;
        return Ok(Setting { value: Some(v), source: Source::Env });
    }
    if let Some(v) = file {
        return Ok(Setting { value: Some(v), source: Source::ConfigFile });
    }
    match default {
        Some(v) => Ok(Setting { value: Some(v), source: Source::Default }),
        None => Ok(Setting { value: None, source: Source::Unset }),
    }
}

/// The project: its folder (with `tables/`, `jobs/`) and its `vbda.toml`, if any.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub config_path: Option<PathBuf>,
    pub config: ConfigFile,
}

impl Project {
    /// `--project` / `VBDA_PROJECT` is a folder or a `vbda.toml`; default: the current folder.
    pub fn load(flag: Option<PathBuf>) -> Result<Self> {
        let given = flag.or_else(|| std::env::var_os("VBDA_PROJECT").filter(|v| !v.is_empty()).map(PathBuf::from));
        let explicit = given.is_some();
        let path = given.unwrap_or_else(|| PathBuf::from("."));
        let (dir, file) = if path.is_file() {
            (path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(".")), path.clone())
        } else {
            (path.clone(), path.join(CONFIG_FILE))
        };
        if explicit && !dir.is_dir() {
            return Err(Error::data(format!("project folder {} does not exist", dir.display()))
                .with_hint("--project (or VBDA_PROJECT) names a folder with tables/, jobs/ and an optional vbda.toml"));
        }
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        if !file.is_file() {
            return Ok(Self { dir, config_path: None, config: ConfigFile::default() });
        }
        let text = std::fs::read_to_string(&file).env_err(|| format!("cannot read {}", file.display()))?;
        let config: ConfigFile = toml::from_str(&text).map_err(|e| {
            Error::data(format!("{}: {}", file.display(), e.message()))
                .with_hint("secrets (S3 keys, Kafka passwords) belong in the environment, not in vbda.toml")
        })?;
        Ok(Self { dir, config_path: Some(file), config })
    }

    /// A relative path from `vbda.toml` is relative to the project folder.
    pub fn path_setting(&self, value: &str) -> String {
        if value.contains("://") || Path::new(value).is_absolute() {
            return value.to_string();
        }
        self.dir.join(value).display().to_string()
    }
}

/// Storage settings shared by delta-rs, Polars and aws-sdk-s3.
#[derive(Debug, Clone, Serialize)]
pub struct StorageSettings {
    pub endpoint: Setting<Option<String>>,
    pub region: Setting<Option<String>>,
    pub allow_http: Setting<Option<bool>>,
    /// Shown only as set / unset.
    pub credentials: BTreeMap<String, String>,
}

/// Credentials the environment may hold; their values are never shown.
const SECRET_ENV: [&str; 5] =
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "VBDA_KAFKA_SASL_PASSWORD", "PGPASSWORD"];

impl StorageSettings {
    pub fn resolve(config: &S3Config) -> Result<Self> {
        let endpoint = resolve(
            None,
            "VBDA_S3_ENDPOINT",
            config.endpoint.clone(),
            std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()),
        )?;
        let region = resolve(
            None,
            "VBDA_S3_REGION",
            config.region.clone(),
            std::env::var("AWS_REGION").ok().filter(|v| !v.is_empty()),
        )?;
        let allow_http = resolve(None, "VBDA_S3_ALLOW_HTTP", config.allow_http, None)?;
        let credentials = SECRET_ENV
            .iter()
            .map(|k| {
                let shown = if std::env::var_os(k).is_some_and(|v| !v.is_empty()) { "<redacted>" } else { "<unset>" };
                (k.to_string(), shown.to_string())
            })
            .collect();
        Ok(Self { endpoint, region, allow_http, credentials })
    }

    /// Options for delta-rs's object store. Keys come from the environment (the AWS chain),
    /// which delta-rs reads itself; only non-secret settings are passed here.
    pub fn delta_options(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        if let Some(e) = &self.endpoint.value {
            out.insert("AWS_ENDPOINT_URL".into(), e.clone());
            if e.starts_with("http://") {
                out.insert("AWS_ALLOW_HTTP".into(), "true".into());
            }
        }
        if let Some(r) = &self.region.value {
            out.insert("AWS_REGION".into(), r.clone());
        }
        if let Some(true) = self.allow_http.value {
            out.insert("AWS_ALLOW_HTTP".into(), "true".into());
        }
        out
    }
}

/// Whether a setting's name says its value is a secret: passwords, OAuth client secrets,
/// tokens, access keys, inline private keys (`ssl.key.pem`), JAAS configs with credentials in
/// them. Paths to such files (`ssl.key.location`) are not secrets and stay visible, so a user
/// can see which file was used. One predicate for command lines, `-X` settings and env vars.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.trim_start_matches('-').to_ascii_lowercase().replace(['_', '-'], ".");
    if k.ends_with(".location") || k.ends_with(".file") || k.ends_with(".path") {
        return false;
    }
    ["pass", "pwd", "secret", "token", "access.key", "credential", "jaas", "pem", "private", "oauthbearer.config"]
        .iter()
        .any(|w| k.contains(w))
        || k.ends_with("key")
        || k.contains(".key.")
}

/// Redact values that look like secrets in a command line before it is logged or committed:
/// `--x-password=...`, `-X sasl.password=...`, `--s3-secret abc`, credentials inside URLs.
pub fn redact_args(args: &[String]) -> Vec<String> {
    let sensitive = is_secret_key;
    let mut out = Vec::with_capacity(args.len());
    let mut redact_next = false;
    let mut setting_next = false;
    for arg in args {
        if redact_next {
            out.push("<redacted>".to_string());
            redact_next = false;
            continue;
        }
        if setting_next {
            out.push(redact_setting(arg));
            setting_next = false;
            continue;
        }
        if arg == "-X" {
            out.push(arg.clone());
            setting_next = true;
            continue;
        }
        if let Some(setting) = arg.strip_prefix("-X") {
            out.push(format!("-X{}", redact_setting(setting)));
            continue;
        }
        match arg.split_once('=') {
            Some((k, _)) if sensitive(k) => out.push(format!("{k}=<redacted>")),
            None if arg.starts_with('-') && sensitive(arg) => {
                out.push(arg.clone());
                redact_next = true;
            }
            _ => out.push(redact_url_userinfo(arg)),
        }
    }
    out
}

/// A `-X` librdkafka setting as it may be shown: `KEY=VALUE` with the value redacted when
/// the key names a secret; a setting mistyped without `=` (`sasl.password:VALUE`,
/// `sasl.password VALUE`, a lone value) shows at most its key, never what follows.
pub fn redact_setting(setting: &str) -> String {
    match setting.split_once('=') {
        Some((k, _)) if is_secret_key(k.trim()) => format!("{k}=<redacted>"),
        Some(_) => redact_url_userinfo(setting),
        None => match setting.split_once([':', ' ', '\t']) {
            Some((k, _)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') => {
                format!("{k}<redacted>")
            }
            _ => "<redacted>".to_string(),
        },
    }
}

/// `s3://user:pass@host/x` -> `s3://<redacted>@host/x`: credentials inside URLs are never shown.
pub fn redact_url_userinfo(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else { return text.to_string() };
    let rest = &text[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@').or_else(|| {
        // A password with a `/` in it (`u:pa/ss@host`, not percent-encoded) ends the authority
        // early for the rule above: `user:` before any `/`, then an `@` before any `?` or `#`.
        let end = rest.find(['?', '#']).unwrap_or(rest.len());
        let at = rest[..end].rfind('@')?;
        let colon = rest[..at].find(':')?;
        (!rest[..colon].contains('/')).then_some(at)
    });
    match at {
        Some(at) => format!("{}://<redacted>@{}", &text[..scheme_end], &rest[at + 1..]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_with_a_slash_is_redacted_too() {
        assert_eq!(redact_url_userinfo("http://u:pa/ss@host:9091"), "http://<redacted>@host:9091");
        assert_eq!(redact_url_userinfo("s3://bucket/a@b"), "s3://bucket/a@b");
        assert_eq!(redact_url_userinfo("s3://bucket/dir:x@y"), "s3://bucket/dir:x@y");
    }

    #[test]
    fn redacts_secret_looking_arguments() {
        let args: Vec<String> = ["vbda", "stream", "-X", "sasl.password=hunter2", "--s3-secret", "abc", "--topic", "t"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let shown = redact_args(&args).join(" ");
        assert!(!shown.contains("hunter2") && !shown.contains("abc"), "{shown}");
        assert!(shown.contains("--topic t"), "{shown}");
    }

    #[test]
    fn kafka_settings_typed_without_an_equals_sign_are_never_echoed() {
        for (args, hidden) in [
            (vec!["-X", "sasl.password:hunter2"], "hunter2"),
            (vec!["-X", "sasl.password hunter2"], "hunter2"),
            (vec!["-X", "hunter2"], "hunter2"),
            (vec!["-Xsasl.password=hunter2"], "hunter2"),
            (vec!["-X", "ssl.key.pem=-----BEGIN PRIVATE KEY-----abc="], "BEGIN"),
            (vec!["-X", "sasl.oauthbearer.client.secret=s3cr3t"], "s3cr3t"),
        ] {
            let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
            let shown = redact_args(&args).join(" ");
            assert!(!shown.contains(hidden) && shown.contains("<redacted>"), "{shown}");
        }
        assert_eq!(redact_setting("sasl.password:hunter2"), "sasl.password<redacted>");
        assert_eq!(redact_setting("security.protocol=SASL_SSL"), "security.protocol=SASL_SSL", "not a secret");
    }

    #[test]
    fn secret_setting_names() {
        for k in [
            "sasl.password", "ssl.key.password", "ssl.keystore.password", "ssl.key.pem", "sasl.oauthbearer.client.secret",
            "sasl.jaas.config", "sasl.oauthbearer.config", "--s3-secret", "AWS_SECRET_ACCESS_KEY", "--s3-access-key",
            "VBDA_KAFKA_SASL_PASSWORD", "token",
        ] {
            assert!(is_secret_key(k), "{k} is a secret");
        }
        for k in ["ssl.key.location", "ssl.ca.location", "security.protocol", "sasl.mechanism", "sasl.username", "--topic", "bootstrap.servers"] {
            assert!(!is_secret_key(k), "{k} is not a secret");
        }
    }

    #[test]
    fn redacts_credentials_inside_urls() {
        assert_eq!(redact_url_userinfo("http://user:pw@minio:9000/b"), "http://<redacted>@minio:9000/b");
        assert_eq!(redact_url_userinfo("s3://bucket/a@b"), "s3://bucket/a@b");
        let shown = redact_args(&["--lakehouse".into(), "s3://k:s@h/p".into()]).join(" ");
        assert!(!shown.contains("k:s"), "{shown}");
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        // SAFETY: tests that touch this variable run in this one test only.
        unsafe { std::env::set_var("VBDA_TEST_PRECEDENCE", "env") };
        let s = resolve(Some("flag".to_string()), "VBDA_TEST_PRECEDENCE", Some("file".into()), Some("d".into())).unwrap();
        assert_eq!((s.value.as_deref(), s.source), (Some("flag"), Source::Flag));
        let s = resolve(None, "VBDA_TEST_PRECEDENCE", Some("file".to_string()), Some("d".into())).unwrap();
        assert_eq!((s.value.as_deref(), s.source), (Some("env"), Source::Env));
        unsafe { std::env::remove_var("VBDA_TEST_PRECEDENCE") };
        let s = resolve(None, "VBDA_TEST_PRECEDENCE", Some("file".to_string()), Some("d".into())).unwrap();
        assert_eq!((s.value.as_deref(), s.source), (Some("file"), Source::ConfigFile));
        let s = resolve::<String>(None, "VBDA_TEST_PRECEDENCE", None, Some("d".into())).unwrap();
        assert_eq!((s.value.as_deref(), s.source), (Some("d"), Source::Default));
        let bad = resolve::<u64>(None, "PATH", None, None).unwrap_err();
        assert!(bad.to_string().contains("PATH"), "{bad}");
    }
}
