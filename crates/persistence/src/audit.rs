//! The audit log writer and reader (DESIGN.md §4).
//!
//! Modifications are appended by [`append`] in the transaction of the
//! change itself (a rolled-back change leaves no row); accesses (reads of
//! personal data, logins, denials) by [`record`]. Appending takes no lock
//! and computes no hash: [`seal`] chains the committed rows afterwards, in a
//! second append-only table (`audit_chain`), and [`verify`] recomputes that
//! chain. The hash lives in SQL (`audit_event_hash`, `audit_seal`) so that
//! sealing and verifying share one definition; see the migration
//! `2026-12-02-400001_audit_sealed_chain` for why this cannot lose a row that
//! commits late.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::Value;
use sintra_domain::access::{Actor, Caller, EntityCode};
use uuid::Uuid;

use crate::db::{self, Pool, Prepared};
use crate::error::StoreResult;
use crate::schema::audit_events;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Modification,
    Access,
}

/// What an audit row says was done. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    Create,
    Update,
    Deactivate,
    Reactivate,
    ResetPassword,
    RotateSecret,
    Bootstrap,
    Read,
    List,
    DuplicateCheck,
    DuplicateDismissed,
    DuplicateConfirmed,
    /// A confirmed pair undone: its persons split as before it.
    DuplicateUndone,
    Import,
    ImportCheck,
    /// An import job cancelled by its institution before its commit.
    ImportCancel,
    DownloadAnnotated,
    Export,
    Login,
    LoginFailed,
    Logout,
    PasswordChange,
    PasswordChangeFailed,
    TokenRefresh,
    RefreshTokenReused,
    Denied,
    /// A quarter's transitions (`sintra_domain::periods::PeriodAction`).
    Submit,
    Close,
    Reopen,
    /// A form field's label override set, or taken back to the built-in
    /// texts (`sintra_domain::forms::labels`).
    Relabel,
}

impl AuditAction {
    pub const ALL: [AuditAction; 30] = [
        AuditAction::Create,
        AuditAction::Update,
        AuditAction::Deactivate,
        AuditAction::Reactivate,
        AuditAction::ResetPassword,
        AuditAction::RotateSecret,
        AuditAction::Bootstrap,
        AuditAction::Read,
        AuditAction::List,
        AuditAction::DuplicateCheck,
        AuditAction::DuplicateDismissed,
        AuditAction::DuplicateConfirmed,
        AuditAction::DuplicateUndone,
        AuditAction::Import,
        AuditAction::ImportCheck,
        AuditAction::ImportCancel,
        AuditAction::DownloadAnnotated,
        AuditAction::Export,
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::PasswordChange,
        AuditAction::PasswordChangeFailed,
        AuditAction::TokenRefresh,
        AuditAction::RefreshTokenReused,
        AuditAction::Denied,
        AuditAction::Submit,
        AuditAction::Close,
        AuditAction::Reopen,
        AuditAction::Relabel,
    ];

    /// The action as the audit log stores and filters it.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Deactivate => "deactivate",
            AuditAction::Reactivate => "reactivate",
            AuditAction::ResetPassword => "reset_password",
            AuditAction::RotateSecret => "rotate_secret",
            AuditAction::Bootstrap => "bootstrap",
            AuditAction::Read => "read",
            AuditAction::List => "list",
            AuditAction::DuplicateCheck => "duplicate_check",
            AuditAction::DuplicateDismissed => "duplicate_dismissed",
            AuditAction::DuplicateConfirmed => "duplicate_confirmed",
            AuditAction::DuplicateUndone => "duplicate_undone",
            AuditAction::Import => "import",
            AuditAction::ImportCheck => "import_check",
            AuditAction::ImportCancel => "import_cancel",
            AuditAction::DownloadAnnotated => "download_annotated",
            AuditAction::Export => "export",
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::PasswordChange => "password_change",
            AuditAction::PasswordChangeFailed => "password_change_failed",
            AuditAction::TokenRefresh => "token_refresh",
            AuditAction::RefreshTokenReused => "refresh_token_reused",
            AuditAction::Denied => "denied",
            AuditAction::Submit => "submit",
            AuditAction::Close => "close",
            AuditAction::Reopen => "reopen",
            AuditAction::Relabel => "relabel",
        }
    }
}

