//! Importing records of any record form: each row validated as the API
//! validates one record (with the catalogs and the records the file names
//! fetched once), people compared with the file and the system, and the
//! valid rows stored by thousands.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use serde_json::{json, Map, Value};
use sintra_domain::access::Caller;
use sintra_domain::duplicates::{MatchLevel, Matchable, PersonFacts};
use sintra_domain::forms::{FormKey, FormSpec};
use sintra_domain::i18n::Message;
use sintra_domain::validation::FieldError;
use sintra_excel::columns::RECORD_ID;
use sintra_excel::{CellError, ImportSheet};
use sintra_persistence::records::{self as rows, RecordRow};
use uuid::Uuid;

use super::{distinct_rows_within, ImportTarget, Progress, RowsChecked};
use crate::duplicates;
use crate::error::{ServiceError, ServiceResult};
use crate::periods;
use crate::records::{self, Lookups, Submission};
use sintra_domain::validation::FieldCode;
use sintra_persistence::periods::PeriodKey;
use sintra_persistence::Pool;

/// Rows checked (and, on a commit, written) at a time: what an import
/// holds in memory besides what the file needs as a whole (its keys and
/// the people of the file). A row in flight takes about 15 KB (its cells,
/// its validated data, its person's keys and probes, its insert): 1,000
/// rows keep that near 15 MiB, while the work done once a chunk (catalog
/// snapshot, quarters, one insert and its statement triggers) stays a few
/// percent of the import.
pub const CHUNK_ROWS: usize = 1_000;

/// The import of a record form's rows, a chunk at a time.
pub struct RecordRows {
    spec: &'static FormSpec,
    /// The quarters the valid rows of the last chunk enter or leave:
    /// locked by its store.
    quarters: Vec<PeriodKey>,
    /// Where the rows checked and written are counted.
    progress: Arc<Progress>,
    /// The record ids and folios earlier rows of the file named.
    seen: HashSet<RowKey>,
    /// People of the file so far: for each blocking key (by its hash, see
    /// [`key_hash`]), the first person with it (an index into `people`),
    /// whom later rows are compared with.
    first_with_key: HashMap<u64, u32>,
    people: Vec<FilePerson>,
    /// The prepared forms of some of `people`.
    prepared: PreparedPeople,
    /// Pairs of people of the file who may be one, raised once all are
    /// stored.
    in_file: Vec<(Uuid, Uuid, MatchLevel, f64)>,
    /// The new records this import stored so far: not "the system" for
    /// the duplicate check of its later chunks.
    stored: HashSet<Uuid>,
    /// A row of the file had an error: no warning is worth finding.
    errors_seen: bool,
    /// Each chunk is stored right after its check: its people are compared
    /// with the system's while it is being inserted (see [`store_rows`]).
    system_while_storing: bool,
    /// What the last store found about the system's people, for the report.
    store_warnings: Vec<Value>,
    /// Where the quarters a chunk touches are created, each in a short
    /// transaction of its own: created inside the import's long one, they
    /// would hold every other import of the entity waiting.
    pool: Option<Pool>,
}

/// A blocking key as the file's people are indexed by: a 64-bit hash
/// instead of the string, so that the index of a 100,000-row file (14 keys
/// a person) takes about 20 MiB instead of about 100. Two keys sharing a
/// hash (about one chance in 10^8 in such a file) only cost one more
/// comparison: the comparison, not the key, decides.
fn key_hash(key: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same key hashes alike for the whole import.
    let mut h = std::hash::DefaultHasher::new();
    key.hash(&mut h);
    h.finish()
}

/// A person of the file, as later rows are compared with it: its facts
/// packed in one string (see [`pack`]), about 100 bytes where its prepared
/// form takes about 400: a 100,000-row file keeps each of its people.
struct FilePerson {
    row: u32,
    id: Uuid,
    facts: Box<str>,
}

/// The separator of packed facts: a control character, which no stored
/// text holds (the input boundary refuses them).
const FACT_SEPARATOR: char = '\u{1f}';

