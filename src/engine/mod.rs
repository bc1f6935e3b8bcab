//! The workflows: cancellable step machines that drive a `ReleaseBackend`, stream
//! `ProgressEvent`s and write the audit trail.

pub mod events;