impl From<sintra_domain::periods::PeriodAction> for AuditAction {
    fn from(action: sintra_domain::periods::PeriodAction) -> Self {
        use sintra_domain::periods::PeriodAction;
        match action {
            PeriodAction::Submit => AuditAction::Submit,
            PeriodAction::Close => AuditAction::Close,
            PeriodAction::Reopen => AuditAction::Reopen,
        }
    }
}

/// Who is acting and from where: the part of an audit row that comes from
/// the request rather than from the change.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub actor_id: Option<Uuid>,
    pub actor_username: Option<String>,
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

impl AuditContext {
    /// Who acted, and the request they acted in.
    pub fn for_caller(caller: &Caller) -> Self {
        AuditContext::for_actor(
            &caller.actor,
            Some(caller.request_id.clone()),
            caller.ip.clone(),
        )
    }

    pub fn for_actor(actor: &Actor, request_id: Option<String>, ip: Option<String>) -> Self {
        AuditContext {
            actor_id: Some(actor.user_id),
            actor_username: Some(actor.username.clone()),
            institution_id: Some(actor.institution_id),
            entity_code: Some(actor.entity_code.to_string()),
            request_id,
            ip,
        }
    }
}

/// One row to append. `changes` holds `{field: {before, after}}` with
/// personal fields already masked by the caller (the form spec's diff).
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub kind: AuditKind,
    pub actor_id: Option<Uuid>,
    pub actor_username: Option<String>,
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub changes: Option<Value>,
    pub details: Option<Value>,
    pub outcome: String,
}

impl AuditEntry {
    fn new(ctx: &AuditContext, kind: AuditKind, action: AuditAction, resource_type: &str) -> Self {
        AuditEntry {
            kind,
            actor_id: ctx.actor_id,
            actor_username: ctx.actor_username.clone(),
            institution_id: ctx.institution_id,
            entity_code: ctx.entity_code.clone(),
            request_id: ctx.request_id.clone(),
            ip: ctx.ip.clone(),
            action: action.as_str().to_string(),
            resource_type: resource_type.to_string(),
            resource_id: None,
            changes: None,
            details: None,
            outcome: "ok".into(),
        }
    }

    /// A change to a record (create, update, deactivate, …).
    pub fn modification(ctx: &AuditContext, action: AuditAction, resource_type: &str) -> Self {
        Self::new(ctx, AuditKind::Modification, action, resource_type)
    }

    /// A read of personal data, an export, a login, a denied request, …
    pub fn access(ctx: &AuditContext, action: AuditAction, resource_type: &str) -> Self {
        Self::new(ctx, AuditKind::Access, action, resource_type)
    }

    pub fn resource(mut self, id: impl ToString) -> Self {
        self.resource_id = Some(id.to_string());
        self
    }

    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn outcome(mut self, outcome: &str) -> Self {
        self.outcome = outcome.to_string();
        self
    }
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Modification => "modification",
            AuditKind::Access => "access",
        }
    }
}

/// The columns of an audit row the API writes, in the order of the binds
/// of [`bind_entry`]; id, time and transaction are the table's defaults.
/// (A macro, so statements can `concat!` it into one fixed text.)
macro_rules! entry_columns {
    () => {
        "kind, actor_id, actor_username, institution_id, entity_code, request_id, ip, \
         action, resource_type, resource_id, changes, details, outcome"
    };
}
pub(crate) use entry_columns;