/// A person's facts in one string: each field in a fixed order, empty when
/// absent.
fn pack(f: &PersonFacts) -> Box<str> {
    let date = |d: Option<chrono::NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
    let fields: [String; 9] = [
        f.given_names.clone().unwrap_or_default(),
        f.first_surname.clone().unwrap_or_default(),
        f.second_surname.clone().unwrap_or_default(),
        f.curp.clone().unwrap_or_default(),
        date(f.birth_date),
        f.age_years.map(|a| a.to_string()).unwrap_or_default(),
        date(f.age_reference_date),
        f.sex.clone().unwrap_or_default(),
        f.missing_report_folio.clone().unwrap_or_default(),
    ];
    debug_assert!(fields.iter().all(|x| !x.contains(FACT_SEPARATOR)));
    fields.join(&FACT_SEPARATOR.to_string()).into_boxed_str()
}

/// The facts [`pack`] packed.
fn unpack(packed: &str) -> PersonFacts {
    let mut it = packed.split(FACT_SEPARATOR);
    let mut text = || it.next().filter(|x| !x.is_empty()).map(str::to_string);
    let (given_names, first_surname, second_surname, curp) = (text(), text(), text(), text());
    let (birth, age, reference, sex, report) = (text(), text(), text(), text(), text());
    PersonFacts {
        given_names,
        first_surname,
        second_surname,
        curp,
        birth_date: birth.and_then(|d| d.parse().ok()),
        age_years: age.and_then(|a| a.parse().ok()),
        age_reference_date: reference.and_then(|d| d.parse().ok()),
        sex,
        missing_report_folio: report,
    }
}

/// The prepared forms of the file's people compared lately: the people of
/// common blocks are compared again and again, the others seldom. Bounded:
/// emptied when full.
#[derive(Default)]
struct PreparedPeople(HashMap<u32, Matchable>);

impl PreparedPeople {
    const MAX: usize = 8_192;

    fn get(&mut self, person: &u32, facts: &str) -> &Matchable {
        if self.0.len() >= Self::MAX && !self.0.contains_key(person) {
            self.0.clear();
        }
        self.0
            .entry(*person)
            .or_insert_with(|| Matchable::of(&unpack(facts)))
    }
}

impl RecordRows {
    pub fn new(form: FormKey) -> RecordRows {
        RecordRows {
            spec: form.spec(),
            quarters: vec![],
            progress: Arc::new(Progress::new()),
            seen: HashSet::new(),
            first_with_key: HashMap::new(),
            people: vec![],
            prepared: PreparedPeople::default(),
            in_file: vec![],
            stored: HashSet::new(),
            errors_seen: false,
            system_while_storing: false,
            store_warnings: vec![],
            pool: None,
        }
    }

    /// Creates the quarters its rows touch outside the import's
    /// transaction, on connections of `pool`.
    pub fn with_pool(mut self, pool: Pool) -> RecordRows {
        self.pool = Some(pool);
        self
    }

    /// Each person of the chunk compared with the earlier people of the
    /// file sharing a blocking key (the first with each key), reported
    /// against the first that matches.
    fn duplicates_in_file(&mut self, valid: &[ValidRow]) -> Vec<Value> {
        let mut warnings = vec![];
        for v in valid {
            let Some(person) = &v.prepared.person else {
                continue;
            };
            // Probes widen the keys (a birth year one off), so a repeat
            // typed with the neighbouring year is still compared.
            for k in &person.probes {
                let Some(&j) = self.first_with_key.get(&key_hash(k)) else {
                    continue;
                };
                let Some(other) = self.people.get(j as usize) else {
                    continue;
                };
                let theirs = self.prepared.get(&j, &other.facts);
                if let Some(m) = person.matchable.compare(theirs) {
                    self.in_file.push((v.id, other.id, m.level, m.score));
                    warnings.push(json!({"row": v.row, "code": "possible_duplicate", "level": m.level, "score": m.score, "candidate_row": other.row}));
                    break;
                }
            }
            let mut first = false;
            let next = u32::try_from(self.people.len()).unwrap_or(u32::MAX);
            for k in &person.keys {
                if let std::collections::hash_map::Entry::Vacant(e) =
                    self.first_with_key.entry(key_hash(k))
                {
                    e.insert(next);
                    first = true;
                }
            }
            if first {
                self.people.push(FilePerson {
                    row: v.row,
                    id: v.id,
                    facts: pack(&duplicates::facts(&v.prepared.data)),
                });
            }
        }
        warnings
    }
}

