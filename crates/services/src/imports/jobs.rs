//! Imports as jobs. An upload is checked for hostility and for a repeat at
//! once, then stored as a job (`import_jobs`) and answered with its id; a
//! worker of any instance claims it (`FOR UPDATE SKIP LOCKED`), runs the
//! one import driver ([`super::run`]) on it and beats a heartbeat carrying
//! its progress. A job whose heartbeat stopped (its server restarted
//! mid-check) is claimed again and starts over, or is failed after
//! [`JobSettings::max_attempts`] tries; it is never half written, because
//! its commit is one transaction that also marks it committed.
//!
//! A job the database fails under (the server stopped, a connection cut, a
//! statement or lock wait over its bound, too many clients) is put back
//! as soon as the database answers again and resumed from the start after
//! [`JobSettings::retry_backoff`], failed with the reason
//! (`database_unavailable`) after [`JobSettings::max_attempts`] tries; a
//! request's own job is failed at once with that reason, its client
//! answered 503. Never stuck `checking` or `committing`: a job that could
//! not be put back (the database away longer) is taken over once its
//! heartbeat is stale.
//!
//! A request may also run its job itself (`wait=true`, and always for
//! users and catalog items, whose files are small and whose commit answers
//! one-time passwords that are stored nowhere): the same job row, the same
//! driver, the answer in the response.
//!
//! Limits: [`JobSettings::per_institution`] and [`JobSettings::total`]
//! imports under way (queued, checking, committing) in the whole system,
//! and [`JobSettings::workers`] running at once in this server (its
//! workers and the requests that run their own job share those permits).
//! Over them, 429 `imports_busy` with `Retry-After`.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sintra_domain::access::{Actor, Caller, EntityCode};
use sintra_domain::error_code::ErrorCode;
use sintra_domain::forms::FormKey;
use sintra_domain::i18n::{Lang, Message};
use sintra_domain::import_jobs::ImportState;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::import_jobs::{
    self as job_rows, Admission, Bounds, Cancel, CommitRequest, Counters, Ending, Job, NewJob,
    Released,
};
use sintra_persistence::{db, Pool, StoreError};
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::records::RecordRows;
use super::{limits_for, run, ImportReport, ImportTarget, Upload};
use crate::error::{ServiceError, ServiceResult};

/// How imports run in this server.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Imports this server runs at once (its workers, and the requests
    /// that run their own job).
    pub workers: usize,
    /// Imports under way per institution, in the whole system.
    pub per_institution: i64,
    /// Imports under way in the whole system.
    pub total: i64,
    /// How often a running job proves its worker alive.
    pub heartbeat: Duration,
    /// A heartbeat older than this means the worker died.
    pub stale_after: Duration,
    /// Tries before a job whose worker keeps dying is failed.
    pub max_attempts: i32,
    /// How often an idle worker looks for a job.
    pub poll: Duration,
    /// What a 429 asks the client to wait.
    pub retry_after_secs: u64,
    /// How long a job put back after a database failure waits before a
    /// worker takes it again.
    pub retry_backoff: Duration,
}

impl Default for JobSettings {
    fn default() -> JobSettings {
        JobSettings {
            workers: 2,
            per_institution: 2,
            total: 16,
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_secs(30),
            max_attempts: 3,
            poll: Duration::from_millis(500),
            retry_after_secs: 30,
            retry_backoff: Duration::from_secs(5),
        }
    }
}

/// This server's import runner: its settings, its permits and its name
/// among the instances (workers are `<instance>-<n>`).
pub struct Imports {
    settings: JobSettings,
    permits: Arc<Semaphore>,
    instance: String,
}

impl Imports {
    pub fn new(settings: JobSettings) -> Imports {
        Imports {
            permits: Arc::new(Semaphore::new(settings.workers.max(1))),
            instance: format!("sintra-{}", Uuid::new_v4().simple()),
            settings,
        }
    }

    pub fn settings(&self) -> &JobSettings {
        &self.settings
    }

    /// One of this server's permits, for a request that runs its job:
    /// idle workers hold one for the moment they look for a job, so a
    /// short wait tells them apart from imports running.
    async fn permit(&self) -> ServiceResult<tokio::sync::OwnedSemaphorePermit> {
        let wait = Duration::from_secs(5);
        match tokio::time::timeout(wait, self.permits.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(self.busy(Busy::System)),
        }
    }