/// Binds an entry's thirteen values after a statement's own `$1…$n`
/// (`resource_id` left out when the statement supplies it).
macro_rules! bind_entry {
    ($query:expr, $e:expr) => {{
        let e: &$crate::audit::AuditEntry = $e;
        $query
            .bind::<diesel::sql_types::Text, _>(e.kind.as_str())
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(e.actor_id)
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                e.actor_username.as_deref(),
            )
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Uuid>, _>(e.institution_id)
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                e.entity_code.as_deref(),
            )
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                e.request_id.as_deref(),
            )
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(e.ip.as_deref())
            .bind::<diesel::sql_types::Text, _>(e.action.as_str())
            .bind::<diesel::sql_types::Text, _>(e.resource_type.as_str())
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                e.resource_id.as_deref(),
            )
            // As `audit_append`: only an object is a change set or details.
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Jsonb>, _>(
                e.changes.as_ref().filter(|v| v.is_object()),
            )
            .bind::<diesel::sql_types::Nullable<diesel::sql_types::Jsonb>, _>(
                e.details.as_ref().filter(|v| v.is_object()),
            )
            .bind::<diesel::sql_types::Text, _>(e.outcome.as_str())
    }};
}
pub(crate) use bind_entry;

/// Appends entries to the log on this connection (inside the caller's
/// transaction, when there is one). One entry, the common case, is one
/// prepared `INSERT`: one round trip, no JSON to build or parse; a batch
/// goes through `audit_append`.
pub async fn append(conn: &mut AsyncPgConnection, entries: &[AuditEntry]) -> StoreResult<()> {
    match entries {
        [] => {}
        [one] => {
            const APPEND_ONE: &str = concat!(
                "INSERT INTO audit_events (",
                entry_columns!(),
                ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            );
            Prepared(bind_entry!(diesel::sql_query(APPEND_ONE), one))
                .execute(conn)
                .await?;
        }
        many => {
            let payload = serde_json::to_value(many)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
            Prepared(diesel::sql_query("SELECT audit_append($1) AS id").bind::<Jsonb, _>(payload))
                .execute(conn)
                .await?;
        }
    }
    Ok(())
}

/// Appends access entries in a transaction of their own.
pub async fn record(pool: &Pool, entries: &[AuditEntry]) -> StoreResult<()> {
    let mut conn = db::conn(pool).await?;
    append(&mut conn, entries).await
}

/// A stored audit row.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditRow {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub actor_username: Option<String>,
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub changes: Option<Value>,
    pub details: Option<Value>,
    pub outcome: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub institution_id: Option<Uuid>,
    pub entity_code: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub kind: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Rows with an id below this (newest first paging).
    pub before_id: Option<i64>,
}

/// Lists rows newest first. `entity_scope` limits an entity-level auditor
/// to rows about its entity.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &AuditFilter,
    entity_scope: Option<EntityCode>,
    limit: i64,
) -> StoreResult<Vec<AuditRow>> {
    use crate::schema::audit_events::dsl as a;
    let mut q = a::audit_events.select(AuditRow::as_select()).into_boxed();
    if let Some(e) = entity_scope {
        q = q.filter(a::entity_code.eq(e.as_str()));
    }
    if let Some(v) = filter.actor_id {
        q = q.filter(a::actor_id.eq(v));
    }
    if let Some(v) = filter.institution_id {
        q = q.filter(a::institution_id.eq(v));
    }
    if let Some(v) = &filter.entity_code {
        q = q.filter(a::entity_code.eq(v.clone()));
    }
    if let Some(v) = &filter.action {
        q = q.filter(a::action.eq(v.clone()));
    }
    if let Some(v) = &filter.resource_type {
        q = q.filter(a::resource_type.eq(v.clone()));
    }
    if let Some(v) = &filter.resource_id {
        q = q.filter(a::resource_id.eq(v.clone()));
    }
    if let Some(v) = &filter.kind {
        q = q.filter(a::kind.eq(v.clone()));
    }
    if let Some(v) = filter.from {
        q = q.filter(a::occurred_at.ge(v));
    }
    if let Some(v) = filter.to {
        q = q.filter(a::occurred_at.lt(v));
    }
    if let Some(v) = filter.before_id {
        q = q.filter(a::id.lt(v));
    }
    Ok(q.order(a::id.desc()).limit(limit).load(conn).await?)
}

