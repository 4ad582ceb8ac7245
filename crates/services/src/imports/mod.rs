//! Bulk import of a filled workbook, for every form: one driver ([`run`])
//! takes an upload through the same steps whatever its form (hostile-file
//! checks, a refused repeat, the rows checked, the report, the annotated
//! workbook, the all-or-nothing commit and its audit), and an
//! [`ImportTarget`] says what checking and storing a row means for its
//! form: records (`records.rs`), user accounts (`users.rs`) or catalog
//! items (`catalog_items.rs`).

pub mod catalog_items;
pub mod jobs;
pub mod records;
pub mod report;
pub mod users;

use sintra_domain::error_code::ErrorCode;
use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use diesel_async::{AsyncConnection, AsyncPgConnection, TransactionManager};
use serde_json::{json, Map, Value};
use sintra_domain::access::Caller;
use sintra_domain::forms::{FormKey, FormSpec};
use sintra_domain::i18n::{Lang, Message};
use sintra_domain::import_jobs::ImportState;
use sintra_domain::validation::FieldError;
use sintra_excel::{
    annotate, read_rows_chunked, sha256_hex, CellError, ImportLimits, ImportRow, ImportSheet,
};
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::import_jobs::{self as job_rows, Ending};
use sintra_persistence::imports::{self, ImportStatus, NewImport};
use sintra_persistence::{db, Pool, StoreError};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
pub use jobs::{JobHandle, Progress};
pub use report::{ImportReport, ReportError};

/// Rows of a workbook of user accounts: each new account costs a password
/// hash (about 50 ms of one core), so a file of them is kept to what an
/// answer can wait for.
pub const MAX_USER_ROWS: u32 = 1_000;

/// Rows of a workbook of catalog items: more than any catalog has (the
/// municipios are 2,478).
pub const MAX_CATALOG_ITEM_ROWS: u32 = 10_000;

/// What an upload of `form` may be.
pub fn limits_for(form: FormKey) -> ImportLimits {
    let max_rows = match form {
        FormKey::User => MAX_USER_ROWS,
        FormKey::CatalogItem => MAX_CATALOG_ITEM_ROWS,
        _ => ImportLimits::default().max_rows,
    };
    ImportLimits {
        max_rows,
        ..ImportLimits::default()
    }
}

/// What checking the rows of a sheet comes to.
pub struct RowsChecked<P> {
    /// The valid rows, each as what committing it does.
    pub planned: Vec<P>,
    /// The errors of the other rows, by Excel row and column (any order).
    pub errors: Vec<CellError>,
    /// Warnings that do not stop a commit (possible duplicates).
    pub warnings: Vec<Value>,
}

/// What importing a workbook means for one form: how its rows are checked
/// and how the valid ones are stored. The driver ([`run`]) does the rest.
pub trait ImportTarget: Send {
    /// A valid row, as what committing it does.
    type Planned: Send;

    /// Where the target counts the rows it checks and writes, for the
    /// job's progress (targets of small files may leave the driver to
    /// count them as a whole).
    fn watch(&mut self, _progress: Arc<Progress>) {}

