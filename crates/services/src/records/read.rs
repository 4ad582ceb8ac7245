//! Reading one record.

use sintra_domain::access::Caller;
use sintra_domain::forms::FormKey;
use sintra_persistence::audit::{AuditAction, AuditContext, AuditEntry};
use sintra_persistence::records::{self, RecordRow};
use sintra_persistence::{db, Pool};
use uuid::Uuid;

use super::view::record_json;
use super::Shown;
use crate::error::ServiceResult;

/// Reads one record in the caller's scope; reading personal data is audited.
pub async fn read(pool: &Pool, caller: &Caller, form: FormKey, id: Uuid) -> ServiceResult<Shown> {
    let spec = form.spec();
    let mut conn = db::conn(pool).await?;
    let scope = caller.actor.scope();
    // Reading personal data writes its access row in the same statement.
    let row = if spec.personal_fields().next().is_some() {
        let entry = AuditEntry::access(
            &AuditContext::for_caller(caller),
            AuditAction::Read,
            form.as_str(),
        )
        .resource(id);
        records::get_audited(&mut conn, &scope, form, id, &entry).await?
    } else {
        records::get(&mut conn, &scope, form, id).await?
    };
    let mut body = record_json(&row, spec, caller);
    if form == crate::duplicates::PERSON_FORM {
        crate::duplicates::people::annotate(&mut conn, caller, &mut [(row.id, &mut body)]).await?;
    }
    Ok(Shown {
        version: row.version,
        body,
    })
}

/// The parent record of a nested route, in the caller's scope (404
/// otherwise, as if missing).
pub async fn parent_in_scope(
    pool: &Pool,
    caller: &Caller,
    form: FormKey,
    id: Uuid,
) -> ServiceResult<RecordRow> {
    let mut conn = db::conn(pool).await?;
    Ok(records::get(&mut conn, &caller.actor.scope(), form, id).await?)
}
