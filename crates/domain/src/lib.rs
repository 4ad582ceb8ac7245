//! SINTRA domain: types, validation, form specs, duplicate scoring and the
//! access policy. This crate does no I/O: persistence and HTTP build on it.

pub mod access;
pub mod accounts;
pub mod audit_checkpoint;
pub mod consistency;
pub mod curp;
pub mod duplicates;
pub mod entity;
pub mod error_code;
pub mod figures;
pub mod forms;
pub mod i18n;
pub mod import_jobs;
pub mod missing_report;
pub mod periods;
#[cfg(feature = "diesel")]
mod sql;
pub mod suppression;
pub mod text;
pub mod validation;