impl ImportTarget for RecordRows {
    type Planned = ValidRow;

    fn use_spec(&mut self, spec: &'static FormSpec) {
        debug_assert_eq!(spec.key, self.spec.key);
        self.spec = spec;
    }

    fn watch(&mut self, progress: Arc<Progress>) {
        self.progress = progress;
    }

    fn chunk_rows(&self) -> usize {
        CHUNK_ROWS
    }

    fn writes_by_chunk(&self) -> bool {
        true
    }

    fn storing_by_chunks(&mut self) {
        // The system's people are looked up on a connection of its own.
        self.system_while_storing = self.pool.is_some();
    }

    fn take_store_warnings(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.store_warnings)
    }

    async fn check(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        sheet: &mut ImportSheet,
    ) -> ServiceResult<RowsChecked<ValidRow>> {
        let progress = self.progress.clone();
        let seen = &mut self.seen;
        let (mut valid, mut errors) =
            check_rows(conn, caller, self.spec, sheet, progress, seen).await?;
        self.quarters =
            refuse_closed_quarters(conn, self.spec, sheet, &mut valid, &mut errors).await?;
        self.errors_seen |= !errors.is_empty();
        if let Some(pool) = &self.pool {
            let mut own = sintra_persistence::db::conn(pool).await?;
            sintra_persistence::periods::ensure(&mut own, &self.quarters).await?;
        }
        let mut warnings: Vec<Value> = vec![];
        if self.spec.key == duplicates::PERSON_FORM && !self.errors_seen {
            warnings = self.duplicates_in_file(&valid);
            // "The system" is what was committed before this import: on a
            // connection of its own the check cannot see the rows this
            // import's transaction wrote by earlier chunks (compared above,
            // as the file's own), so it never fetches and compares them
            // only to drop them, which made an import's cost grow with the
            // square of its rows.
            let found = match &self.pool {
                // Compared while the chunk is stored instead.
                Some(_) if self.system_while_storing => vec![],
                Some(pool) => {
                    let mut committed = sintra_persistence::db::conn(pool).await?;
                    duplicates_in_system(&mut committed, caller, &mut valid, &self.stored).await?
                }
                None => duplicates_in_system(conn, caller, &mut valid, &self.stored).await?,
            };
            warnings.extend(found);
        }
        Ok(RowsChecked {
            planned: valid,
            errors,
            warnings,
        })
    }

    async fn store(
        &mut self,
        conn: &mut AsyncPgConnection,
        caller: &Caller,
        planned: Vec<ValidRow>,
    ) -> ServiceResult<(usize, usize)> {
        // A close that came after the check: the whole file is refused.
        periods::guard_write(conn, &self.quarters).await?;
        let person = self.spec.key == duplicates::PERSON_FORM;
        if person {
            self.stored.extend(
                planned
                    .iter()
                    .filter(|v| v.previous.is_none())
                    .map(|v| v.id),
            );
        }
        let system = match &self.pool {
            Some(pool) if person && self.system_while_storing && !self.errors_seen => {
                Some((pool, &self.stored))
            }
            _ => None,
        };
        let (created, updated, warnings) =
            store_rows(conn, caller, self.spec, planned, &self.progress, system).await?;
        self.store_warnings.extend(warnings);
        Ok((created, updated))
    }

    async fn after_store(&mut self, conn: &mut AsyncPgConnection) -> ServiceResult<()> {
        duplicates::raise_new(conn, &self.in_file).await
    }
}

/// A row that passed every check, ready to be stored.
pub struct ValidRow {
    /// The row number Excel shows.
    row: u32,
    /// The record it becomes: the one it replaces, or a new id.
    id: Uuid,
    prepared: records::Prepared,
    /// The record of the institution with the row's folio, which it replaces.
    previous: Option<RecordRow>,
    /// Its possible duplicates among the stored people.
    found: Vec<duplicates::Warning>,
}

