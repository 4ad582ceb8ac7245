//! Excel import jobs (`import_jobs`): accepted uploads, claimed by workers
//! with `FOR UPDATE SKIP LOCKED`, kept alive by heartbeats. The state
//! machine is [`sintra_domain::import_jobs::ImportState`]; every move here
//! names the states it may come from, so a racing cancel and commit cannot
//! both win.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Double, Integer, Jsonb, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use sintra_domain::access::Role;
use sintra_domain::import_jobs::ImportState;
use uuid::Uuid;

use crate::error::{StoreError, StoreResult};
use crate::schema::import_jobs;

/// A new job, as the upload's request stores it.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = import_jobs)]
pub struct NewJob {
    pub id: Uuid,
    pub form: String,
    pub institution_id: Uuid,
    pub entity_code: String,
    pub created_by: Uuid,
    pub actor_username: String,
    pub actor_role: String,
    pub token_id: Uuid,
    pub request_id: String,
    pub ip: Option<String>,
    pub lang: String,
    pub dry_run: bool,
    pub status: String,
    pub file_sha256: String,
    pub file_bytes: i64,
    pub workbook: Option<Vec<u8>>,
    /// Set when the request itself runs the job (`wait=true`).
    pub worker_id: Option<String>,
    pub attempts: i32,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
}

/// A job as read back: everything but the workbook's bytes.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = import_jobs)]
pub struct Job {
    pub id: Uuid,
    pub form: String,
    pub institution_id: Uuid,
    pub entity_code: String,
    pub created_by: Uuid,
    pub actor_username: String,
    pub actor_role: Role,
    pub token_id: Uuid,
    pub request_id: String,
    pub ip: Option<String>,
    pub lang: String,
    pub dry_run: bool,
    pub status: ImportState,
    pub file_sha256: String,
    pub file_bytes: i64,
    pub rows_total: Option<i64>,
    pub rows_read: i64,
    pub rows_checked: i64,
    pub rows_written: i64,
    pub report: Option<Value>,
    pub problem: Option<Value>,
    pub worker_id: Option<String>,
    pub attempts: i32,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// Its state (checked as the row is read).
    pub fn state(&self) -> ImportState {
        self.status
    }
}

/// The rows a job has gone through, as its worker counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub total: Option<i64>,
    pub read: i64,
    pub checked: i64,
    pub written: i64,
}

/// Whether a new job (or a commit) may start: the limits on imports under
/// way, counted under one lock so two uploads cannot both take the last
/// place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admitted,
    /// The institution has `per_institution` imports under way.
    InstitutionBusy,
    /// The system has `total` imports under way.
    SystemBusy,
}

/// The limits [`admit`] applies.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub per_institution: i64,
    pub total: i64,
}

fn active() -> Vec<&'static str> {
    ImportState::ALL
        .into_iter()
        .filter(|s| s.is_active())
        .map(ImportState::as_str)
        .collect()
}

/// Inside the caller's transaction: takes the admission lock (held until
/// it commits) and counts the imports under way.
async fn admission(
    conn: &mut AsyncPgConnection,
    institution: Uuid,
    bounds: Bounds,
) -> StoreResult<Admission> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('sintra.import_jobs')::bigint)")
        .execute(conn)
        .await?;
    let total: i64 = import_jobs::table
        .filter(import_jobs::status.eq_any(active()))
        .count()
        .get_result(conn)
        .await?;
    if total >= bounds.total {
        return Ok(Admission::SystemBusy);
    }
    let mine: i64 = import_jobs::table
        .filter(import_jobs::status.eq_any(active()))
        .filter(import_jobs::institution_id.eq(institution))
        .count()
        .get_result(conn)
        .await?;
    if mine >= bounds.per_institution {
        return Ok(Admission::InstitutionBusy);
    }
    Ok(Admission::Admitted)
}

/// Stores a new job if the limits allow it.
pub async fn admit(
    conn: &mut AsyncPgConnection,
    new: &NewJob,
    bounds: Bounds,
) -> StoreResult<Admission> {
    conn.transaction::<_, StoreError, _>(async |conn| {
        let admission = admission(conn, new.institution_id, bounds).await?;
        if admission == Admission::Admitted {
            diesel::insert_into(import_jobs::table)
                .values(new)
                .execute(conn)
                .await?;
        }
        Ok(admission)
    })
    .await
}