    fn bounds(&self) -> Bounds {
        Bounds {
            per_institution: self.settings.per_institution,
            total: self.settings.total,
        }
    }

    fn busy(&self, why: Busy) -> ServiceError {
        let secs = self.settings.retry_after_secs;
        let detail = match why {
            Busy::Institution => Message::new(
                format!(
                    "Su institución ya tiene {} importaciones en curso; espere a que terminen (reintente en {secs} segundos).",
                    self.settings.per_institution
                ),
                format!(
                    "Your institution already has {} imports under way; wait for them to end (retry in {secs} seconds).",
                    self.settings.per_institution
                ),
            ),
            Busy::System => Message::new(
                format!("El sistema está procesando muchas importaciones; reintente en {secs} segundos."),
                format!("The system is processing many imports; retry in {secs} seconds."),
            ),
        };
        ServiceError::Busy {
            code: ErrorCode::ImportsBusy,
            detail,
            retry_after_secs: secs,
        }
    }
}

enum Busy {
    Institution,
    System,
}

/// The rows a job has gone through, counted by its driver and target
/// (shared with the blocking threads that check rows), and whether it must
/// stop (cancelled, or taken over by another worker).
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicI64,
    read: AtomicI64,
    checked: AtomicI64,
    written: AtomicI64,
    stop: AtomicBool,
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Progress {
    pub fn new() -> Progress {
        Progress {
            total: AtomicI64::new(-1),
            ..Progress::default()
        }
    }

    /// The rows the file holds (as its sheet declares them, then as read).
    pub fn set_total(&self, rows: Option<u64>) {
        let rows = rows.map_or(-1, |r| i64::try_from(r).unwrap_or(i64::MAX));
        self.total.store(rows, Ordering::Relaxed);
    }

    pub fn add_read(&self, rows: usize) {
        self.read.fetch_add(count(rows), Ordering::Relaxed);
    }

    pub fn add_checked(&self, rows: usize) {
        self.checked.fetch_add(count(rows), Ordering::Relaxed);
    }

    pub fn set_checked(&self, rows: usize) {
        self.checked.store(count(rows), Ordering::Relaxed);
    }

    pub fn add_written(&self, rows: usize) {
        self.written.fetch_add(count(rows), Ordering::Relaxed);
    }

    pub fn set_written(&self, rows: usize) {
        self.written.store(count(rows), Ordering::Relaxed);
    }

    pub fn counters(&self) -> Counters {
        let total = self.total.load(Ordering::Relaxed);
        Counters {
            total: (total >= 0).then_some(total),
            read: self.read.load(Ordering::Relaxed),
            checked: self.checked.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
        }
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A job in the hands of a worker (or of the request that runs it).
pub struct JobHandle {
    pub id: Uuid,
    pub worker: String,
    pub progress: Arc<Progress>,
    /// A worker's job, put back for another try when the database fails
    /// under it; a request's own job is failed instead (its client was
    /// answered 503 and uploads again).
    pub resumable: bool,
}

impl JobHandle {
    /// Err once the job must stop: cancelled, or no longer this worker's.
    pub fn live(&self) -> ServiceResult<()> {
        if self.progress.stopped() {
            Err(no_longer_running())
        } else {
            Ok(())
        }
    }
}

/// A job stopped by a cancel (or taken from a worker that stalled).
pub fn no_longer_running() -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::InvalidImportTransition,
        detail: Message::new(
            "La importación se canceló (o la retomó otro proceso) antes de terminar; no se guardó ninguna fila.",
            "The import was cancelled (or taken over by another process) before it ended; no row was saved.",
        ),
    }
}

/// What an upload (or a commit request) came to.
pub enum Submitted {
    /// A job for the workers: poll it.
    Queued(Uuid),
    /// Run by the request itself: its outcome.
    Done(Uuid, ServiceResult<ImportReport>),
}

/// Whether a form's imports always run in their request: users (the
/// commit's answer carries one-time passwords, stored nowhere) and catalog
/// items (small files). Their jobs are not run by workers.
pub fn runs_in_request(form: FormKey) -> bool {
    matches!(form, FormKey::User | FormKey::CatalogItem)
}