/// Validates every row as the API validates one record, with what can be
/// fetched once for the whole file fetched once: the catalog entries the
/// file names, and the records its ids and folios already designate. Rows
/// of forms that read no other record are validated on every core.
async fn check_rows(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &'static FormSpec,
    sheet: &mut ImportSheet,
    progress: Arc<Progress>,
    seen: &mut HashSet<RowKey>,
) -> ServiceResult<(Vec<ValidRow>, Vec<CellError>)> {
    let mut errors = sheet.header_errors();
    if !errors.is_empty() {
        return Ok((vec![], errors));
    }
    let inputs: Vec<Map<String, Value>> = sheet.rows.iter_mut().map(|r| r.take_values()).collect();
    let lookup = records::snapshot_for(conn, caller, spec, &inputs).await?;
    let keys: Vec<RowKey> = inputs.iter().filter_map(RowKey::of).collect();
    let (mut by_id, mut by_folio) = {
        let form = spec.key;
        let (ids, folios) = RowKey::split(&keys);
        let scope = caller.actor.scope();
        let by_id = rows::get_many(conn, &scope, form, &ids).await?;
        let institution = caller.actor.institution_id;
        (
            by_id,
            rows::find_by_folios(conn, institution, form, &folios).await?,
        )
    };

    // Rows to validate, with the record each replaces; the others' errors.
    let mut todo: Vec<(usize, Map<String, Value>, Option<RecordRow>)> = vec![];
    let repeated = |key: &RowKey| match key {
        RowKey::Id(_) => record_repeated(),
        RowKey::Folio(_) => folio_repeated(),
    };
    let distinct = distinct_rows_within(seen, sheet, inputs, RowKey::of, repeated, &mut errors);
    for (i, mut values, key) in distinct {
        values.remove(RECORD_ID.key);
        let previous = match key {
            Some(RowKey::Id(id)) => match by_id.remove(&id) {
                Some(record) => match keep_folio(&mut values, &record) {
                    Ok(()) => Some(record),
                    Err(e) => {
                        errors.extend(sheet.locate(&sheet.rows[i], vec![e]));
                        continue;
                    }
                },
                None => {
                    errors.extend(sheet.locate(&sheet.rows[i], vec![unknown_record()]));
                    continue;
                }
            },
            Some(RowKey::Folio(folio)) => by_folio.remove(&folio),
            None => None,
        };
        todo.push((i, values, previous));
    }

    let checked: Vec<(usize, ServiceResult<records::Prepared>, Option<RecordRow>)> =
        if records::reads_records(spec) {
            let mut out = Vec::with_capacity(todo.len());
            let mut parents = records::ParentCache::default();
            for (i, values, previous) in todo {
                let submission = Submission {
                    caller,
                    spec,
                    input: values,
                    previous: previous.as_ref(),
                };
                let lookups = Lookups {
                    catalogs: Some(&lookup),
                    parents: Some(&mut parents),
                };
                let prepared = records::prepare_with(conn, submission, lookups).await;
                progress.add_checked(1);
                out.push((i, prepared, previous));
            }
            out
        } else {
            let actor = caller.actor.clone();
            tokio::task::spawn_blocking(move || {
                use rayon::prelude::*;
                todo.into_par_iter()
                    .map(|(i, values, previous)| {
                        let prepared = records::prepare_alone(
                            &actor,
                            spec,
                            &values,
                            previous.as_ref(),
                            &lookup,
                        );
                        progress.add_checked(1);
                        (i, prepared, previous)
                    })
                    .collect()
            })
            .await?
        };
    let mut valid = Vec::with_capacity(checked.len());
    for (i, prepared, previous) in checked {
        let row = &sheet.rows[i];
        match prepared {
            Ok(prepared) => valid.push(ValidRow {
                row: row.row,
                id: previous.as_ref().map_or_else(Uuid::now_v7, |p| p.id),
                prepared,
                previous,
                found: vec![],
            }),
            Err(ServiceError::Validation(field_errors)) => {
                errors.extend(sheet.locate(row, field_errors))
            }
            Err(other) => return Err(other),
        }
    }
    Ok((valid, errors))
}