/// What asking to commit a checked dry run came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitRequest {
    /// Now `committing`, for a worker (or for `worker`, when given).
    Accepted,
    Busy(Admission),
    /// Not a checked dry run: its state.
    NotCheckable(ImportState),
    NotFound,
}

/// Turns a checked dry run of the institution into a commit to run, if
/// the limits allow it; `worker` claims it at once (the request runs it).
pub async fn request_commit(
    conn: &mut AsyncPgConnection,
    institution: Uuid,
    id: Uuid,
    worker: Option<&str>,
    bounds: Bounds,
) -> StoreResult<CommitRequest> {
    conn.transaction::<_, StoreError, _>(async |conn| {
        let Some(job) = get(conn, institution, id).await? else {
            return Ok(CommitRequest::NotFound);
        };
        if !job.state().may_commit() {
            return Ok(CommitRequest::NotCheckable(job.state()));
        }
        let admission = admission(conn, institution, bounds).await?;
        if admission != Admission::Admitted {
            return Ok(CommitRequest::Busy(admission));
        }
        let now = worker.map(|_| Utc::now());
        let n = diesel::update(
            import_jobs::table
                .filter(import_jobs::id.eq(id))
                .filter(import_jobs::status.eq(ImportState::Checked.as_str())),
        )
        .set((
            import_jobs::status.eq(ImportState::Committing.as_str()),
            import_jobs::dry_run.eq(false),
            import_jobs::worker_id.eq(worker),
            import_jobs::heartbeat_at.eq(now),
            import_jobs::attempts.eq(i32::from(worker.is_some())),
            import_jobs::rows_written.eq(0),
        ))
        .execute(conn)
        .await?;
        Ok(if n == 1 {
            CommitRequest::Accepted
        } else {
            CommitRequest::NotCheckable(job.state())
        })
    })
    .await
}

