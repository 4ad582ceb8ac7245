//! The changes feed: what changed in the caller's scope since a position,
//! so a state system or a frontend cache can follow the records without
//! listing everything again. It names records (form, id, version, kind,
//! time), never their fields: a follower reads a record through its own
//! route, where access and the audit of personal reads apply.

use chrono::{DateTime, Utc};
use sintra_domain::access::Caller;
use sintra_domain::forms::FormKey;
use sintra_persistence::{changes, db, Pool};
use uuid::Uuid;

use crate::error::ServiceResult;
use crate::page::Slice;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
}

/// One change of the feed.
#[derive(Debug, Clone)]
pub struct Change {
    /// The feed's position (the cursor carries it).
    pub position: i64,
    pub form: FormKey,
    pub id: Uuid,
    pub version: i32,
    pub kind: ChangeKind,
    pub changed_at: DateTime<Utc>,
    pub entity_code: String,
    pub institution_id: Uuid,
}

impl Change {
    /// Where the record is read, for forms with a route of their own
    /// (a follow-up or a procedural event is read through its parent).
    pub fn href(&self) -> Option<String> {
        let path = self.form.spec().resource_path;
        (!path.contains('{')).then(|| format!("/api/v1/{path}/{}", self.id))
    }
}

/// The changes after position `after` (0: from the beginning) in the
/// caller's scope, in commit-safe order: first every change whose
/// transaction has ended is numbered, then up to `limit` are read.
pub async fn list(
    pool: &Pool,
    caller: &Caller,
    after: i64,
    limit: i64,
) -> ServiceResult<Slice<Change>> {
    let mut conn = db::conn(pool).await?;
    changes::seal(&mut conn).await?;
    let rows = changes::list(&mut conn, &caller.actor.scope(), after, limit + 1).await?;
    let items = rows
        .into_iter()
        .filter_map(|r| {
            let kind = match r.kind.as_str() {
                "created" => ChangeKind::Created,
                "updated" => ChangeKind::Updated,
                "deleted" => ChangeKind::Deleted,
                _ => return None,
            };
            Some(Change {
                position: r.position?,
                form: r.form.parse().ok()?,
                id: r.record_id,
                version: r.version,
                kind,
                changed_at: r.changed_at,
                entity_code: r.entity_code,
                institution_id: r.institution_id,
            })
        })
        .collect();
    Ok(Slice::of(items, limit))
}