/// Accepts an upload: the hostile-file checks and the refused repeat at
/// once, then a job within the limits, run by this request (`inline`) or
/// left to the workers.
pub async fn submit<T: ImportTarget>(
    imports: &Imports,
    pool: &Pool,
    caller: &Caller,
    upload: Upload,
    target: T,
    inline: bool,
) -> ServiceResult<Submitted> {
    upload.preflight(pool, caller).await?;
    let inline = inline || runs_in_request(upload.form);
    let permit = if inline {
        Some(imports.permit().await?)
    } else {
        None
    };
    let worker = format!("{}-request-{}", imports.instance, upload.id.simple());
    let now = Utc::now();
    let status = if inline {
        ImportState::Checking
    } else {
        ImportState::Queued
    };
    let new = NewJob {
        id: upload.id,
        form: upload.form.as_str().into(),
        institution_id: caller.actor.institution_id,
        entity_code: caller.actor.entity_code.into(),
        created_by: caller.actor.user_id,
        actor_username: caller.actor.username.clone(),
        actor_role: caller.actor.role.as_str().into(),
        token_id: caller.actor.token_id,
        request_id: caller.request_id.clone(),
        ip: caller.ip.clone(),
        lang: lang_str(caller.lang).into(),
        dry_run: upload.dry_run,
        status: status.as_str().into(),
        file_sha256: upload.sha.clone(),
        file_bytes: count(upload.bytes.len()),
        workbook: Some(upload.bytes.to_vec()),
        worker_id: inline.then(|| worker.clone()),
        attempts: i32::from(inline),
        heartbeat_at: inline.then_some(now),
        started_at: inline.then_some(now),
    };
    let mut conn = db::conn(pool).await?;
    match job_rows::admit(&mut conn, &new, imports.bounds()).await? {
        Admission::Admitted => {}
        Admission::InstitutionBusy => return Err(imports.busy(Busy::Institution)),
        Admission::SystemBusy => return Err(imports.busy(Busy::System)),
    }
    drop(conn);
    let id = upload.id;
    if !inline {
        return Ok(Submitted::Queued(id));
    }
    let handle = JobHandle {
        id,
        worker,
        progress: Arc::new(Progress::new()),
        resumable: false,
    };
    let outcome = execute(imports, pool, caller, upload, target, &handle).await;
    drop(permit);
    Ok(Submitted::Done(id, outcome))
}

/// Runs a job its worker holds: the driver, with a heartbeat beside it;
/// an outcome other than a report or a refusal already recorded ends the
/// job as rejected (the file's fault) or failed (the server's).
async fn execute<T: ImportTarget>(
    imports: &Imports,
    pool: &Pool,
    caller: &Caller,
    upload: Upload,
    target: T,
    job: &JobHandle,
) -> ServiceResult<ImportReport> {
    let beat = tokio::spawn(heartbeat(
        pool.clone(),
        job.id,
        job.worker.clone(),
        job.progress.clone(),
        imports.settings.heartbeat,
    ));
    let outcome = run(pool, caller, upload, target, job).await;
    beat.abort();
    match &outcome {
        Err(ServiceError::Store(StoreError::Unavailable(reason))) if job.resumable => {
            tracing::warn!(job = %job.id, %reason, "the database failed under an import job; it is put back");
            put_back(imports, pool, job).await;
        }
        Err(ServiceError::Store(StoreError::Unavailable(reason))) => {
            // The request answers 503 at once; the job's end is recorded
            // as soon as the database answers again.
            tracing::warn!(job = %job.id, %reason, "the database failed under an import job; it is failed");
            tokio::spawn(end_when_possible(
                pool.clone(),
                job.id,
                job.worker.clone(),
                job.progress.counters(),
                database_problem(),
                imports.settings.stale_after,
                imports.settings.poll,
            ));
        }
        Err(e) => {
            if let Some((state, problem)) = ending_of(e) {
                end(pool, job, state, problem).await;
            }
        }
        Ok(_) => {}
    }
    outcome
}