    /// The form's spec with the labels in force, which the rows are
    /// checked by (their messages name fields by its labels). Targets that
    /// validate by the built-in spec ignore it.
    fn use_spec(&mut self, _spec: &'static FormSpec) {}

    /// Rows handed to [`ImportTarget::check`] at a time. By default the
    /// whole sheet (small files whose checks look at every row together).
    fn chunk_rows(&self) -> usize {
        usize::MAX
    }

    /// Whether a commit writes each chunk as soon as it is checked, inside
    /// the import's one transaction (rolled back when any row has an
    /// error): memory then holds a chunk of rows, not the file.
    fn writes_by_chunk(&self) -> bool {
        false
    }

    /// Checks the rows of the sheet (a chunk of them, in sheet order) as
    /// the API checks one submission; the target keeps what it needs
    /// across chunks (keys already seen, people of the file).
    fn check(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        sheet: &mut ImportSheet,
    ) -> impl Future<Output = ServiceResult<RowsChecked<Self::Planned>>>;

    /// Work a commit needs done before its transaction opens (no
    /// connection is held meanwhile): password hashes, for instance.
    fn before_commit(
        &mut self,
        _planned: &mut [Self::Planned],
    ) -> impl Future<Output = ServiceResult<()>> {
        std::future::ready(Ok(()))
    }

    /// Stores the valid rows inside the commit's transaction; returns how
    /// many were created and how many updated.
    /// (Its future is `Send`: it runs inside diesel-async's transaction.)
    fn store(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        planned: Vec<Self::Planned>,
    ) -> impl Future<Output = ServiceResult<(usize, usize)>> + Send;

    /// Told before the first chunk when each chunk will be stored right
    /// after its check (a commit by chunks): work a check does only for the
    /// report may then be done while the chunk is stored, and its findings
    /// handed over by [`ImportTarget::take_store_warnings`].
    fn storing_by_chunks(&mut self) {}

    /// The warnings found while storing the last chunk, handed over once.
    fn take_store_warnings(&mut self) -> Vec<Value> {
        vec![]
    }

    /// Inside the commit's transaction, after the last chunk is stored:
    /// what needs every row stored (pairs of people of the same file).
    fn after_store(
        &mut self,
        _conn: &mut AsyncPgConnection,
    ) -> impl Future<Output = ServiceResult<()>> {
        std::future::ready(Ok(()))
    }

    /// Adds to the committed report what only its answer carries (never
    /// stored): one-time passwords, for instance.
    fn complete(self, _report: &mut ImportReport)
    where
        Self: Sized,
    {
    }
}

/// One uploaded workbook on its way through an import.
pub struct Upload {
    pub id: Uuid,
    pub form: FormKey,
    /// The form's spec with the labels in force, read when the import runs
    /// ([`run`]): the headers it answers to, and its messages.
    pub spec: &'static FormSpec,
    pub dry_run: bool,
    pub sha: String,
    /// Shared with the blocking threads that read it.
    pub bytes: Arc<[u8]>,
    pub limits: ImportLimits,
}

impl Upload {
    /// An upload of `form` read whole from its sender.
    pub fn new(form: FormKey, dry_run: bool, bytes: Vec<u8>, limits: ImportLimits) -> Upload {
        Upload {
            id: Uuid::now_v7(),
            form,
            spec: form.spec(),
            dry_run,
            sha: sha256_hex(&bytes),
            bytes: bytes.into(),
            limits,
        }
    }

    /// The hostile-file checks alone (no parsing), and the refused repeat:
    /// what an upload answers at once, before it becomes a job.
    pub async fn preflight(&self, pool: &Pool, caller: &Caller) -> ServiceResult<()> {
        let mut conn = db::conn(pool).await?;
        self.refuse_repeat(&mut conn, caller).await?;
        drop(conn);
        let (bytes, limits) = (self.bytes.clone(), self.limits);
        tokio::task::spawn_blocking(move || sintra_excel::guard::check(&bytes, &limits))
            .await?
            .map_err(|e| ServiceError::Refused {
                status: e.status(),
                code: e.code(),
                detail: e.message(),
            })
    }

    async fn refuse_repeat(
        &self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
    ) -> ServiceResult<()> {
        let form = self.form;
        let institution = caller.actor.institution_id;
        if imports::already_committed(conn, institution, form, &self.sha).await? {
            return Err(repeated_import());
        }
        Ok(())
    }

    /// The workbook given back with `errors` marked (sorted by row); none
    /// without errors, or when it cannot be re-read.
    async fn annotated(
        &self,
        spec: &'static FormSpec,
        errors: &[CellError],
        lang: Lang,
    ) -> ServiceResult<Option<Vec<u8>>> {
        if errors.is_empty() {
            return Ok(None);
        }
        let (b, e, limits) = (self.bytes.clone(), errors.to_vec(), self.limits);
        Ok(
            tokio::task::spawn_blocking(move || annotate(&b, spec, &e, lang, &limits))
                .await?
                .ok(),
        )
    }

    fn stored(
        &self,
        caller: &Caller,
        status: ImportStatus,
        report: &ImportReport,
        workbook: Option<Vec<u8>>,
    ) -> NewImport {
        NewImport {
            id: self.id,
            institution_id: caller.actor.institution_id,
            form: self.form.as_str().into(),
            file_sha256: self.sha.clone(),
            status: status.as_str().into(),
            report: report.to_json(),
            annotated: workbook,
            created_by: caller.actor.user_id,
        }
    }

