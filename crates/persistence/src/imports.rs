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

pub async fn insert(conn: &mut AsyncPgConnection, new: &NewImport) -> StoreResult<()> {
    diesel::insert_into(imports::table)
        .values(new)
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
