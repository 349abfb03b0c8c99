//! S3 access outside Delta tables: landing zones (`ingest --landing s3://...`) and vbda's own
//! state files. delta-rs reaches tables with its own object store; both are configured from the
//! same settings (endpoint, region, HTTP allowed) and read credentials from the standard AWS
//! chain (environment, profile, web identity, instance metadata), never from vbda's settings.

use std::collections::HashMap;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

use crate::error::Error;

/// How to reach S3 (or an S3-compatible store): the non-secret settings delta-rs also gets.
#[derive(Debug, Default)]
pub struct S3Access {
    endpoint: Option<String>,
    region: Option<String>,
    client: OnceCell<aws_sdk_s3::Client>,
}

impl S3Access {
    /// From delta-rs's storage options (`AWS_ENDPOINT_URL`, `AWS_REGION`), so both agree.
    pub fn from_options(options: &HashMap<String, String>) -> Self {
        Self { endpoint: options.get("AWS_ENDPOINT_URL").cloned(), region: options.get("AWS_REGION").cloned(), client: OnceCell::new() }
    }

    /// The client, built once: credentials and region from the AWS chain, a custom endpoint
    /// with path-style addressing (what S3-compatible stores serve).
    pub async fn client(&self) -> &aws_sdk_s3::Client {
        self.client
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(region) = &self.region {
                    loader = loader.region(aws_config::Region::new(region.clone()));
                }
                if let Some(endpoint) = &self.endpoint {
                    loader = loader.endpoint_url(endpoint);
                }
                let shared = loader.load().await;
                // Objects uploaded in parts carry part-level checksums the SDK cannot check
                // (it warns on every read): check checksums when a request asks, and rely on
                // the size check and the ETag (If-Match) for landing objects.
                let mut config = aws_sdk_s3::config::Builder::from(&shared)
                    .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired);
                if self.endpoint.is_some() {
                    config = config.force_path_style(true);
                }
                if shared.region().is_none() {
                    // The SDK refuses to sign without a region; S3 answers any region's
                    // requests with a redirect naming the right one, which is reported.
                    config = config.region(aws_config::Region::new("us-east-1"));
                }
                aws_sdk_s3::Client::from_conf(config.build())
            })
            .await
    }
}