    /// Stores a dry run, or a commit refused for its errors, with its
    /// report and annotated workbook, audits the check and ends the job
    /// (`checked`, or `rejected` with errors), in one transaction. The dry
    /// run's answer is the report; the refused commit's, an error carrying
    /// it.
    async fn finish_unwritten(
        &self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        report: ImportReport,
        workbook: Option<Vec<u8>>,
        job: &JobHandle,
    ) -> ServiceResult<ImportReport> {
        let status = if self.dry_run {
            ImportStatus::DryRun
        } else {
            ImportStatus::Rejected
        };
        let state = if report.errors.is_empty() && self.dry_run {
            ImportState::Checked
        } else {
            ImportState::Rejected
        };
        let stored = self.stored(caller, status, &report, workbook);
        let report = conn
            .transaction::<_, ServiceError, _>(async |conn| {
                imports::insert(conn, &stored).await?;
                let details = json!({
                    "rows_read": report.rows_read,
                    "rows_valid": report.rows_valid,
                    "errors": report.errors.len(),
                });
                let ctx = AuditContext::for_caller(caller);
                let entry = AuditEntry::access(&ctx, AuditAction::ImportCheck, self.form.as_str())
                    .resource(self.id)
                    .details(details);
                audit::append(conn, &[entry]).await?;
                let ending = Ending {
                    report: Some(report.to_json()),
                    problem: None,
                };
                let from = [ImportState::Checking, ImportState::Committing];
                let counters = job.progress.counters();
                if !job_rows::advance(conn, self.id, &job.worker, &from, state, counters, &ending)
                    .await?
                {
                    return Err(jobs::no_longer_running());
                }
                Ok(report)
            })
            .await?;
        if self.dry_run {
            Ok(report)
        } else {
            Err(ServiceError::ImportRejected {
                report: report.to_json(),
            })
        }
    }

    /// Inside the commit's transaction, once every row is stored: locks
    /// the job's row (a cancel then waits, and finds it committed), records
    /// the commit and marks the job committed.
    async fn commit_job(
        &self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        report: &ImportReport,
        job: &JobHandle,
    ) -> ServiceResult<()> {
        if !job_rows::lock_for_commit(conn, self.id, &job.worker).await? {
            return Err(jobs::no_longer_running());
        }
        self.record_commit(conn, caller, report).await?;
        let ending = Ending {
            report: Some(report.to_json()),
            problem: None,
        };
        let counters = job.progress.counters();
        let (from, done) = ([ImportState::Committing], ImportState::Committed);
        if !job_rows::advance(conn, self.id, &job.worker, &from, done, counters, &ending).await? {
            return Err(jobs::no_longer_running());
        }
        Ok(())
    }

    /// Inside the commit's transaction: stores the committed import with
    /// its report (a repeat that raced this one is a 409) and audits it as
    /// one import.
    async fn record_commit(
        &self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        report: &ImportReport,
    ) -> ServiceResult<()> {
        imports::insert(
            conn,
            &self.stored(caller, ImportStatus::Committed, report, None),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict { .. } => repeated_import(),
            other => ServiceError::Store(other),
        })?;
        let ctx = AuditContext::for_caller(caller);
        let entry = AuditEntry::modification(&ctx, AuditAction::Import, self.form.as_str())
            .resource(self.id)
            .details(json!({
                "file_sha256": self.sha,
                "rows_created": report.rows_created,
                "rows_updated": report.rows_updated,
            }));
        audit::append(conn, &[entry]).await?;
        Ok(())
    }
}

/// What reading and checking a file came to.
struct Pass<P> {
    rows: usize,
    valid: usize,
    errors: Vec<CellError>,
    warnings: Vec<Value>,
    /// The valid rows, kept for a commit that writes them at the end.
    planned: Vec<P>,
    /// Rows written as they were checked (a commit by chunks).
    created: usize,
    updated: usize,
}

/// What to do with the valid rows of each chunk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Nothing: a dry run reports them.
    Nothing,
    /// Keep them for a commit at the end.
    Rows,
    /// Store them at once, in the caller's transaction, while no row had
    /// an error.
    Store,
}

