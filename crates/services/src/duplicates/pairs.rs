//! Pairs of possible duplicates: listed where both people lie in the
//! caller's scope, and decided (dismissed or confirmed) with an audit row.

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;
use sintra_domain::access::Caller;
use sintra_domain::duplicates::PairStatus;
use sintra_domain::error_code::ErrorCode;
use sintra_domain::i18n::Message;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::duplicates::{self as store, Pair};
use sintra_persistence::people;
use sintra_persistence::records::{self as rows, RecordRow};
use sintra_persistence::{db, Pool};
use uuid::Uuid;

use super::PERSON_FORM;
use crate::error::{ServiceError, ServiceResult};
use crate::page::Slice;
use sintra_domain::validation::FieldCode;

/// A pair with its two people, both in the caller's scope.
pub struct PairView {
    pub pair: Pair,
    pub person_a: RecordRow,
    pub person_b: RecordRow,
}

/// Reads both people of a pair in the caller's scope (404 unless both are).
async fn view(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    pair: Pair,
) -> ServiceResult<PairView> {
    let scope = caller.actor.scope();
    let person_a = rows::get(conn, &scope, PERSON_FORM, pair.person_a).await?;
    let person_b = rows::get(conn, &scope, PERSON_FORM, pair.person_b).await?;
    Ok(PairView {
        pair,
        person_a,
        person_b,
    })
}

/// A status named in a query, or the 422 that names the ones there are.
pub fn parse_status(given: &str) -> ServiceResult<PairStatus> {
    given.parse().map_err(|_| {
        ServiceError::invalid(
            "status",
            FieldCode::UnknownCode,
            "status debe ser open, dismissed o confirmed.",
            "status must be open, dismissed or confirmed.",
        )
    })
}

/// A page of the pairs of this status (`open` by default) whose people
/// both lie in the caller's scope, newest first, after the cursor's pair.
pub async fn list(
    pool: &Pool,
    caller: &Caller,
    status: Option<PairStatus>,
    after: Option<Uuid>,
    limit: i64,
) -> ServiceResult<Slice<PairView>> {
    let status = status.unwrap_or(PairStatus::Open);
    let mut conn = db::conn(pool).await?;
    let conn = &mut *conn;
    let scope = caller.actor.scope();
    let pairs = store::list_pairs(conn, &scope, Some(status), after, limit + 1).await?;
    let page = Slice::of(pairs, limit);
    let mut items = Vec::with_capacity(page.items.len());
    for p in page.items {
        items.push(view(conn, caller, p).await?);
    }
    Ok(Slice {
        items,
        more: page.more,
    })
}

/// What a decision about a pair says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Not the same person: the pair is not raised again.
    Dismiss,
    /// The same person: the two records' persons merge into one.
    Confirm,
    /// A confirmation withdrawn: the pair is open again and the persons
    /// are as they were before it (only for a confirmed pair).
    Undo,
}

impl Decision {
    fn status(self) -> PairStatus {
        match self {
            Decision::Dismiss => PairStatus::Dismissed,
            Decision::Confirm => PairStatus::Confirmed,
            Decision::Undo => PairStatus::Open,
        }
    }

    fn action(self) -> AuditAction {
        match self {
            Decision::Dismiss => AuditAction::DuplicateDismissed,
            Decision::Confirm => AuditAction::DuplicateConfirmed,
            Decision::Undo => AuditAction::DuplicateUndone,
        }
    }
}

/// The 409 of an undo of a pair that is not confirmed.
fn not_confirmed() -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::InvalidPairTransition,
        detail: Message::new(
            "Solo se puede deshacer un par confirmado como la misma persona.",
            "Only a pair confirmed as the same person can be undone.",
        ),
    }
}

/// Decides a pair whose two people are the caller's (404 otherwise), with
/// its audit row in the same transaction. The persons follow the pair's
/// status in the database (migration `person_merge`): a confirmation
/// merges the two records' persons, a pair no longer confirmed (undone, or
/// dismissed after all) splits them as the remaining confirmed pairs say;
/// the audit row carries the persons before and after and the records
/// that moved.
pub async fn decide(
    pool: &Pool,
    caller: &Caller,
    id: Uuid,
    decision: Decision,
) -> ServiceResult<PairView> {
    let mut conn = db::conn(pool).await?;
    let conn = &mut *conn;
    let pair = store::get_pair(conn, id).await?;
    // Both people must be the caller's to decide about.
    view(conn, caller, pair.clone()).await?;
    let ctx = AuditContext::for_caller(caller);
    let by = caller.actor.user_id;
    let status = decision.status();
    let decided = conn
        .transaction::<_, ServiceError, _>(async |conn| {
            // Read again under the row's lock: two undos at once, or an
            // undo racing a dismissal, see each other's outcome.
            let current = store::get_pair_for_update(conn, id).await?;
            if decision == Decision::Undo && current.status != PairStatus::Confirmed {
                return Err(not_confirmed());
            }
            let p = store::decide_pair(conn, id, status, by).await?;
            let mut changes =
                json!({"status": {"before": current.status, "after": status.as_str()}});
            // `changes` holds field → {before, after} only, as the spec
            // says; the records that moved and the journal's row are what
            // else the event records, so they go in `details`.
            let mut details = None;
            if let Some(change) = people::change_of_this_transaction(conn, id).await? {
                changes["person_id"] = json!({
                    "before": change.persons_before,
                    "after": change.persons_after,
                });
                details = Some(json!({
                    "moved": change.moved,
                    "person_change": {"id": change.id, "kind": change.kind},
                }));
            }
            let mut entry = AuditEntry::modification(&ctx, decision.action(), "duplicate_pair")
                .resource(id)
                .changes(changes);
            if let Some(details) = details {
                entry = entry.details(details);
            }
            audit::append(conn, &[entry]).await?;
            Ok(p)
        })
        .await?;
    view(conn, caller, decided).await
}
