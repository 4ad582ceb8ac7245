//! Excel import reports and their annotated workbooks.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sintra_domain::forms::FormKey;
use uuid::Uuid;

use crate::error::StoreResult;
use crate::schema::imports;

/// Where an import stands. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStatus {
    /// Checked, nothing written.
    DryRun,
    /// A commit refused for the file's errors: nothing written.
    Rejected,
    /// Written whole.
    Committed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::DryRun => "dry_run",
            ImportStatus::Rejected => "rejected",
            ImportStatus::Committed => "committed",
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = imports)]
pub struct NewImport {
    pub id: Uuid,
    pub institution_id: Uuid,
    pub form: String,
    pub file_sha256: String,
    pub status: String,
    pub report: Value,
    pub annotated: Option<Vec<u8>>,
    pub created_by: Uuid,
}

/// Stores an import's outcome. A job checked as a dry run and committed
/// afterwards keeps one id: its commit replaces the dry run's row (a repeat
/// of a committed file still collides on `imports_once`).
pub async fn insert(conn: &mut AsyncPgConnection, new: &NewImport) -> StoreResult<()> {
    use diesel::upsert::excluded;
    diesel::insert_into(imports::table)
        .values(new)
        .on_conflict(imports::id)
        .do_update()
        .set((
            imports::status.eq(excluded(imports::status)),
            imports::report.eq(excluded(imports::report)),
            imports::annotated.eq(excluded(imports::annotated)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether this institution already committed this file for this form.
pub async fn already_committed(
    conn: &mut AsyncPgConnection,
    institution: Uuid,
    form: FormKey,
    sha256: &str,
) -> StoreResult<bool> {
    Ok(diesel::select(diesel::dsl::exists(
        imports::table
            .filter(imports::institution_id.eq(institution))
            .filter(imports::form.eq(form.as_str()))
            .filter(imports::file_sha256.eq(sha256))
            .filter(imports::status.eq(ImportStatus::Committed.as_str())),
    ))
    .get_result(conn)
    .await?)
}

/// The annotated workbook of an import of this institution.
pub async fn annotated(
    conn: &mut AsyncPgConnection,
    institution: Uuid,
    id: Uuid,
) -> StoreResult<Option<Vec<u8>>> {
    Ok(imports::table
        .filter(imports::id.eq(id))
        .filter(imports::institution_id.eq(institution))
        .select(imports::annotated)
        .first::<Option<Vec<u8>>>(conn)
        .await?)
}