/// `s3://bucket/some/prefix` -> ("bucket", "some/prefix/"); the prefix is empty or ends in '/'.
pub fn split_url(location: &str) -> Option<(String, String)> {
    let rest = location.strip_prefix("s3://").or_else(|| location.strip_prefix("s3a://"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    let prefix = prefix.trim_matches('/');
    let prefix = if prefix.is_empty() { String::new() } else { format!("{prefix}/") };
    Some((bucket.to_string(), prefix))
}

/// A clear error for a failed S3 call: it names the operation and the bucket, says whether the
/// user must fix something (exit 1: missing bucket, access, region, credentials) or it may pass
/// (exit 3: unreachable endpoint, throttling, server errors), and hints what to do. Credentials
/// are never part of it (the SDK does not put them in its errors).
pub fn error<E, R>(err: SdkError<E, R>, operation: &str, bucket: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let failure = match &err {
        SdkError::DispatchFailure(d) if d.is_io() => Failure::Unreachable,
        SdkError::DispatchFailure(d) if d.is_timeout() => Failure::TimedOut,
        // The SDK reports a credential chain that found nothing as a dispatch failure.
        SdkError::DispatchFailure(_) => Failure::NotBuilt,
        SdkError::TimeoutError(_) => Failure::TimedOut,
        SdkError::ConstructionFailure(_) => Failure::NotBuilt,
        _ => Failure::Answered { code: err.code().map(str::to_string), message: err.message().map(str::to_string) },
    };
    describe(failure, operation, bucket).with_source(err)
}

/// What came back from S3, as far as the message and exit code go.
#[derive(Debug)]
enum Failure {
    Unreachable,
    TimedOut,
    NotBuilt,
    Answered { code: Option<String>, message: Option<String> },
}

fn describe(failure: Failure, operation: &str, bucket: &str) -> Error {
    explain(&format!("cannot {operation} in S3 bucket {bucket}"), failure)
}

/// The S3 error codes [`explain`] tells apart.
const KNOWN_CODES: [&str; 14] = [
    "NoSuchBucket",
    "AccessDenied",
    "AllAccessDisabled",
    "Forbidden",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "RequestExpired",
    "PermanentRedirect",
    "AuthorizationHeaderMalformed",
    "IllegalLocationConstraintException",
    "incorrectly configured region",
];

/// The same explanation for an object-store error known only by its text (delta-rs reaching
/// a table on S3): the S3 code or transport failure in the message, if there is one.
pub fn explain_text(what: &str, text: &str) -> Option<Error> {
    if let Some(code) = KNOWN_CODES.iter().find(|c| text.contains(*c)) {
        // object_store's own words for a redirect without a location: a region mismatch.
        let code = if *code == "incorrectly configured region" { "PermanentRedirect" } else { code };
        return Some(explain(what, Failure::Answered { code: Some(code.to_string()), message: None }));
    }
    ["Connection refused", "error sending request", "dns error", "tcp connect error"]
        .iter()
        .any(|t| text.contains(t))
        .then(|| explain(what, Failure::Unreachable))
}

/// What a failure means for the user: the message after `what`, the kind (exit 1: fix a
/// setting; exit 3: retry) and the hint.
fn explain(what: &str, failure: Failure) -> Error {
    let unreachable = "check the endpoint (AWS_ENDPOINT_URL / VBDA_S3_ENDPOINT / [s3] endpoint) and the network; rerun when it is reachable";
    let (code, message) = match failure {
        Failure::Unreachable => return Error::environment(format!("{what}: endpoint unreachable")).with_hint(unreachable),
        Failure::TimedOut => return Error::environment(format!("{what}: timed out")).with_hint(unreachable),
        Failure::NotBuilt => {
            return Error::data(format!("{what}: no usable AWS credentials or settings"))
                .with_hint("provide AWS credentials (environment, ~/.aws profile, web identity or instance role) and a region");
        }
        Failure::Answered { code, message } => (code, message),
    };
    match code.as_deref() {
        Some("NoSuchBucket") => Error::data(format!("{what}: the bucket does not exist"))
            .with_hint("create the bucket, or fix the s3:// location (--lakehouse, --landing, VBDA_LAKEHOUSE, VBDA_LANDING)"),
        Some("AccessDenied") | Some("AllAccessDisabled") | Some("Forbidden") => Error::data(format!("{what}: access denied"))
            .with_hint("grant these credentials s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket"),
        Some(c @ ("InvalidAccessKeyId" | "SignatureDoesNotMatch" | "InvalidToken")) => {
            Error::data(format!("{what}: the credentials are not valid ({c})"))
                .with_hint("check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS profile in use")
        }
        Some("ExpiredToken") | Some("TokenRefreshRequired") | Some("RequestExpired") => Error::data(format!("{what}: the credentials have expired"))
            .with_hint("refresh the session credentials (aws sso login, a new STS token) and rerun"),
        Some("PermanentRedirect") | Some("AuthorizationHeaderMalformed") | Some("IllegalLocationConstraintException") => {
            Error::data(format!("{what}: the bucket is in another region"))
                .with_hint("set AWS_REGION (or VBDA_S3_REGION, [s3] region) to the bucket's region")
        }
        Some(other) => Error::environment(format!("{what}: {other}: {}", message.unwrap_or_default()))
            .with_hint("rerun; if it persists, check the bucket and the credentials' permissions"),
        None => Error::environment(what.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Failure, describe, split_url};
    use crate::error::ErrorKind;

    fn answered(code: &str) -> crate::error::Error {
        describe(Failure::Answered { code: Some(code.into()), message: Some("m".into()) }, "list the landing zone", "bkt")
    }

    /// The S3 answers moto cannot give (it ignores regions; STS tokens live 15 min or more)
    /// are told apart by their codes like the ones the tests get from moto.
    #[test]
    fn each_s3_failure_gets_its_message_exit_code_and_hint() {
        let cases = [
            ("NoSuchBucket", "the bucket does not exist", ErrorKind::Data, "create the bucket"),
            ("AccessDenied", "access denied", ErrorKind::Data, "s3:ListBucket"),
            ("InvalidAccessKeyId", "the credentials are not valid", ErrorKind::Data, "AWS_ACCESS_KEY_ID"),
            ("ExpiredToken", "the credentials have expired", ErrorKind::Data, "refresh"),
            ("PermanentRedirect", "the bucket is in another region", ErrorKind::Data, "AWS_REGION"),
            ("AuthorizationHeaderMalformed", "the bucket is in another region", ErrorKind::Data, "AWS_REGION"),
            ("SlowDown", "SlowDown", ErrorKind::Environment, "rerun"),
            ("InternalError", "InternalError", ErrorKind::Environment, "rerun"),
        ];
        for (code, says, kind, hint) in cases {
            let e = answered(code);
            assert!(e.message().starts_with("cannot list the landing zone in S3 bucket bkt: "), "{code}: {}", e.message());
            assert!(e.message().contains(says), "{code}: {}", e.message());
            assert_eq!(e.kind(), kind, "{code}");
            assert!(e.hint().unwrap().contains(hint), "{code}: {:?}", e.hint());
        }
        let e = describe(Failure::Unreachable, "read an object", "bkt");
        assert_eq!(e.kind(), ErrorKind::Environment);
        assert!(e.message().contains("endpoint unreachable"));
        let e = describe(Failure::TimedOut, "read an object", "bkt");
        assert_eq!(e.kind(), ErrorKind::Environment);
    }

    /// delta-rs's object-store errors on tables get the same explanations, read from the text.
    #[test]
    fn object_store_error_texts_get_the_same_explanations() {
        let what = "cannot open table bronze.video_events at s3://lake/w/";
        let cases = [
            ("Client error with status 404: <Code>NoSuchBucket</Code>", "the bucket does not exist", ErrorKind::Data),
            ("Received redirect without LOCATION, this normally indicates an incorrectly configured region", "another region", ErrorKind::Data),
            ("HTTP error: error sending request", "endpoint unreachable", ErrorKind::Environment),
        ];
        for (text, says, kind) in cases {
            let e = super::explain_text(what, text).unwrap();
            assert!(e.message().starts_with(what) && e.message().contains(says), "{}", e.message());
            assert_eq!(e.kind(), kind, "{text}");
        }
        assert!(super::explain_text(what, "Parquet error: bad magic").is_none());
    }

    #[test]
    fn s3_urls_split_into_bucket_and_prefix() {
        assert_eq!(split_url("s3://b"), Some(("b".into(), "".into())));
        assert_eq!(split_url("s3://b/"), Some(("b".into(), "".into())));
        assert_eq!(split_url("s3://b/landing"), Some(("b".into(), "landing/".into())));
        assert_eq!(split_url("s3a://b/x/y/"), Some(("b".into(), "x/y/".into())));
        assert_eq!(split_url("s3:///x"), None);
        assert_eq!(split_url("/local"), None);
    }
}