/// Rows whose record would enter or leave a closed quarter of its entity
/// become errors of their row (`period_closed`, in the period date's
/// column); returns the quarters the remaining rows touch, which the commit
/// locks.
async fn refuse_closed_quarters(
    conn: &mut AsyncPgConnection,
    spec: &'static FormSpec,
    sheet: &ImportSheet,
    valid: &mut Vec<ValidRow>,
    errors: &mut Vec<CellError>,
) -> ServiceResult<Vec<PeriodKey>> {
    let mut per_row: Vec<Vec<PeriodKey>> = Vec::with_capacity(valid.len());
    for v in valid.iter() {
        let after = periods::key_of(v.prepared.entity_code, v.prepared.period_day);
        let before = match &v.previous {
            Some(p) => {
                let day =
                    periods::day_before(conn, spec, p, v.prepared.parent_id, v.prepared.period_day)
                        .await?;
                periods::key_of(p.entity_code, day)
            }
            None => None,
        };
        per_row.push([before, after].into_iter().flatten().collect());
    }
    let all: HashSet<PeriodKey> = per_row.iter().flatten().cloned().collect();
    let all: Vec<PeriodKey> = all.into_iter().collect();
    let closed = periods::closed_among(conn, &all).await?;
    if closed.is_empty() {
        return Ok(all);
    }
    let field = spec.period_field();
    let column = field.and_then(|f| sheet.column_of(f)).map(String::from);
    let mut kept = HashSet::new();
    let rows = std::mem::take(valid);
    for (v, keys) in rows.into_iter().zip(per_row) {
        match keys.iter().find(|k| closed.contains(*k)) {
            Some(k) => {
                let e = periods::closed_field_error(spec, k);
                errors.push(CellError {
                    row: v.row,
                    column: column.clone(),
                    field: Some(e.field),
                    code: e.code.as_str(),
                    message: e.message,
                });
            }
            None => {
                kept.extend(keys);
                valid.push(v);
            }
        }
    }
    Ok(kept.into_iter().collect())
}

/// Each person compared with the stored people sharing a blocking key, a
/// few hundred people per query; the warnings are also kept on the rows so
/// a commit records the pairs without searching again.
async fn duplicates_in_system(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    valid: &mut [ValidRow],
    stored: &HashSet<Uuid>,
) -> ServiceResult<Vec<Value>> {
    let people: Vec<(Option<Uuid>, &duplicates::Person)> = valid
        .iter()
        .filter_map(|v| {
            Some((
                v.previous.as_ref().map(|r| r.id),
                v.prepared.person.as_ref()?,
            ))
        })
        .collect();
    let found = system_matches(conn, caller, &people, stored).await?;
    let mut warnings = vec![];
    let with_person = valid.iter_mut().filter(|v| v.prepared.person.is_some());
    for (v, of_row) in with_person.zip(found) {
        warnings.extend(row_warnings(v.row, &of_row));
        v.found = of_row;
    }
    Ok(warnings)
}

/// Each person compared with the stored people sharing a blocking key, a
/// few hundred people per query, except the records of this import
/// (`stored`): rows of the file stored by its earlier chunks are the
/// file's own pairs, found by [`RecordRows::duplicates_in_file`].
async fn system_matches(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    people: &[(Option<Uuid>, &duplicates::Person)],
    stored: &HashSet<Uuid>,
) -> ServiceResult<Vec<Vec<duplicates::Warning>>> {
    let mut out = Vec::with_capacity(people.len());
    for batch in people.chunks(500) {
        for mut of_person in duplicates::find_many(conn, caller, batch).await? {
            of_person.retain(|w| !stored.contains(&w.candidate_id));
            out.push(of_person);
        }
    }
    Ok(out)
}

/// The warnings of a row as the report shows them: each candidate, with
/// the row's number.
fn row_warnings(row: u32, found: &[duplicates::Warning]) -> impl Iterator<Item = Value> + '_ {
    found.iter().map(move |w| {
        let mut j = w.json.clone();
        j["row"] = json!(row);
        j
    })
}

/// New records per insert: the job's progress moves between them.
const WRITE_CHUNK: usize = 5_000;