/// A part of the sheet, from the blocking thread that reads it.
enum Part {
    Header(ImportSheet, Option<u64>),
    Rows(Vec<ImportRow>),
}

/// Reads the workbook on a blocking thread, a chunk of rows at a time
/// (at most two chunks in memory besides the one being checked), and
/// checks each chunk with the target; errors, warnings and counts
/// accumulate. Hostile or unreadable files are refused.
async fn check_file<T: ImportTarget>(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    upload: &Upload,
    target: &mut T,
    job: &JobHandle,
    keep: Keep,
) -> ServiceResult<Pass<T::Planned>> {
    let (sender, mut parts) = tokio::sync::mpsc::channel::<Part>(1);
    let (bytes, limits, spec) = (upload.bytes.clone(), upload.limits, upload.spec);
    let chunk = target.chunk_rows();
    let reader = tokio::task::spawn_blocking(move || {
        let header = sender.clone();
        read_rows_chunked(
            &bytes,
            spec,
            &limits,
            chunk,
            |sheet, declared| {
                let described = sheet.with_rows(vec![]);
                header
                    .blocking_send(Part::Header(described, declared))
                    .is_ok()
            },
            |rows| sender.blocking_send(Part::Rows(rows)).is_ok(),
        )
    });
    let mut pass = Pass {
        rows: 0,
        valid: 0,
        errors: vec![],
        warnings: vec![],
        planned: vec![],
        created: 0,
        updated: 0,
    };
    // Targets that validate by the built-in spec (users, catalog items)
    // name fields by their built-in labels: their messages are given the
    // labels in force (nothing to do without overrides).
    let relabel = crate::labels::Relabel::new(upload.spec);
    let mut described: Option<ImportSheet> = None;
    // A header with errors: the rows are counted, not checked.
    let mut skip = false;
    if matches!(keep, Keep::Store) {
        target.storing_by_chunks();
    }
    while let Some(part) = parts.recv().await {
        match part {
            Part::Header(sheet, declared) => {
                job.progress.set_total(declared);
                let errors = sheet.header_errors();
                skip = !errors.is_empty();
                pass.errors.extend(errors);
                described = Some(sheet);
            }
            Part::Rows(rows) => {
                let n = rows.len();
                pass.rows += n;
                job.progress.add_read(n);
                job.live()?;
                let Some(sheet) = &described else { continue };
                if skip {
                    continue;
                }
                let mut chunk = sheet.with_rows(rows);
                let checked = target.check(conn, caller, &mut chunk).await?;
                drop(chunk);
                pass.valid += checked.planned.len();
                if relabel.is_empty() {
                    pass.errors.extend(checked.errors);
                } else {
                    pass.errors.extend(checked.errors.into_iter().map(|mut e| {
                        e.message = relabel.message(&e.message);
                        e
                    }));
                }
                pass.warnings.extend(checked.warnings);
                match keep {
                    Keep::Nothing => {}
                    Keep::Rows => pass.planned.extend(checked.planned),
                    Keep::Store if pass.errors.is_empty() => {
                        let (created, updated) =
                            target.store(conn, caller, checked.planned).await?;
                        pass.created += created;
                        pass.updated += updated;
                        pass.warnings.extend(target.take_store_warnings());
                    }
                    Keep::Store => {}
                }
            }
        }
    }
    reader.await?.map_err(|e| ServiceError::Refused {
        status: e.status(),
        code: e.code(),
        detail: e.message(),
    })?;
    job.progress.set_total(Some(pass.rows as u64));
    job.progress.set_checked(pass.rows);
    // A file with errors is reported by its errors: warnings are for a
    // file that can be committed.
    if !pass.errors.is_empty() {
        pass.warnings.clear();
    }
    pass.errors.sort_by_key(|e| e.row);
    Ok(pass)
}

type Tm = <AsyncPgConnection as AsyncConnection>::TransactionManager;