/// Chains the committed rows that are not chained yet and returns how many.
/// With `wait`, queues behind a sealer already running (so that every row
/// committed before the call is chained when it returns, unless an older
/// transaction is still open); without it, returns 0 when another sealer is
/// at work.
pub async fn seal(conn: &mut AsyncPgConnection, wait: bool) -> StoreResult<i64> {
    #[derive(QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = BigInt)]
        sealed: i64,
    }
    let row: Sealed = diesel::sql_query("SELECT audit_seal($1) AS sealed")
        .bind::<diesel::sql_types::Bool, _>(wait)
        .get_result(conn)
        .await?;
    Ok(row.sealed)
}

/// Creates the partitions of the current month and the `months_ahead`
/// after it that do not exist yet; returns how many it created.
pub async fn ensure_partitions(
    conn: &mut AsyncPgConnection,
    months_ahead: i32,
) -> StoreResult<i32> {
    #[derive(QueryableByName)]
    struct Created {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        created: i32,
    }
    let row: Created = diesel::sql_query("SELECT audit_ensure_partitions($1) AS created")
        .bind::<diesel::sql_types::Integer, _>(months_ahead)
        .get_result(conn)
        .await?;
    Ok(row.created)
}

/// The outcome of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ChainReport {
    /// Chained rows whose hash was recomputed.
    #[diesel(sql_type = BigInt)]
    pub rows_checked: i64,
    /// Rows committed so recently that the sealer has not chained them yet
    /// (their transaction, or an older one, was still open at its last pass).
    #[diesel(sql_type = BigInt)]
    pub pending_rows: i64,
    /// The first row (in chain order) whose stored hash does not match its
    /// content, whose `prev_hash` is not the hash of the row before it, that
    /// the head says was chained but is gone, or that should have been
    /// chained and was not.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub first_broken_id: Option<i64>,
    /// `content`, `link`, `missing`, `unchained`, or `checkpoint` (the
    /// chain no longer passes through a signed checkpoint).
    #[diesel(sql_type = Nullable<Text>)]
    pub reason: Option<String>,
}

impl ChainReport {
    pub fn is_valid(&self) -> bool {
        self.reason.is_none()
    }
}

/// The chain's head: its position (rows chained so far), the last chained
/// event and the hash there.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ChainHead {
    #[diesel(sql_type = BigInt)]
    pub position: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub event_id: Option<i64>,
    #[diesel(sql_type = Text)]
    pub hash: String,
}

/// Reads the head (one row, by primary key).
pub async fn head(conn: &mut AsyncPgConnection) -> StoreResult<ChainHead> {
    Ok(
        diesel::sql_query("SELECT position, event_id, hash FROM audit_chain_head WHERE singleton")
            .get_result(conn)
            .await?,
    )
}

/// The chain at one position: which event it holds, the stored hash, and
/// the hash recomputed from the event as it is now (`None` when the event
/// is gone).
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct ChainLink {
    #[diesel(sql_type = BigInt)]
    pub event_id: i64,
    #[diesel(sql_type = Text)]
    pub hash: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub computed: Option<String>,
}

pub async fn link_at(
    conn: &mut AsyncPgConnection,
    position: i64,
) -> StoreResult<Option<ChainLink>> {
    Ok(diesel::sql_query(
        "SELECT ch.event_id, ch.hash, audit_event_hash(ch.prev_hash, e) AS computed
         FROM audit_chain ch LEFT JOIN audit_events e ON e.id = ch.event_id
         WHERE ch.position = $1",
    )
    .bind::<BigInt, _>(position)
    .get_result(conn)
    .await
    .optional()?)
}

/// Where verification without a checkpoint starts: after the newest
/// archived position (README "Audit log", retention), or at the chain's
/// start while nothing is archived.
pub async fn archive_floor(conn: &mut AsyncPgConnection) -> StoreResult<Option<(i64, String)>> {
    #[derive(QueryableByName)]
    struct Floor {
        #[diesel(sql_type = BigInt)]
        position: i64,
        #[diesel(sql_type = Text)]
        hash: String,
    }
    let floor: Option<Floor> = diesel::sql_query(
        "SELECT position, hash FROM audit_archive ORDER BY position DESC LIMIT 1",
    )
    .get_result(conn)
    .await
    .optional()?;
    Ok(floor.map(|f| (f.position, f.hash)))
}

