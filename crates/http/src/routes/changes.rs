//! The changes feed (`GET /api/v1/changes`): what changed in the caller's
//! scope since a cursor, for state systems and frontend caches that keep
//! in sync without listing everything again.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sintra_services::changes::{self, Change, ChangeKind};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Authenticated;
use crate::error::{ApiResult, Problem};
use crate::pagination::{cursor_for, PageParams};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ChangesQuery {
    /// The `next_cursor` of the previous answer; absent: from the
    /// beginning.
    pub since: Option<String>,
    /// Changes per answer: 1 to 500, 50 by default.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// One change of a record: which, to what version, how and when. Never
/// its fields: read the record through `href` (where access rules and the
/// audit of personal reads apply).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeOut {
    /// The form's key (`victim`, `criminal_case`, …).
    pub form: String,
    /// The record's id.
    pub id: Uuid,
    /// The record's version after the change (its ETag).
    pub version: i32,
    /// `created`, `updated` or `deleted`.
    pub kind: ChangeKindOut,
    pub changed_at: DateTime<Utc>,
    pub entity_code: String,
    pub institution_id: Uuid,
    /// Where to read the record (null for records read through their
    /// parent: agreement follow-ups, procedural events).
    pub href: Option<String>,
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKindOut {
    Created,
    Updated,
    Deleted,
}

impl From<ChangeKind> for ChangeKindOut {
    fn from(k: ChangeKind) -> ChangeKindOut {
        match k {
            ChangeKind::Created => ChangeKindOut::Created,
            ChangeKind::Updated => ChangeKindOut::Updated,
            ChangeKind::Deleted => ChangeKindOut::Deleted,
        }
    }
}

/// An answer of the feed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangesPage {
    /// In the order they were committed.
    pub items: Vec<ChangeOut>,
    /// Where to resume: send it as `since` next time. Never null: with no
    /// new changes it is the cursor sent.
    pub next_cursor: String,
    /// Whether more changes are ready now (ask again at once) or the feed
    /// is caught up (poll later).
    pub has_more: bool,
}

impl From<Change> for ChangeOut {
    fn from(c: Change) -> ChangeOut {
        ChangeOut {
            href: c.href(),
            form: c.form.as_str().to_string(),
            id: c.id,
            version: c.version,
            kind: c.kind.into(),
            changed_at: c.changed_at,
            entity_code: c.entity_code,
            institution_id: c.institution_id,
        }
    }
}

/// The records created, updated or deleted in the caller's scope since a
/// cursor, oldest first. Resumable: each answer's `next_cursor`, sent back
/// as `since`, continues exactly after the last change it listed; a change
/// committed later always comes after it, even when its transaction began
/// earlier (a change is listed once its transaction has ended and every
/// older running transaction too, so a long import holds the feed back
/// until it ends). The scope is that of record lists: an operator or a
/// state system sees its institution's records, an entity admin its
/// entity's, the national admin the country's. Several changes of one
/// record may be listed; the newest version is the last.
#[utoipa::path(
    operation_id = "listChanges",
    tag = "sync",
    security(("bearer" = [])),
    params(ChangesQuery),
    responses(
        (status = 200, body = ChangesPage),
        (status = 422, description = "`since` is not a cursor of this feed, or `limit` is out of range", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/changes")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Authenticated,
    query: web::Query<ChangesQuery>,
) -> ApiResult<web::Json<ChangesPage>> {
    let q = query.into_inner();
    let page = PageParams {
        limit: q.limit,
        cursor: q.since.clone(),
    };
    let limit = page.limit()?;
    let after: i64 = page.after::<i64>()?.unwrap_or(0);
    let slice = changes::list(&state.pool, &auth, after, limit).await?;
    let last = slice.items.last().map(|c| c.position).unwrap_or(after);
    Ok(web::Json(ChangesPage {
        next_cursor: cursor_for(last),
        has_more: slice.more,
        items: slice.items.into_iter().map(ChangeOut::from).collect(),
    }))
}