/// Puts a worker's job back after the database failed under it, as soon
/// as the database answers again: another try from the start after the
/// backoff, or failed once tried too often. Gives up after `stale_after`
/// (its heartbeat has stopped: a worker takes it over then, or fails it).
async fn put_back(imports: &Imports, pool: &Pool, job: &JobHandle) {
    let s = &imports.settings;
    let started = std::time::Instant::now();
    loop {
        let released = match db::conn(pool).await {
            Ok(mut conn) => {
                job_rows::release(
                    &mut conn,
                    job.id,
                    &job.worker,
                    s.retry_backoff,
                    s.max_attempts,
                    &database_problem(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        match released {
            Ok(Released::Requeued) => {
                tracing::info!(job = %job.id, "import job put back for another try");
                return;
            }
            Ok(Released::Failed) => {
                tracing::warn!(job = %job.id, "import job failed: the database failed on every try");
                return;
            }
            Ok(Released::NotHeld) => return,
            Err(_) if started.elapsed() < s.stale_after => tokio::time::sleep(s.poll).await,
            Err(e) => {
                tracing::warn!(error = %e, job = %job.id, "could not put an import job back; a worker takes it over");
                return;
            }
        }
    }
}

/// Records a request's job as failed on a database failure, retrying
/// while the database is away (for `stale_after` at most).
async fn end_when_possible(
    pool: Pool,
    id: Uuid,
    worker: String,
    counters: Counters,
    problem: Value,
    stale_after: Duration,
    every: Duration,
) {
    let started = std::time::Instant::now();
    let ending = Ending {
        report: None,
        problem: Some(problem),
    };
    let from = [ImportState::Checking, ImportState::Committing];
    loop {
        let result = match db::conn(&pool).await {
            Ok(mut conn) => {
                job_rows::advance(
                    &mut conn,
                    id,
                    &worker,
                    &from,
                    ImportState::Failed,
                    counters,
                    &ending,
                )
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => return,
            Err(_) if started.elapsed() < stale_after => tokio::time::sleep(every).await,
            Err(e) => {
                tracing::warn!(error = %e, job = %id, "could not record the end of an import job");
                return;
            }
        }
    }
}

/// Keeps the job's heartbeat and progress fresh until aborted; tells the
/// driver to stop when the job was cancelled or taken over.
async fn heartbeat(pool: Pool, id: Uuid, worker: String, progress: Arc<Progress>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Ok(mut conn) = db::conn(&pool).await else {
            continue;
        };
        match job_rows::heartbeat(&mut conn, id, &worker, progress.counters()).await {
            Ok(Some(state)) if state.is_active() => {}
            Ok(_) => {
                progress.stop();
                return;
            }
            Err(e) => tracing::warn!(error = %e, job = %id, "import heartbeat failed"),
        }
    }
}

/// How an error ends its job: none for a refusal the driver already
/// recorded (a commit with errors) or a job no longer running.
fn ending_of(e: &ServiceError) -> Option<(ImportState, Value)> {
    let problem = |code: ErrorCode, status: u16, detail: &Message| json!({"code": code.as_str(), "status": status, "es": detail.es, "en": detail.en});
    match e {
        ServiceError::ImportRejected { .. } => None,
        ServiceError::Conflict {
            code: ErrorCode::InvalidImportTransition,
            ..
        } => None,
        ServiceError::Refused {
            status,
            code,
            detail,
        } => Some((ImportState::Rejected, problem(*code, *status, detail))),
        ServiceError::Conflict { code, detail } => {
            Some((ImportState::Rejected, problem(*code, 409, detail)))
        }
        ServiceError::Validation(_) => Some((
            ImportState::Rejected,
            problem(
                ErrorCode::ValidationFailed,
                422,
                &Message::new(
                    "El archivo no es válido para este formulario.",
                    "The file is not valid for this form.",
                ),
            ),
        )),
        other => {
            tracing::error!(error = %other, "import job failed");
            Some((ImportState::Failed, failed_problem()))
        }
    }
}

fn failed_problem() -> Value {
    json!({
        "code": ErrorCode::InternalError.as_str(),
        "status": 500,
        "es": "La importación falló por un error del servidor; no se guardó ninguna fila. Vuelva a subir el archivo.",
        "en": "The import failed on a server error; no row was saved. Upload the file again.",
    })
}

/// Why a job failed when the database failed under it (every try, for a
/// worker's job; at once, for a request's own, whose client was answered
/// 503): the client's to upload again, nothing was written.
fn database_problem() -> Value {
    json!({
        "code": ErrorCode::DatabaseUnavailable.as_str(),
        "status": 503,
        "es": "La importación se detuvo porque la base de datos no estuvo disponible; no se guardó ninguna fila. Vuelva a subir el archivo en unos minutos.",
        "en": "The import stopped because the database was unavailable; no row was saved. Upload the file again in a few minutes.",
    })
}

fn interrupted_problem() -> Value {
    json!({
        "code": ErrorCode::InternalError.as_str(),
        "status": 500,
        "es": "La importación se interrumpió (el servidor se reinició) y no puede retomarse; no se guardó ninguna fila. Vuelva a subir el archivo.",
        "en": "The import was interrupted (the server restarted) and cannot be resumed; no row was saved. Upload the file again.",
    })
}

async fn end(pool: &Pool, job: &JobHandle, state: ImportState, problem: Value) {
    let ending = Ending {
        report: None,
        problem: Some(problem),
    };
    let from = [ImportState::Checking, ImportState::Committing];
    let counters = job.progress.counters();
    let result = match db::conn(pool).await {
        Ok(mut conn) => {
            job_rows::advance(
                &mut conn,
                job.id,
                &job.worker,
                &from,
                state,
                counters,
                &ending,
            )
            .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        // The heartbeat stops with the job; a worker takes it over later.
        tracing::warn!(error = %e, job = %job.id, "could not record the end of an import job");
    }
}

/// Starts this server's workers (`settings.workers` of them; none with
/// 0, for a server that only answers requests): each claims a job when one
/// of the server's permits is free, runs it, and looks again every
/// `settings.poll` when idle.
pub fn spawn_workers(imports: Arc<Imports>, pool: Pool) -> Vec<tokio::task::JoinHandle<()>> {
    (0..imports.settings.workers)
        .map(|n| tokio::spawn(work(imports.clone(), pool.clone(), n)))
        .collect()
}

async fn work(imports: Arc<Imports>, pool: Pool, n: usize) {
    let worker = format!("{}-{n}", imports.instance);
    loop {
        let Ok(permit) = imports.permits.clone().acquire_owned().await else {
            return;
        };
        let claimed = claim(&imports, &pool, &worker).await;
        match claimed {
            Ok(Some(job)) => {
                run_claimed(&imports, &pool, &worker, job).await;
                drop(permit);
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "import worker could not look for jobs"),
        }
        drop(permit);
        tokio::time::sleep(imports.settings.poll).await;
    }
}

async fn claim(imports: &Imports, pool: &Pool, worker: &str) -> ServiceResult<Option<Job>> {
    let s = &imports.settings;
    let mut conn = db::conn(pool).await?;
    let failed = job_rows::fail_abandoned(
        &mut conn,
        s.stale_after,
        s.max_attempts,
        &interrupted_problem(),
    )
    .await?;
    if failed > 0 {
        tracing::warn!(
            count = failed,
            "import jobs failed after their workers died repeatedly"
        );
    }
    Ok(job_rows::claim(&mut conn, worker, s.stale_after, s.max_attempts).await?)
}

/// Runs a claimed job as its uploader, from the stored workbook.
async fn run_claimed(imports: &Imports, pool: &Pool, worker: &str, job: Job) {
    let handle = JobHandle {
        id: job.id,
        worker: worker.to_string(),
        progress: Arc::new(Progress::new()),
        resumable: true,
    };
    let bytes = match db::conn(pool).await {
        Ok(mut conn) => job_rows::workbook(&mut conn, job.id).await.ok().flatten(),
        Err(_) => None,
    };
    let form = job.form.parse::<FormKey>().ok();
    let (Some(bytes), Some(form), Some(caller)) = (bytes, form, caller_of(&job)) else {
        end(pool, &handle, ImportState::Failed, interrupted_problem()).await;
        return;
    };
    if runs_in_request(form) {
        // Only a request can answer its one-time passwords: a job of these
        // forms left behind by a dead server is not resumed.
        end(pool, &handle, ImportState::Failed, interrupted_problem()).await;
        return;
    }
    tracing::info!(job = %job.id, form = form.as_str(), attempt = job.attempts, "import job claimed");
    let upload = Upload {
        id: job.id,
        form,
        spec: form.spec(),
        dry_run: job.dry_run,
        sha: job.file_sha256.clone(),
        bytes: bytes.into(),
        limits: limits_for(form),
    };
    let outcome = execute(
        imports,
        pool,
        &caller,
        upload,
        RecordRows::new(form).with_pool(pool.clone()),
        &handle,
    )
    .await;
    if let Err(e) = outcome {
        tracing::info!(job = %job.id, error = %e, "import job ended without a commit");
    }
}

/// The uploader of a job, as the worker acts for it.
fn caller_of(job: &Job) -> Option<Caller> {
    Some(Caller {
        actor: Actor {
            user_id: job.created_by,
            username: job.actor_username.clone(),
            role: job.actor_role,
            institution_id: job.institution_id,
            entity_code: EntityCode::parse(&job.entity_code).ok()?,
            token_id: job.token_id,
        },
        request_id: job.request_id.clone(),
        ip: job.ip.clone(),
        lang: if job.lang == "en" { Lang::En } else { Lang::Es },
    })
}

fn lang_str(lang: Lang) -> &'static str {
    match lang {
        Lang::Es => "es",
        Lang::En => "en",
    }
}

/// A job as its institution sees it.
#[derive(Debug, Clone)]
pub struct JobView {
    pub id: Uuid,
    pub form: String,
    pub state: ImportState,
    pub dry_run: bool,
    pub file_sha256: String,
    pub file_bytes: i64,
    pub rows_total: Option<i64>,
    pub rows_read: i64,
    pub rows_checked: i64,
    pub rows_written: i64,
    pub percent: u8,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub elapsed_seconds: f64,
    pub attempts: i32,
    pub report: Option<Value>,
    /// Why it was refused or failed: (code, message in the caller's language).
    pub problem: Option<(String, String)>,
}

impl JobView {
    fn of(job: Job, lang: Lang) -> JobView {
        let state = job.state();
        let percent = percent(state, job.dry_run, &job);
        let start = job.started_at.unwrap_or(job.created_at);
        let elapsed = match (job.started_at, job.finished_at) {
            (None, _) => 0.0,
            (Some(_), Some(end)) => (end - start).num_milliseconds() as f64 / 1000.0,
            (Some(_), None) => (Utc::now() - start).num_milliseconds() as f64 / 1000.0,
        };
        let problem = job.problem.as_ref().map(|p| {
            let key = if lang == Lang::En { "en" } else { "es" };
            (
                p["code"].as_str().unwrap_or("internal_error").to_string(),
                p[key].as_str().unwrap_or_default().to_string(),
            )
        });
        JobView {
            id: job.id,
            form: job.form,
            state,
            dry_run: job.dry_run,
            file_sha256: job.file_sha256,
            file_bytes: job.file_bytes,
            rows_total: job.rows_total,
            rows_read: job.rows_read,
            rows_checked: job.rows_checked,
            rows_written: job.rows_written,
            percent,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            elapsed_seconds: elapsed.max(0.0),
            attempts: job.attempts,
            report: job.report,
            problem,
        }
    }
}

/// How far a job is: reading, checking and (for a commit) writing each
/// count for a share of the rows; 100 once it has ended or was checked.
fn percent(state: ImportState, dry_run: bool, job: &Job) -> u8 {
    if state.is_final() || state == ImportState::Checked {
        return 100;
    }
    let Some(total) = job.rows_total.filter(|t| *t > 0) else {
        return 0;
    };
    let steps = if dry_run { 2 } else { 3 };
    let done = job.rows_read.min(total)
        + job.rows_checked.min(total)
        + if dry_run {
            0
        } else {
            job.rows_written.min(total)
        };
    let p = done.saturating_mul(100) / (steps * total);
    u8::try_from(p.clamp(0, 99)).unwrap_or(99)
}

/// A job of the caller's institution (another's answers 404).
pub async fn read(pool: &Pool, caller: &Caller, id: Uuid) -> ServiceResult<JobView> {
    let mut conn = db::conn(pool).await?;
    let job = job_rows::get(&mut conn, caller.actor.institution_id, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(JobView::of(job, caller.lang))
}

/// The caller's institution's jobs, newest first.
pub async fn list(
    pool: &Pool,
    caller: &Caller,
    after: Option<Uuid>,
    limit: i64,
) -> ServiceResult<Vec<JobView>> {
    let mut conn = db::conn(pool).await?;
    let jobs = job_rows::list(&mut conn, caller.actor.institution_id, after, limit).await?;
    Ok(jobs
        .into_iter()
        .map(|j| JobView::of(j, caller.lang))
        .collect())
}

/// Cancels a job of the caller's institution not yet committed (audited);
/// 409 `invalid_import_transition` once committed or ended.
pub async fn cancel(pool: &Pool, caller: &Caller, id: Uuid) -> ServiceResult<JobView> {
    let mut conn = db::conn(pool).await?;
    let institution = caller.actor.institution_id;
    match job_rows::cancel(&mut conn, institution, id).await? {
        Cancel::Cancelled => {}
        Cancel::NotFound => return Err(ServiceError::NotFound),
        Cancel::Refused(state) => return Err(invalid_transition(state, "cancel")),
    }
    let job = job_rows::get(&mut conn, institution, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let ctx = AuditContext::for_caller(caller);
    let entry = AuditEntry::modification(&ctx, AuditAction::ImportCancel, &job.form)
        .resource(id)
        .details(json!({"file_sha256": job.file_sha256}));
    audit::append(&mut conn, &[entry]).await?;
    Ok(JobView::of(job, caller.lang))
}

/// Commits a checked dry run of the caller's institution: a worker (or
/// this request, `inline`) checks it again against what is stored now and
/// writes it in one transaction. `may_import` says whether the caller may
/// import the job's form.
pub async fn commit(
    imports: &Imports,
    pool: &Pool,
    caller: &Caller,
    id: Uuid,
    inline: bool,
    may_import: impl Fn(FormKey) -> bool,
) -> ServiceResult<Submitted> {
    let institution = caller.actor.institution_id;
    let mut conn = db::conn(pool).await?;
    let job = job_rows::get(&mut conn, institution, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let form = job
        .form
        .parse::<FormKey>()
        .map_err(|_| ServiceError::NotFound)?;
    if !may_import(form) {
        return Err(ServiceError::Forbidden { detail: None });
    }
    if form == FormKey::User {
        // New accounts' one-time passwords are answered only by the
        // request that commits them: the upload's own.
        return Err(ServiceError::Conflict {
            code: ErrorCode::InvalidImportTransition,
            detail: Message::new(
                "Un libro de usuarios se confirma subiéndolo de nuevo con dry_run=false: la respuesta lleva las contraseñas de un solo uso.",
                "A workbook of users is committed by uploading it again with dry_run=false: the answer carries the one-time passwords.",
            ),
        });
    }
    let inline = inline || runs_in_request(form);
    let permit = if inline {
        Some(imports.permit().await?)
    } else {
        None
    };
    let worker = format!("{}-request-{}", imports.instance, Uuid::now_v7().simple());
    let claim = inline.then_some(worker.as_str());
    match job_rows::request_commit(&mut conn, institution, id, claim, imports.bounds()).await? {
        CommitRequest::Accepted => {}
        CommitRequest::NotFound => return Err(ServiceError::NotFound),
        CommitRequest::NotCheckable(state) => return Err(invalid_transition(state, "commit")),
        CommitRequest::Busy(Admission::InstitutionBusy) => {
            return Err(imports.busy(Busy::Institution))
        }
        CommitRequest::Busy(_) => return Err(imports.busy(Busy::System)),
    }
    if !inline {
        return Ok(Submitted::Queued(id));
    }
    let bytes = job_rows::workbook(&mut conn, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    drop(conn);
    let upload = Upload {
        id,
        form,
        spec: form.spec(),
        dry_run: false,
        sha: job.file_sha256.clone(),
        bytes: bytes.into(),
        limits: limits_for(form),
    };
    let handle = JobHandle {
        id,
        worker,
        progress: Arc::new(Progress::new()),
        resumable: false,
    };
    let outcome = match form {
        FormKey::CatalogItem => {
            execute(
                imports,
                pool,
                caller,
                upload,
                super::catalog_items::CatalogItemRows,
                &handle,
            )
            .await
        }
        _ => {
            execute(
                imports,
                pool,
                caller,
                upload,
                RecordRows::new(form).with_pool(pool.clone()),
                &handle,
            )
            .await
        }
    };
    drop(permit);
    Ok(Submitted::Done(id, outcome))
}

fn invalid_transition(state: ImportState, asked: &str) -> ServiceError {
    let (es, en) = match asked {
        "commit" => (
            format!("Solo una revisión (dry run) sin errores, en estado «checked», puede confirmarse; esta importación está en «{state}»."),
            format!("Only a dry run without errors, in state \"checked\", can be committed; this import is \"{state}\"."),
        ),
        _ => (
            format!("Esta importación ya no puede cancelarse: está en «{state}»."),
            format!("This import can no longer be cancelled: it is \"{state}\"."),
        ),
    };
    ServiceError::Conflict {
        code: ErrorCode::InvalidImportTransition,
        detail: Message::new(es, en),
    }
}
