//! Delta and object-store errors as vbda's [`Error`]: which failures are the data's (exit 1)
//! and which the environment's (exit 3), the same S3 explanations as vbda's own S3 calls, and
//! the one recoverable state writers match: losing a commit race to another writer.

use deltalake::DeltaTableError;
use deltalake::kernel::transaction::{CommitConflictError, TransactionError};

use crate::error::Error;

/// Delta errors: storage and transport failures are the environment's (exit 3, retry); the
/// variants that describe a wrong table, schema or input are the data's (exit 1). Anything not
/// known to be the data's counts as the environment's, so a scheduler retries rather than
/// giving up on a flaky store.
pub fn from_delta(err: DeltaTableError, what: impl Into<String>) -> Error {
    use DeltaTableError as D;
    let what = what.into();
    // Storage failures on S3 (a missing bucket, credentials, region, an unreachable endpoint)
    // get the same message, exit code and hint as vbda's own S3 calls.
    if let Some(e) = super::s3::explain_text(&what, &err.to_string()) {
        return e.with_source(err);
    }
    match &err {
        D::SchemaMismatch { .. }
        | D::InvalidData { .. }
        | D::PartitionError { .. }
        | D::InvalidPartitionFilter { .. }
        | D::MetadataError(_)
        | D::MissingFeature { .. }
        | D::InvalidTableLocation(_)
        | D::NotATable(_)
        | D::InvalidDateTimeString { .. }
        | D::InvalidVersion(_)
        | D::UnsupportedColumnMapping { .. } => Error::data(what).with_source(err),
        // Rows that break a write's constraint (replaceWhere, CHECK) come back as text.
        D::Generic(msg) if msg.contains("Invalid data found") => Error::data(what).with_source(err),
        _ => Error::environment(what).with_source(err),
    }
}

/// Whether a failed commit lost a race with another writer that recorded the same
/// application transaction (the same landing file, the same Kafka partition): the writer
/// re-reads the table and retries without what the other one committed.
pub fn is_concurrent_commit(err: &Error) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(e) = next {
        if let Some(DeltaTableError::Transaction { source: TransactionError::CommitConflict(conflict) }) =
            e.downcast_ref::<DeltaTableError>()
        {
            return matches!(conflict, CommitConflictError::ConcurrentTransaction);
        }
        if let Some(TransactionError::CommitConflict(CommitConflictError::ConcurrentTransaction)) =
            e.downcast_ref::<TransactionError>()
        {
            return true;
        }
        next = e.source();
    }
    false
}