/// Imports an upload into its form, as the job `job` (which the caller's
/// worker holds). A dry run (or a file with errors) is checked, stored with
/// its report and annotated workbook, audited and answered (the second as
/// [`ServiceError::ImportRejected`]); otherwise every row is stored in one
/// transaction, audited as one import, which also marks the job committed:
/// a job is never half written. The file is read and checked by chunks; a
/// target that writes by chunks ([`ImportTarget::writes_by_chunk`]) has
/// each chunk written as it is checked, in that same transaction, rolled
/// back when a row has an error. A job cancelled meanwhile stops at the
/// next chunk (before its commit at the latest) with nothing written.
pub async fn run<T: ImportTarget>(
    pool: &Pool,
    caller: &Caller,
    mut upload: Upload,
    mut target: T,
    job: &JobHandle,
) -> ServiceResult<ImportReport> {
    let mut conn = db::conn(pool).await?;
    upload.refuse_repeat(&mut conn, caller).await?;
    // The labels in force now: the headers of a template downloaded after
    // the last change (and the built-in ones) name their columns, and the
    // report names fields as the form shows them.
    upload.spec = crate::labels::effective_spec(&mut conn, upload.form).await?;
    target.use_spec(upload.spec);
    target.watch(job.progress.clone());
    let lang = caller.lang;
    let from = [ImportState::Checking, ImportState::Committing];
    let committing = ImportState::Committing;
    if !upload.dry_run && target.writes_by_chunk() {
        // Checked and written in one transaction: the job is committing
        // from its first chunk.
        let counters = job.progress.counters();
        let none = Ending::default();
        if !job_rows::advance(
            &mut conn,
            upload.id,
            &job.worker,
            &from,
            committing,
            counters,
            &none,
        )
        .await?
        {
            return Err(jobs::no_longer_running());
        }
        Tm::begin_transaction(&mut *conn).await?;
        if let Err(e) = db::plan_with_parameters(&mut conn).await {
            let _ = Tm::rollback_transaction(&mut *conn).await;
            return Err(e.into());
        }
        let written = write_by_chunks(&mut conn, caller, &upload, &mut target, job).await;
        let (mut report, errors) = match written {
            Ok(Written::Committed(report)) => {
                Tm::commit_transaction(&mut *conn).await?;
                let mut report = *report;
                target.complete(&mut report);
                return Ok(report);
            }
            Ok(Written::Refused(report, errors)) => {
                Tm::rollback_transaction(&mut *conn).await?;
                (report, errors)
            }
            Err(e) => {
                // The connection is dropped when the rollback fails.
                let _ = Tm::rollback_transaction(&mut *conn).await;
                return Err(e);
            }
        };
        let workbook = upload.annotated(upload.spec, &errors, lang).await?;
        report.annotated_workbook = workbook
            .is_some()
            .then(|| format!("/api/v1/excel/imports/{}/annotated.xlsx", upload.id));
        return upload
            .finish_unwritten(&mut conn, caller, *report, workbook, job)
            .await;
    }
    let keep = if upload.dry_run {
        Keep::Nothing
    } else {
        Keep::Rows
    };
    let pass = check_file(&mut conn, caller, &upload, &mut target, job, keep).await?;
    job.live()?;
    let Pass {
        rows,
        valid,
        errors,
        warnings,
        mut planned,
        ..
    } = pass;
    let workbook = upload.annotated(upload.spec, &errors, lang).await?;
    let has_workbook = workbook.is_some();
    let mut report =
        ImportReport::checked(&upload, rows, valid, &errors, warnings, has_workbook, lang);
    if upload.dry_run || !errors.is_empty() {
        return upload
            .finish_unwritten(&mut conn, caller, report, workbook, job)
            .await;
    }
    let counters = job.progress.counters();
    let none = Ending::default();
    if !job_rows::advance(
        &mut conn,
        upload.id,
        &job.worker,
        &from,
        committing,
        counters,
        &none,
    )
    .await?
    {
        return Err(jobs::no_longer_running());
    }
    // Work before the transaction holds no connection (nor its locks).
    drop(conn);
    target.before_commit(&mut planned).await?;
    let mut conn = db::conn(pool).await?;
    let mut report = conn
        .transaction::<_, ServiceError, _>(async |conn| {
            let (created, updated) = target.store(conn, caller, planned).await?;
            report.rows_created = created;
            report.rows_updated = updated;
            job.progress.set_written(created + updated);
            upload.commit_job(conn, caller, &report, job).await?;
            Ok(report)
        })
        .await?;
    target.complete(&mut report);
    Ok(report)
}

