//! The operations every record form shares (create, read, update, upsert by
//! folio, list), driven by the form spec: validation, catalog checks,
//! parent references, consistency with ancestors, scope, idempotency and
//! the audit trail are the same for commissions, victims or sentences.

pub mod list;
pub mod prepare;
pub mod read;
pub mod view;
pub mod write;

pub use list::{
    filter_from_query, invalid_filter, list, unknown_filter, ListPage, PAGING_KEYS, SHARED_FILTERS,
};
pub use prepare::{
    prepare, prepare_alone, prepare_with, reads_records, snapshot_for, Lookups, ParentCache,
    Prepared, Submission,
};
pub use read::{parent_in_scope, read};
pub use view::{record_json, write_body};
pub use write::{
    create, new_record, store_prepared, update, upsert_by_folio, write_conflict, CreateOptions,
    Expected, Written,
};

/// A record as a read shows it, with its version for the ETag.
#[derive(Debug)]
pub struct Shown {
    pub version: i32,
    pub body: serde_json::Value,
}