/// Stores the valid rows inside the caller's transaction: new records by
/// thousands with their blocking keys, replaced ones one by one, and the
/// pairs of possible duplicates found against the system (those within the
/// file wait for its last chunk).
///
/// With `system` (a pool, and the records this import stored so far), the
/// rows' people are compared with the system's here rather than by the
/// check: on a connection of that pool, which sees only what was committed
/// (not this import's own rows), while this connection inserts the new
/// records. Each waits on its own database backend, so the comparison
/// costs little time of its own; its warnings (by row) are returned.
/// Returns (created, updated, warnings).
async fn store_rows(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    spec: &'static FormSpec,
    valid: Vec<ValidRow>,
    progress: &Progress,
    system: Option<(&Pool, &HashSet<Uuid>)>,
) -> ServiceResult<(usize, usize, Vec<Value>)> {
    // The people to compare (when comparing here), and for each row its
    // place among them, else what its check found.
    let mut people: Vec<(Option<Uuid>, duplicates::Person)> = vec![];
    let mut news = vec![];
    let mut news_found: Vec<(u32, Result<usize, Vec<duplicates::Warning>>)> = vec![];
    let mut updates: Vec<(ValidRow, Result<usize, Vec<duplicates::Warning>>)> = vec![];
    for mut v in valid {
        let found = match (&system, &v.prepared.person) {
            (Some(_), Some(p)) => {
                people.push((v.previous.as_ref().map(|r| r.id), p.clone()));
                Ok(people.len() - 1)
            }
            _ => Err(std::mem::take(&mut v.found)),
        };
        if v.previous.is_some() {
            updates.push((v, found));
        } else {
            news_found.push((v.row, found));
            let mut new = records::new_record(caller, spec, v.prepared);
            new.id = v.id;
            news.push(new);
        }
    }
    let inserting = async {
        for chunk in news.chunks(WRITE_CHUNK) {
            rows::insert_many(&mut *conn, chunk)
                .await
                .map_err(records::write_conflict)?;
            progress.add_written(chunk.len());
        }
        Ok::<(), ServiceError>(())
    };
    let comparing = async {
        let Some((pool, stored)) = system.filter(|_| !people.is_empty()) else {
            return Ok(vec![]);
        };
        let mut committed = sintra_persistence::db::conn(pool).await?;
        let refs: Vec<(Option<Uuid>, &duplicates::Person)> =
            people.iter().map(|(id, p)| (*id, p)).collect();
        system_matches(&mut committed, caller, &refs, stored).await
    };
    let (inserted, found) = tokio::join!(inserting, comparing);
    inserted?;
    let mut found = found?;
    let mut take = |place: Result<usize, Vec<duplicates::Warning>>| match place {
        Ok(i) => found.get_mut(i).map(std::mem::take).unwrap_or_default(),
        Err(known) => known,
    };
    let mut warnings = vec![];
    let mut report = |row: u32, ws: &[duplicates::Warning]| {
        if system.is_some() {
            warnings.extend(row_warnings(row, ws));
        }
    };
    let mut pairs: Vec<(Uuid, Uuid, MatchLevel, f64)> = vec![];
    for (new, (row, place)) in news.iter().zip(news_found) {
        let ws = take(place);
        report(row, &ws);
        pairs.extend(
            ws.iter()
                .map(|w| (new.id, w.candidate_id, w.level, w.score)),
        );
    }
    let updated = updates.len();
    for (v, place) in updates {
        let ws = take(place);
        report(v.row, &ws);
        records::store_prepared(
            conn,
            caller,
            spec,
            v.prepared,
            v.previous.as_ref(),
            Some(&ws),
        )
        .await?;
        progress.add_written(1);
    }
    duplicates::raise_new(conn, &pairs).await?;
    Ok((news.len(), updated, warnings))
}

/// What names the stored record a row changes: the record id an exported
/// workbook carries, else the sender's folio.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum RowKey {
    Id(Uuid),
    Folio(String),
}

impl RowKey {
    fn of(values: &Map<String, Value>) -> Option<RowKey> {
        let text = |k: &str| values.get(k).and_then(Value::as_str).map(str::trim);
        if let Some(id) = text(RECORD_ID.key).and_then(|s| s.parse().ok()) {
            return Some(RowKey::Id(id));
        }
        text("external_folio").map(|f| RowKey::Folio(f.to_string()))
    }

    /// The ids and the folios among `keys`.
    fn split(keys: &[RowKey]) -> (Vec<Uuid>, Vec<String>) {
        let mut ids = vec![];
        let mut folios = vec![];
        for k in keys {
            match k {
                RowKey::Id(id) => ids.push(*id),
                RowKey::Folio(f) => folios.push(f.clone()),
            }
        }
        (ids, folios)
    }
}