/// What a commit by chunks came to, inside its transaction.
enum Written {
    /// Every row written and the job marked committed: commit.
    Committed(Box<ImportReport>),
    /// Rows with errors: roll back, then report them.
    Refused(Box<ImportReport>, Vec<CellError>),
}

async fn write_by_chunks<T: ImportTarget>(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    upload: &Upload,
    target: &mut T,
    job: &JobHandle,
) -> ServiceResult<Written> {
    let pass = check_file(conn, caller, upload, target, job, Keep::Store).await?;
    let Pass {
        rows,
        valid,
        errors,
        warnings,
        created,
        updated,
        ..
    } = pass;
    let lang = caller.lang;
    let mut report = ImportReport::checked(upload, rows, valid, &errors, warnings, false, lang);
    if !errors.is_empty() {
        return Ok(Written::Refused(Box::new(report), errors));
    }
    target.after_store(conn).await?;
    report.rows_created = created;
    report.rows_updated = updated;
    job.progress.set_written(created + updated);
    job.live()?;
    upload.commit_job(conn, caller, &report, job).await?;
    Ok(Written::Committed(Box::new(report)))
}

/// The annotated workbook of an import, for the institution that uploaded
/// it only (404 otherwise); downloading it is audited.
pub async fn annotated_workbook(pool: &Pool, caller: &Caller, id: Uuid) -> ServiceResult<Vec<u8>> {
    let mut conn = db::conn(pool).await?;
    let bytes = imports::annotated(&mut conn, caller.actor.institution_id, id)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let ctx = AuditContext::for_caller(caller);
    let entry = AuditEntry::access(&ctx, AuditAction::DownloadAnnotated, "import").resource(id);
    audit::append(&mut conn, &[entry]).await?;
    Ok(bytes)
}

fn repeated_import() -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::RepeatedImport,
        detail: Message::new(
            "Su institución ya importó este mismo archivo para este formulario.",
            "Your institution already imported this very file for this form.",
        ),
    }
}

/// The rows worth validating, each with the key it names (a folio, a
/// username, a catalog code): a row whose cells could not be read, or whose
/// key an earlier row of the file already named, goes to `errors` instead.
pub fn distinct_rows<K: Eq + Hash + Clone>(
    sheet: &ImportSheet,
    inputs: Vec<Map<String, Value>>,
    key_of: impl Fn(&Map<String, Value>) -> Option<K>,
    repeated: impl Fn(&K) -> FieldError,
    errors: &mut Vec<CellError>,
) -> Vec<(usize, Map<String, Value>, Option<K>)> {
    let mut seen: HashSet<K> = HashSet::new();
    distinct_rows_within(&mut seen, sheet, inputs, key_of, repeated, errors)
}

/// [`distinct_rows`] for a chunk of a file: `seen` holds the keys of the
/// earlier chunks.
pub fn distinct_rows_within<K: Eq + Hash + Clone>(
    seen: &mut HashSet<K>,
    sheet: &ImportSheet,
    inputs: Vec<Map<String, Value>>,
    key_of: impl Fn(&Map<String, Value>) -> Option<K>,
    repeated: impl Fn(&K) -> FieldError,
    errors: &mut Vec<CellError>,
) -> Vec<(usize, Map<String, Value>, Option<K>)> {
    let mut out = Vec::with_capacity(inputs.len());
    for (i, values) in inputs.into_iter().enumerate() {
        let row = &sheet.rows[i];
        if !row.problems.is_empty() {
            errors.extend(sheet.locate(row, vec![]));
            continue;
        }
        let key = key_of(&values);
        if let Some(k) = &key {
            if !seen.insert(k.clone()) {
                errors.extend(sheet.locate(row, vec![repeated(k)]));
                continue;
            }
        }
        out.push((i, values, key));
    }
    out
}

/// Completes a row that changes a stored item or account with what it
/// already has: an empty cell keeps the stored value, as a PATCH would.
pub fn keep_empty_cells(values: &mut Map<String, Value>, stored: &Map<String, Value>) {
    for (k, v) in stored {
        if values.get(k).is_none_or(Value::is_null) {
            values.insert(k.clone(), v.clone());
        }
    }
}