/// A job of the institution (any other reads as missing).
pub async fn get(
    conn: &mut AsyncPgConnection,
    institution: Uuid,
    id: Uuid,
) -> StoreResult<Option<Job>> {
    Ok(import_jobs::table
        .filter(import_jobs::id.eq(id))
        .filter(import_jobs::institution_id.eq(institution))
        .select(Job::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The institution's jobs, newest first, after the cursor's id.
pub async fn list(
    conn: &mut AsyncPgConnection,
    institution: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Job>> {
    let mut q = import_jobs::table
        .filter(import_jobs::institution_id.eq(institution))
        .select(Job::as_select())
        .order(import_jobs::id.desc())
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        q = q.filter(import_jobs::id.lt(after));
    }
    Ok(q.load(conn).await?)
}

/// The uploaded workbook of a job still under way.
pub async fn workbook(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
    Ok(import_jobs::table
        .filter(import_jobs::id.eq(id))
        .select(import_jobs::workbook)
        .first::<Option<Vec<u8>>>(conn)
        .await
        .optional()?
        .flatten())
}

/// Claims the oldest job waiting for a worker: a queued one, a commit
/// asked of a checked dry run, or one whose worker stopped beating for
/// `stale` (its server died: the job starts over; nothing of it was
/// written, as its commit is one transaction). A job put back after a
/// database failure ([`release`]) waits for its `retry_at`. Jobs tried
/// `max_attempts` times are left to [`fail_abandoned`].
pub async fn claim(
    conn: &mut AsyncPgConnection,
    worker: &str,
    stale: Duration,
    max_attempts: i32,
) -> StoreResult<Option<Job>> {
    let sql = "UPDATE import_jobs SET worker_id = $1, heartbeat_at = now(), attempts = attempts + 1, \
               started_at = coalesce(started_at, now()), \
               status = CASE WHEN status = 'queued' THEN 'checking' ELSE status END, \
               rows_total = NULL, rows_read = 0, rows_checked = 0, rows_written = 0, \
               retry_at = NULL \
               WHERE id = (SELECT id FROM import_jobs \
                 WHERE (status = 'queued' OR (status = 'committing' AND worker_id IS NULL) \
                    OR (status IN ('checking', 'committing') \
                        AND heartbeat_at < now() - make_interval(secs => $2))) \
                   AND attempts < $3 AND (retry_at IS NULL OR retry_at <= now()) \
                 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
               RETURNING id, form, institution_id, entity_code, created_by, actor_username, \
               actor_role, token_id, request_id, ip, lang, dry_run, status, file_sha256, file_bytes, \
               rows_total, rows_read, rows_checked, rows_written, report, problem, worker_id, \
               attempts, heartbeat_at, created_at, started_at, finished_at";
    Ok(diesel::sql_query(sql)
        .bind::<Text, _>(worker)
        .bind::<Double, _>(stale.as_secs_f64())
        .bind::<Integer, _>(max_attempts)
        .get_result::<Job>(conn)
        .await
        .optional()?)
}

/// Fails the jobs whose worker stopped beating after `max_attempts` tries
/// (a file that kills its worker every time must not kill them all).
pub async fn fail_abandoned(
    conn: &mut AsyncPgConnection,
    stale: Duration,
    max_attempts: i32,
    problem: &Value,
) -> StoreResult<usize> {
    let sql = "UPDATE import_jobs SET status = 'failed', problem = $1, finished_at = now(), \
               workbook = NULL, worker_id = NULL \
               WHERE status IN ('checking', 'committing') \
                 AND heartbeat_at < now() - make_interval(secs => $2) AND attempts >= $3";
    Ok(diesel::sql_query(sql)
        .bind::<Jsonb, _>(problem)
        .bind::<Double, _>(stale.as_secs_f64())
        .bind::<Integer, _>(max_attempts)
        .execute(conn)
        .await?)
}

/// The worker's heartbeat, with its progress. Answers the job's state, or
/// none when the job is no longer this worker's (taken over after a
/// stall): the worker stops then.
pub async fn heartbeat(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    counters: Counters,
) -> StoreResult<Option<ImportState>> {
    let status: Option<String> = diesel::update(
        import_jobs::table
            .filter(import_jobs::id.eq(id))
            .filter(import_jobs::worker_id.eq(worker)),
    )
    .set((
        import_jobs::heartbeat_at.eq(Utc::now()),
        import_jobs::rows_total.eq(counters.total),
        import_jobs::rows_read.eq(counters.read),
        import_jobs::rows_checked.eq(counters.checked),
        import_jobs::rows_written.eq(counters.written),
    ))
    .returning(import_jobs::status)
    .get_result(conn)
    .await
    .optional()?;
    Ok(status.map(|s| s.parse().unwrap_or(ImportState::Failed)))
}

/// What putting a job back came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// Waiting for a worker again (from the start) once `retry_at` passes.
    Requeued,
    /// Tried `max_attempts` times: failed with the reason given.
    Failed,
    /// No longer the worker's (cancelled, or taken over meanwhile).
    NotHeld,
}

/// Puts the worker's job back after the database failed under it (nothing
/// of it was written: its commit is one transaction): queued again (a
/// commit stays `committing`, without a worker) for a worker to take from
/// the start after `backoff`, or failed with `problem` once tried
/// `max_attempts` times, so a job the database keeps failing ends.
pub async fn release(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    backoff: Duration,
    max_attempts: i32,
    problem: &Value,
) -> StoreResult<Released> {
    let sql = "UPDATE import_jobs SET \
               status = CASE WHEN attempts >= $4 THEN 'failed' \
                             WHEN status = 'checking' THEN 'queued' ELSE status END, \
               problem = CASE WHEN attempts >= $4 THEN $5 ELSE problem END, \
               finished_at = CASE WHEN attempts >= $4 THEN now() END, \
               workbook = CASE WHEN attempts >= $4 THEN NULL ELSE workbook END, \
               retry_at = CASE WHEN attempts >= $4 THEN NULL \
                               ELSE now() + make_interval(secs => $3) END, \
               worker_id = NULL, heartbeat_at = NULL, \
               rows_total = NULL, rows_read = 0, rows_checked = 0, rows_written = 0 \
               WHERE id = $1 AND worker_id = $2 AND status IN ('checking', 'committing') \
               RETURNING status";
    #[derive(QueryableByName)]
    struct Status {
        #[diesel(sql_type = Text)]
        status: String,
    }
    let row = diesel::sql_query(sql)
        .bind::<diesel::sql_types::Uuid, _>(id)
        .bind::<Text, _>(worker)
        .bind::<Double, _>(backoff.as_secs_f64())
        .bind::<Integer, _>(max_attempts)
        .bind::<Jsonb, _>(problem)
        .get_result::<Status>(conn)
        .await
        .optional()?;
    Ok(match row {
        None => Released::NotHeld,
        Some(r) if r.status == ImportState::Failed.as_str() => Released::Failed,
        Some(_) => Released::Requeued,
    })
}

/// What a job ends with: its report, or why it was refused or failed.
#[derive(Debug, Clone, Default)]
pub struct Ending {
    pub report: Option<Value>,
    pub problem: Option<Value>,
}

/// Moves the worker's job from one of `from` to `to` (with the counters);
/// false when it is no longer the worker's or no longer in `from` (it was
/// cancelled meanwhile). A final state (or `checked`) records the ending;
/// a final one drops the workbook's bytes.
pub async fn advance(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    from: &[ImportState],
    to: ImportState,
    counters: Counters,
    ending: &Ending,
) -> StoreResult<bool> {
    // One transaction (a savepoint inside the caller's): a job never reads
    // as ended without its report or problem, whenever the database fails.
    conn.transaction::<_, StoreError, _>(async |conn| {
        advance_within(conn, id, worker, from, to, counters, ending).await
    })
    .await
}

async fn advance_within(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    from: &[ImportState],
    to: ImportState,
    counters: Counters,
    ending: &Ending,
) -> StoreResult<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let target = import_jobs::table
        .filter(import_jobs::id.eq(id))
        .filter(import_jobs::worker_id.eq(worker))
        .filter(import_jobs::status.eq_any(from));
    let ended = to.is_final() || to == ImportState::Checked;
    let n = diesel::update(target)
        .set((
            import_jobs::status.eq(to.as_str()),
            import_jobs::rows_total.eq(counters.total),
            import_jobs::rows_read.eq(counters.read),
            import_jobs::rows_checked.eq(counters.checked),
            import_jobs::rows_written.eq(counters.written),
            import_jobs::heartbeat_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    if n == 0 {
        return Ok(false);
    }
    if ended {
        // A checked dry run keeps its workbook for the commit, nothing else.
        let keep = to == ImportState::Checked;
        let q = import_jobs::table.filter(import_jobs::id.eq(id));
        diesel::update(q)
            .set((
                import_jobs::report.eq(ending.report.clone()),
                import_jobs::problem.eq(ending.problem.clone()),
                import_jobs::worker_id.eq(None::<String>),
                import_jobs::finished_at.eq(Some(Utc::now())),
            ))
            .execute(conn)
            .await?;
        if !keep {
            diesel::update(q)
                .set(import_jobs::workbook.eq(None::<Vec<u8>>))
                .execute(conn)
                .await?;
        }
    }
    Ok(true)
}

/// Inside the commit's transaction: locks the worker's job row, so a
/// cancel waits for the commit (and then finds it committed); false when
/// the job is no longer the worker's to commit.
pub async fn lock_for_commit(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
) -> StoreResult<bool> {
    let found: Option<Uuid> = import_jobs::table
        .filter(import_jobs::id.eq(id))
        .filter(import_jobs::worker_id.eq(worker))
        .filter(import_jobs::status.eq(ImportState::Committing.as_str()))
        .select(import_jobs::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}

/// What a cancel came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    Cancelled,
    /// Too late (or already ended): its state.
    Refused(ImportState),
    NotFound,
}

/// Cancels a job of the institution not yet committed. A commit under way
/// holds the job's row until it ends, so this waits for it and then finds
/// it committed.
pub async fn cancel(
    conn: &mut AsyncPgConnection,
    institution: Uuid,
    id: Uuid,
) -> StoreResult<Cancel> {
    let cancellable: Vec<&str> = ImportState::CANCELLABLE
        .iter()
        .map(|s| s.as_str())
        .collect();
    let n = diesel::update(
        import_jobs::table
            .filter(import_jobs::id.eq(id))
            .filter(import_jobs::institution_id.eq(institution))
            .filter(import_jobs::status.eq_any(cancellable)),
    )
    .set((
        import_jobs::status.eq(ImportState::Cancelled.as_str()),
        import_jobs::finished_at.eq(Some(Utc::now())),
        import_jobs::workbook.eq(None::<Vec<u8>>),
        import_jobs::worker_id.eq(None::<String>),
    ))
    .execute(conn)
    .await?;
    if n == 1 {
        return Ok(Cancel::Cancelled);
    }
    Ok(match get(conn, institution, id).await? {
        Some(job) => Cancel::Refused(job.state()),
        None => Cancel::NotFound,
    })
}

/// How many jobs are under way (for tests and metrics).
pub async fn count_active(conn: &mut AsyncPgConnection) -> StoreResult<i64> {
    Ok(import_jobs::table
        .filter(import_jobs::status.eq_any(active()))
        .count()
        .get_result(conn)
        .await?)
}