fn unknown_record() -> FieldError {
    FieldError::new(
        RECORD_ID.key,
        FieldCode::UnknownRecord,
        Message::new(
            "No hay un registro de este formulario con ese ID a su alcance; para dar de alta uno nuevo, deje vacía la columna «ID del registro».",
            "There is no record of this form with that id within your scope; to add a new one, leave the \"Record ID\" column empty.",
        ),
    )
}

/// A row matched by its record id keeps that record's external folio: the
/// folio is how the sender's own system names the record, and the id
/// already says which record the row changes, so a different folio is a
/// typing error or a row pasted from another record. An empty folio cell
/// keeps the stored folio; another folio (or one for a record stored
/// without any) is an error of the row, `folio_mismatch`, never a silent
/// change. To give a record another folio, change it through the API.
fn keep_folio(values: &mut Map<String, Value>, record: &RecordRow) -> Result<(), FieldError> {
    let given = match values.get("external_folio") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(other) => Some(other.to_string()),
    };
    match (given, record.external_folio.as_deref()) {
        (None, Some(stored)) => {
            values.insert("external_folio".into(), stored.into());
            Ok(())
        }
        (None, None) => Ok(()),
        (Some(given), Some(stored)) if given == stored => Ok(()),
        (Some(_), _) => Err(folio_mismatch()),
    }
}

fn folio_mismatch() -> FieldError {
    FieldError::new(
        "external_folio",
        FieldCode::FolioMismatch,
        Message::new(
            "El «Folio externo» no es el del registro con ese «ID del registro»; el folio de un registro no se cambia desde Excel: deje el folio que tiene o la celda vacía, o quite el ID para tratar la fila como otro registro.",
            "The \"External folio\" is not that of the record with this \"Record ID\"; a record's folio is not changed from Excel: keep its folio or leave the cell empty, or remove the id to treat the row as another record.",
        ),
    )
}

fn record_repeated() -> FieldError {
    FieldError::new(
        RECORD_ID.key,
        FieldCode::RecordRepeatedInFile,
        Message::new(
            "Ese ID de registro ya aparece en una fila anterior del archivo.",
            "That record id already appears in an earlier row of the file.",
        ),
    )
}

fn folio_repeated() -> FieldError {
    FieldError::new(
        "external_folio",
        FieldCode::FolioRepeatedInFile,
        Message::new(
            "Ese folio ya aparece en una fila anterior del archivo.",
            "That folio already appears in an earlier row of the file.",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_facts_unpack_to_the_same_facts() {
        let full = PersonFacts {
            given_names: Some("MARÍA GUADALUPE".into()),
            first_surname: Some("HERNÁNDEZ".into()),
            second_surname: Some("DE LA CRUZ".into()),
            curp: Some("HECM800101MNLRRR09".into()),
            birth_date: "1980-01-01".parse().ok(),
            age_years: Some(44),
            age_reference_date: "2024-06-30".parse().ok(),
            sex: Some("MUJER".into()),
            missing_report_folio: Some("FGJNL/2024/0001".into()),
        };
        assert_eq!(unpack(&pack(&full)), full);
        let sparse = PersonFacts {
            first_surname: Some("LÓPEZ".into()),
            age_years: Some(0),
            ..PersonFacts::default()
        };
        assert_eq!(unpack(&pack(&sparse)), sparse);
        assert_eq!(
            unpack(&pack(&PersonFacts::default())),
            PersonFacts::default()
        );
    }

    #[test]
    fn the_prepared_cache_stays_bounded_and_answers_right() {
        let mut cache = PreparedPeople::default();
        let a = pack(&PersonFacts {
            given_names: Some("ANA".into()),
            first_surname: Some("RUIZ".into()),
            birth_date: "1990-05-17".parse().ok(),
            ..PersonFacts::default()
        });
        for i in 0..(PreparedPeople::MAX as u32 * 2 + 3) {
            let m = cache.get(&i, &a);
            assert!(m.compare(m).is_some(), "a person matches itself");
            assert!(cache.0.len() <= PreparedPeople::MAX);
        }
    }
}