/// Recomputes the chain in chain order and checks that every row old
/// enough to be chained is. `since` = `(position, hash)` starts after a
/// position whose hash is already trusted (a verified checkpoint, or the
/// archive's floor): only the rows after it are recomputed, the first of
/// them against that hash.
///
/// The work is bounded by what follows `since`, whatever the log's size:
/// the events are read only from the partitions from the oldest event
/// checked on (`event_at`, pruned when the query starts), and the search for
/// rows that were never chained looks only at ids after the event at
/// `since` plus the rows whose transaction the sealer has not passed yet
/// (both by index). A row slipped in with an older id by someone who
/// bypasses the API is found by a verify from the start (`since` = None
/// with nothing archived), which reads the whole log.
pub async fn verify(
    conn: &mut AsyncPgConnection,
    since: Option<(i64, &str)>,
) -> StoreResult<ChainReport> {
    let zero = "0".repeat(64);
    let (from, start_hash) = since.unwrap_or((0, zero.as_str()));
    Ok(diesel::sql_query(
        "WITH head AS (
             SELECT * FROM audit_chain_head WHERE singleton
         ), bound AS (
             SELECT coalesce((SELECT min(event_at) FROM audit_chain WHERE position > $1),
                             'infinity') AS oldest,
                    CASE WHEN $1 = 0 THEN 0
                         ELSE coalesce((SELECT event_id FROM audit_chain WHERE position = $1), 0)
                    END AS after_event
         ), c AS (
             SELECT ch.position, ch.event_id, ch.hash, ch.prev_hash,
                    audit_event_hash(ch.prev_hash, e) AS computed,
                    coalesce(lag(ch.hash) OVER (ORDER BY ch.position), $2) AS expected_prev
             FROM audit_chain ch JOIN audit_events e ON e.id = ch.event_id
             WHERE ch.position > $1
               AND e.occurred_at >= (SELECT oldest FROM bound)
         ), last AS (
             SELECT position, hash FROM c ORDER BY position DESC LIMIT 1
         ), unchained AS (
             SELECT e.id, e.txid < head.horizon AS overdue
             FROM audit_events e, head
             WHERE (e.id > (SELECT after_event FROM bound) OR e.txid >= head.horizon)
               AND NOT EXISTS (SELECT 1 FROM audit_chain ch WHERE ch.event_id = e.id)
         ), broken AS (
             SELECT position, event_id AS id,
                    CASE WHEN computed <> hash THEN 'content' ELSE 'link' END AS reason
             FROM c WHERE computed <> hash OR prev_hash <> expected_prev
             UNION ALL
             -- The tail: the head names a later row than the last one present.
             SELECT coalesce(last.position, $1) + 1,
                    coalesce((SELECT ch.event_id FROM audit_chain ch
                              WHERE ch.position = coalesce(last.position, $1) + 1), head.event_id),
                    'missing'
             FROM head LEFT JOIN last ON true
             WHERE coalesce(last.position, $1) <> head.position
                OR coalesce(last.hash, $2) <> head.hash
             UNION ALL
             SELECT NULL, id, 'unchained' FROM unchained WHERE overdue
         ), first AS (
             SELECT id, reason FROM broken ORDER BY position NULLS LAST, id LIMIT 1
         )
         SELECT (SELECT count(*) FROM c) AS rows_checked,
                (SELECT count(*) FROM unchained WHERE NOT overdue) AS pending_rows,
                (SELECT id FROM first) AS first_broken_id,
                (SELECT reason FROM first) AS reason",
    )
    .bind::<BigInt, _>(from)
    .bind::<Text, _>(start_hash)
    .get_result(conn)
    .await?)
}
