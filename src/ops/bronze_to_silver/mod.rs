//! `vbda bronze-to-silver` (issue 3, in progress): bronze payloads -> typed, validated,
//! deduplicated silver events and quarantine. Built so far: reading one payload into a typed
//! event ([`event`]); the command itself is not wired yet.

pub mod event;
