//! Checking a draft person for duplicates without saving it.

use serde_json::{json, Map, Value};
use sintra_domain::access::Caller;
use sintra_domain::forms::FormKey;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::{db, Pool};

use super::{find, Person, PERSON_FORM};
use crate::error::ServiceResult;
use crate::records::{prepare, Submission};

/// The warnings a create of this draft would give, as the caller may see
/// them. The check reads personal data, so it is audited.
pub async fn check_draft(
    pool: &Pool,
    caller: &Caller,
    draft: Map<String, Value>,
) -> ServiceResult<Vec<Value>> {
    let mut conn = db::conn(pool).await?;
    let submission = Submission {
        caller,
        spec: FormKey::Victim.spec(),
        input: draft,
        previous: None,
    };
    let prepared = prepare(&mut conn, submission).await?;
    let person = Person::of(&prepared.data);
    let warnings = find(&mut conn, caller, None, &person).await?;
    let entry = AuditEntry::access(
        &AuditContext::for_caller(caller),
        AuditAction::DuplicateCheck,
        PERSON_FORM.as_str(),
    )
    .details(json!({"warnings": warnings.len()}));
    audit::append(&mut conn, &[entry]).await?;
    Ok(warnings.into_iter().map(|w| w.json).collect())
}
