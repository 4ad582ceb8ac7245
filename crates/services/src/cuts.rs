//! Quarterly cuts (cortes trimestrales): the national administration
//! freezes a quarter. Taking a cut closes the quarter in every entity not
//! yet closed (so the records it counts can no longer change) and stores,
//! in the same transaction, the record counts per entity and form and the
//! (id, version) of every record counted; its digest is appended to the
//! audit chain. A cut never changes afterwards.
//!
//! The stored figures are one JSON document: `record_counts` (per entity
//! and form) and `dashboards` (every dashboard with a date filter, computed
//! by `crate::figures::compute` for the quarter's days at national scope,
//! exact, inside the cut's transaction), made to grow by further keys.

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::AsyncConnection;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sintra_domain::access::{Actor, Caller, EntityCode, Permission, Role, Scope};
use sintra_domain::forms::{all_specs, PeriodDate};
use sintra_domain::periods::Quarter;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::cuts::{self, CutRow, DateSource};
use sintra_persistence::{db, org, Pool};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::figures::{compute, FiguresError, RawFilters};
use crate::periods::{close_everywhere, NationalClose};
use sintra_domain::figures::{DashboardKey, Figure, Figures, FilterKey, TOTAL};
use sintra_domain::i18n::Lang;
use sintra_domain::suppression::is_small;
use sintra_domain::validation::FieldCode;
use sintra_excel::figures::{CountLine, CutCover};
use std::collections::BTreeMap;

/// A cut as shown.
#[derive(Debug, Clone, Serialize)]
pub struct CutView {
    pub id: Uuid,
    pub year: i32,
    pub quarter: u8,
    pub taken_at: DateTime<Utc>,
    pub taken_by: Uuid,
    /// `{"record_counts": [{entity_code, form, records}]}`.
    pub figures: Value,
    /// How many records the cut counted.
    pub record_count: i64,
    /// SHA-256 of the counted records' `id:version`, by id.
    pub records_digest: String,
    /// SHA-256 of the figures' JSON, `|`, and the records' digest: what the
    /// audit chain holds.
    pub digest: String,
    /// On a read: whether the stored (id, version) pairs still hash to the
    /// stored digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
}

fn view(row: CutRow, verified: Option<bool>) -> CutView {
    CutView {
        id: row.id,
        year: row.year,
        quarter: row.quarter as u8,
        taken_at: row.taken_at,
        taken_by: row.taken_by,
        figures: row.figures,
        record_count: row.record_count,
        records_digest: row.records_digest,
        digest: row.digest,
        verified,
    }
}

fn national_only(caller: &Caller) -> ServiceResult<()> {
    if caller.actor.can(Permission::ManageCuts) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden { detail: None })
    }
}

/// JSON with every object's keys sorted, whatever order a map keeps them
/// in (PostgreSQL's jsonb reorders them): what the digest covers.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::from(k.as_str()), canonical(&m[k])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// The digest a cut's figures and records come to.
pub fn digest(figures: &Value, records_digest: &str) -> String {
    hex::encode(Sha256::digest(format!(
        "{}|{records_digest}",
        canonical(figures)
    )))
}

/// The first day of a quarter and of the next one, as ISO dates.
// Quarters come from `Quarter::new` or `Quarter::of` (1 to 4), so both
// are real dates.
#[allow(clippy::expect_used)]
fn bounds(q: Quarter) -> (String, String) {
    let month = u32::from(q.quarter - 1) * 3 + 1;
    let from = NaiveDate::from_ymd_opt(q.year, month, 1).expect("a valid quarter");
    let until = if q.quarter == 4 {
        NaiveDate::from_ymd_opt(q.year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(q.year, month + 3, 1)
    }
    .expect("a valid quarter");
    (from.to_string(), until.to_string())
}

/// What taking a cut answers: the cut, and the entities it closed.
#[derive(Debug, Clone, Serialize)]
pub struct TakenCut {
    pub cut: CutView,
    pub closed: NationalClose,
}

/// Takes the cut of a quarter (national admin), as described above.
pub async fn take(
    pool: &Pool,
    caller: &Caller,
    year: i32,
    quarter: i64,
) -> ServiceResult<TakenCut> {
    national_only(caller)?;
    let quarter = Quarter::new(year, quarter).ok_or_else(|| {
        ServiceError::invalid(
            "quarter",
            FieldCode::OutOfRange,
            "Indique el año (1900 a 2200) y el trimestre (1 a 4).",
            "Give the year (1900 to 2200) and the quarter (1 to 4).",
        )
    })?;
    let (from, until) = bounds(quarter);
    let ctx = AuditContext::for_caller(caller);
    let id = Uuid::now_v7();
    let mut conn = db::conn(pool).await?;
    conn.transaction::<_, ServiceError, _>(async |conn| {
        // First the quarter's rows, FOR UPDATE: from here on no record of
        // the quarter is being written or can be, so what follows reads
        // the quarter as it stands frozen.
        let (closed, mut entries) = close_everywhere(conn, caller, &ctx, quarter).await?;
        for spec in all_specs() {
            let source = match spec.period_date {
                PeriodDate::Field(key) => DateSource::Own(key),
                PeriodDate::Parent => match spec.parent.map(|p| p.spec().period_date) {
                    Some(PeriodDate::Field(key)) => DateSource::Parent(key),
                    _ => continue,
                },
                PeriodDate::None => continue,
            };
            cuts::store_records(conn, id, spec.key, source, &from, &until).await?;
        }
        let counts: Vec<Value> = cuts::counts(conn, id)
            .await?
            .into_iter()
            .map(|c| json!({"entity_code": c.entity_code, "form": c.form, "records": c.records}))
            .collect();
        let dashboards = dashboards_of(conn, &caller.actor, &from, &until).await?;
        let mut entities = serde_json::Map::new();
        for entity in org::list_entities(conn).await? {
            // The catalog's codes are entities' codes (its own check).
            let Ok(code) = EntityCode::parse(&entity.code) else {
                continue;
            };
            let exact = entity_actor(&caller.actor, code, false);
            let withheld = entity_actor(&caller.actor, code, true);
            entities.insert(
                entity.code,
                json!({
                    "exact": dashboards_of(conn, &exact, &from, &until).await?,
                    "withheld": dashboards_of(conn, &withheld, &from, &until).await?,
                }),
            );
        }
        let figures = json!({
            "record_counts": counts,
            "dashboards": dashboards,
            "entities": entities,
        });
        let records = cuts::records_digest(conn, id).await?;
        let row = CutRow {
            id,
            year: quarter.year,
            quarter: quarter.quarter as i16,
            taken_at: Utc::now(),
            taken_by: caller.actor.user_id,
            digest: digest(&figures, &records.digest),
            figures,
            record_count: records.records,
            records_digest: records.digest,
        };
        cuts::insert(conn, &row).await?;
        entries.push(
            AuditEntry::modification(&ctx, AuditAction::Create, "cut")
                .resource(id)
                .details(json!({
                    "year": row.year,
                    "quarter": row.quarter,
                    "record_count": row.record_count,
                    "records_digest": row.records_digest,
                    "digest": row.digest,
                })),
        );
        audit::append(conn, &entries).await?;
        Ok(TakenCut {
            cut: scoped(row, &CutScope::National, None),
            closed,
        })
    })
    .await
}

/// The entity's own view of its figures, as its administrator (exact) or
/// its analysts (`withheld`: small counts withheld) read their dashboards:
/// what a cut freezes for each entity, computed by the same code.
fn entity_actor(national: &Actor, entity_code: EntityCode, withheld: bool) -> Actor {
    Actor {
        role: if withheld {
            Role::Analyst
        } else {
            Role::EntityAdmin
        },
        entity_code,
        ..national.clone()
    }
}

/// Every dashboard that takes a date range, for the quarter's days
/// (`from` inclusive, `until` exclusive), in the caller's (national) scope.
async fn dashboards_of(
    conn: &mut diesel_async::AsyncPgConnection,
    actor: &Actor,
    from: &str,
    until: &str,
) -> ServiceResult<Value> {
    let last = until
        .parse::<NaiveDate>()
        .ok()
        .and_then(|d| d.pred_opt())
        .map(|d| d.to_string())
        .unwrap_or_default();
    let mut out = serde_json::Map::new();
    for d in DashboardKey::ALL {
        let takes = |k: FilterKey| d.filters().contains(&k);
        if !(takes(FilterKey::From) && takes(FilterKey::To)) {
            continue;
        }
        let raw = RawFilters::new([
            ("from".to_string(), from.to_string()),
            ("to".to_string(), last.clone()),
        ]);
        let figures = compute(conn, actor, d, &raw).await.map_err(|e| match e {
            FiguresError::Forbidden => ServiceError::Forbidden { detail: None },
            FiguresError::Invalid(errors) => ServiceError::Validation(errors),
            FiguresError::Store(e) => ServiceError::Store(e),
        })?;
        let value = serde_json::to_value(figures)
            .map_err(|e| ServiceError::Internal(format!("figures do not serialize: {e}")))?;
        out.insert(d.as_str().to_string(), value);
    }
    Ok(Value::Object(out))
}

/// Which part of a cut a caller reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutScope {
    /// The country's figures (national admin).
    National,
    /// One entity's figures, as its administrator (exact) or its analysts
    /// (`withheld`: counts of 1 to 4 withheld with their complements) read
    /// them.
    Entity { code: EntityCode, withheld: bool },
}

impl CutScope {
    /// The part of a cut `caller` may read; the national admin may ask
    /// for one entity's. Another entity's answers 404, like its records,
    /// and so does a code that is no entity's.
    pub fn of(caller: &Caller, entity_code: Option<&str>) -> ServiceResult<CutScope> {
        let actor = &caller.actor;
        if !actor.can(Permission::ReadCuts) {
            return Err(ServiceError::Forbidden { detail: None });
        }
        let withheld = !actor.can(Permission::ReadPersonalData);
        match (actor.scope(), entity_code) {
            (Scope::National, None) => Ok(CutScope::National),
            (Scope::National, Some(code)) => Ok(CutScope::Entity {
                code: EntityCode::parse(code).map_err(|_| ServiceError::NotFound)?,
                withheld,
            }),
            (Scope::Entity(own), asked) => match asked {
                Some(a) if own != a => Err(ServiceError::NotFound),
                _ => Ok(CutScope::Entity {
                    code: own,
                    withheld,
                }),
            },
            (Scope::Institution(_), _) => Err(ServiceError::Forbidden { detail: None }),
        }
    }

    fn entity(&self) -> Option<&str> {
        match self {
            CutScope::National => None,
            CutScope::Entity { code, .. } => Some(code.as_str()),
        }
    }
}

/// The figures a scope reads of a cut's stored document: the country's
/// (record counts and dashboards), or one entity's (its record counts and
/// its frozen dashboards; counts of 1 to 4 withheld when the scope says).
fn project(figures: &Value, scope: &CutScope) -> Value {
    let counts = figures
        .get("record_counts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match scope {
        CutScope::National => json!({
            "record_counts": counts,
            "dashboards": figures.get("dashboards").cloned().unwrap_or_else(|| json!({})),
        }),
        CutScope::Entity { code, withheld } => {
            let counts: Vec<Value> = counts
                .into_iter()
                .filter(|c| c.get("entity_code").and_then(Value::as_str) == Some(code.as_str()))
                .map(|mut c| {
                    let n = c.get("records").and_then(Value::as_i64).unwrap_or(0);
                    if *withheld && is_small(n) {
                        c["records"] = Value::Null;
                        c["withheld"] = Value::Bool(true);
                    }
                    c
                })
                .collect();
            let copy = if *withheld { "withheld" } else { "exact" };
            json!({
                "entity_code": code,
                "record_counts": counts,
                // Cuts taken before entities got their copies have none.
                "dashboards": figures
                    .get("entities")
                    .and_then(|e| e.get(code.as_str()))
                    .and_then(|e| e.get(copy))
                    .cloned()
                    .unwrap_or_else(|| json!({})),
            })
        }
    }
}

fn scoped(row: CutRow, scope: &CutScope, verified: Option<bool>) -> CutView {
    let figures = project(&row.figures, scope);
    let mut v = view(row, verified);
    v.figures = figures;
    v
}

/// Every cut, newest first, with the figures the caller's scope reads.
pub async fn list(pool: &Pool, caller: &Caller) -> ServiceResult<Vec<CutView>> {
    let scope = CutScope::of(caller, None)?;
    let mut conn = db::conn(pool).await?;
    Ok(cuts::list(&mut conn)
        .await?
        .into_iter()
        .map(|r| scoped(r, &scope, None))
        .collect())
}

/// One cut, with its proof recomputed (the stored (id, version) pairs and
/// the whole stored document must still hash to its digest) and the
/// figures the caller's scope reads.
pub async fn get(
    pool: &Pool,
    caller: &Caller,
    id: Uuid,
    entity_code: Option<&str>,
) -> ServiceResult<CutView> {
    let scope = CutScope::of(caller, entity_code)?;
    let mut conn = db::conn(pool).await?;
    let row = cuts::get(&mut conn, id).await?;
    let verified = verify(&mut conn, &row).await?;
    Ok(scoped(row, &scope, Some(verified)))
}

async fn verify(conn: &mut diesel_async::AsyncPgConnection, row: &CutRow) -> ServiceResult<bool> {
    let records = cuts::records_digest(conn, row.id).await?;
    Ok(records.digest == row.records_digest
        && records.records == row.record_count
        && digest(&row.figures, &row.records_digest) == row.digest)
}

/// What the other side of a comparison is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgainstWhat {
    /// The records and figures as they stand.
    Now,
    /// A later cut of the same quarter.
    Cut(Uuid),
}

/// One figure that differs. Withheld figures are `null` on their side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FigureChange {
    /// `record_counts` or the dashboard's name.
    pub source: String,
    /// The dashboard's table (`None` for record counts).
    pub table: Option<String>,
    /// Row code (`_total`: the column totals) — the entity for record counts.
    pub row: String,
    /// Column code (`_total`: the row's total) — the form for record counts.
    pub column: String,
    pub before: Option<Figure>,
    pub after: Option<Figure>,
    /// `after − before` when both are published.
    pub delta: Option<Figure>,
}

/// Why a record explains a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordChangeKind {
    /// Registered after the cut with a date in the quarter.
    RegisteredLate,
    /// Existed at the cut, but its date was moved into the quarter.
    MovedIntoPeriod,
    /// Counted by the cut; its date was moved out of the quarter.
    MovedOutOfPeriod,
    /// Counted by the cut; no longer stored.
    Removed,
    /// Changed after the cut (a new version).
    ChangedAfterCut,
    /// Moved to another entity after the cut.
    MovedBetweenEntities,
    /// Confirmed as the same person as another record after the cut: the
    /// victims' figures count them once.
    MergedAsDuplicate,
}

/// A record that explains a difference, with the last change the audit
/// log holds for it between the two moments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordChange {
    pub record_id: Uuid,
    pub form: String,
    pub change: RecordChangeKind,
    pub version_before: Option<i32>,
    pub version_after: Option<i32>,
    pub entity_before: Option<String>,
    pub entity_after: Option<String>,
    /// The other record, for a merge.
    pub other_record_id: Option<Uuid>,
    /// The sender's folio: for roles that read personal data only.
    pub external_folio: Option<String>,
    /// Who made the change (username), from the audit log.
    pub changed_by: Option<String>,
    pub changed_at: Option<DateTime<Utc>>,
    /// The audit action (`create`, `update`, `duplicate_confirmed`, …).
    pub action: Option<String>,
}

/// "Why did the figure change": every figure that differs between a cut
/// and a later cut of its quarter or the present, and the records that
/// explain it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CutDiff {
    pub cut_id: Uuid,
    pub year: i32,
    pub quarter: u8,
    /// `now`, or the later cut's id.
    pub against: String,
    /// When the other side stands: the later cut's moment, or now.
    pub against_at: DateTime<Utc>,
    /// The entity compared (`None`: the country).
    pub entity_code: Option<String>,
    pub figures: Vec<FigureChange>,
    pub records: Vec<RecordChange>,
    /// How many records differ (the list stops at the limit asked).
    pub records_total: i64,
}

/// The most records a diff lists.
pub const DIFF_MAX_RECORDS: i64 = 5_000;

/// Compares a cut with a later cut of the same quarter or with the
/// present, in the caller's scope.
pub async fn diff(
    pool: &Pool,
    caller: &Caller,
    id: Uuid,
    against: AgainstWhat,
    entity_code: Option<&str>,
    limit: i64,
) -> ServiceResult<CutDiff> {
    let scope = CutScope::of(caller, entity_code)?;
    let limit = limit.clamp(1, DIFF_MAX_RECORDS);
    let mut conn = db::conn(pool).await?;
    let before = cuts::get(&mut conn, id).await?;
    let quarter = Quarter {
        year: before.year,
        quarter: before.quarter as u8,
    };
    let (from, until) = bounds(quarter);
    let dated = dated_forms();
    // The present is read in one snapshot: figures and records agree.
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ServiceError, _>(async |conn| {
            let (after_figures, after_at, side) = match against {
                AgainstWhat::Cut(other) => {
                    let after = cuts::get(conn, other).await.map_err(|e| match e {
                        sintra_persistence::StoreError::NotFound => ServiceError::invalid(
                            "against",
                            FieldCode::UnknownCut,
                            "No existe ese corte.",
                            "There is no such cut.",
                        ),
                        e => e.into(),
                    })?;
                    if (after.year, after.quarter) != (before.year, before.quarter)
                        || after.taken_at < before.taken_at
                    {
                        return Err(ServiceError::invalid(
                            "against",
                            FieldCode::NotALaterCut,
                            "Compare con un corte posterior del mismo trimestre, o con «now».",
                            "Compare with a later cut of the same quarter, or with «now».",
                        ));
                    }
                    (
                        project(&after.figures, &scope),
                        after.taken_at,
                        cuts::Against::Cut(after.id),
                    )
                }
                AgainstWhat::Now => {
                    let now = Utc::now();
                    let figures = present(conn, caller, &scope, &dated, &from, &until).await?;
                    (
                        figures,
                        now,
                        cuts::Against::Now {
                            forms: &dated,
                            from: &from,
                            until: &until,
                        },
                    )
                }
            };
            let figures = figure_changes(&project(&before.figures, &scope), &after_figures);
            let rows = cuts::record_changes(
                conn,
                before.id,
                side,
                scope.entity(),
                before.taken_at,
                after_at,
                limit,
            )
            .await?;
            let personal = caller.actor.can(Permission::ReadPersonalData);
            let changed_records = rows.first().map(|r| r.total).unwrap_or(0);
            let mut records: Vec<RecordChange> = rows
                .into_iter()
                .map(|r| RecordChange {
                    change: match (r.version_before, r.version_after) {
                        (None, _) if r.created_at.is_some_and(|t| t > before.taken_at) => {
                            RecordChangeKind::RegisteredLate
                        }
                        (None, _) => RecordChangeKind::MovedIntoPeriod,
                        (Some(_), None) if r.created_at.is_none() => RecordChangeKind::Removed,
                        (Some(_), None) => RecordChangeKind::MovedOutOfPeriod,
                        (Some(_), Some(_)) if r.entity_before != r.entity_after => {
                            RecordChangeKind::MovedBetweenEntities
                        }
                        (Some(_), Some(_)) => RecordChangeKind::ChangedAfterCut,
                    },
                    record_id: r.record_id,
                    form: r.form,
                    version_before: r.version_before,
                    version_after: r.version_after,
                    entity_before: r.entity_before,
                    entity_after: r.entity_after,
                    other_record_id: None,
                    external_folio: r.external_folio.filter(|_| personal),
                    changed_by: r.changed_by,
                    changed_at: r.changed_at,
                    action: r.action,
                })
                .collect();
            let merged = cuts::merged_pairs(
                conn,
                before.id,
                side,
                scope.entity(),
                before.taken_at,
                after_at,
            )
            .await?;
            let records_total = changed_records + merged.len() as i64;
            for p in merged {
                records.push(RecordChange {
                    record_id: p.person_b,
                    form: "victim".to_string(),
                    change: RecordChangeKind::MergedAsDuplicate,
                    version_before: None,
                    version_after: None,
                    entity_before: None,
                    entity_after: None,
                    other_record_id: Some(p.person_a),
                    external_folio: None,
                    changed_by: p.decided_by,
                    changed_at: p.decided_at,
                    action: Some(AuditAction::DuplicateConfirmed.as_str().to_string()),
                });
            }
            Ok(CutDiff {
                cut_id: before.id,
                year: before.year,
                quarter: before.quarter as u8,
                against: match against {
                    AgainstWhat::Now => "now".to_string(),
                    AgainstWhat::Cut(id) => id.to_string(),
                },
                against_at: after_at,
                entity_code: scope.entity().map(str::to_string),
                figures,
                records_total,
                records,
            })
        })
        .await
}

/// Each form with a period date, and where that date is.
fn dated_forms() -> Vec<(&'static str, DateSource)> {
    all_specs()
        .filter_map(|spec| {
            let source = match spec.period_date {
                PeriodDate::Field(key) => DateSource::Own(key),
                PeriodDate::Parent => match spec.parent.map(|p| p.spec().period_date) {
                    Some(PeriodDate::Field(key)) => DateSource::Parent(key),
                    _ => return None,
                },
                PeriodDate::None => return None,
            };
            Some((spec.key.as_str(), source))
        })
        .collect()
}

/// The quarter's figures as they stand, in the shape `project` gives a
/// stored cut's for the same scope.
async fn present(
    conn: &mut diesel_async::AsyncPgConnection,
    caller: &Caller,
    scope: &CutScope,
    dated: &[(&'static str, DateSource)],
    from: &str,
    until: &str,
) -> ServiceResult<Value> {
    let counts: Vec<Value> = cuts::current_counts(conn, dated, from, until)
        .await?
        .into_iter()
        .map(|c| json!({"entity_code": c.entity_code, "form": c.form, "records": c.records}))
        .collect();
    let (dashboards, entities) = match scope {
        CutScope::National => (
            dashboards_of(conn, &caller.actor, from, until).await?,
            json!({}),
        ),
        CutScope::Entity { code, withheld } => {
            let actor = entity_actor(&caller.actor, *code, *withheld);
            let copy = if *withheld { "withheld" } else { "exact" };
            let d = dashboards_of(conn, &actor, from, until).await?;
            (json!({}), json!({ code.as_str(): { copy: d } }))
        }
    };
    Ok(project(
        &json!({"record_counts": counts, "dashboards": dashboards, "entities": entities}),
        scope,
    ))
}

/// Every figure of two projected documents (`project`'s shape) that
/// differs, in a stable order: record counts, then each dashboard's tables.
fn figure_changes(before: &Value, after: &Value) -> Vec<FigureChange> {
    let mut out = vec![];
    let flat_before = flatten(before);
    let flat_after = flatten(after);
    let keys: std::collections::BTreeSet<&FigureKey> =
        flat_before.keys().chain(flat_after.keys()).collect();
    for k in keys {
        let b = flat_before.get(k).copied().flatten();
        let a = flat_after.get(k).copied().flatten();
        if figure_eq(b, a) {
            continue;
        }
        out.push(FigureChange {
            source: k.0.clone(),
            table: k.1.clone(),
            row: k.2.clone(),
            column: k.3.clone(),
            before: b,
            after: a,
            delta: match (b, a) {
                (Some(Figure::Count(x)), Some(Figure::Count(y))) => Some(Figure::Count(y - x)),
                (Some(x), Some(y)) => Some(Figure::Value(as_f64(y) - as_f64(x))),
                _ => None,
            },
        });
    }
    out
}

type FigureKey = (String, Option<String>, String, String);

fn as_f64(f: Figure) -> f64 {
    match f {
        Figure::Count(n) => n as f64,
        Figure::Value(x) => x,
    }
}

fn figure_eq(a: Option<Figure>, b: Option<Figure>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (as_f64(x) - as_f64(y)).abs() < 1e-9,
        _ => false,
    }
}

/// Every figure of a projected document by (source, table, row, column).
/// A figure absent from one side is absent from the map: a row that
/// appears (a new month, a new category) compares with nothing.
fn flatten(doc: &Value) -> BTreeMap<FigureKey, Option<Figure>> {
    let mut out = BTreeMap::new();
    for c in doc
        .get("record_counts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        out.insert(
            (
                "record_counts".to_string(),
                None,
                text("entity_code"),
                text("form"),
            ),
            c.get("records").and_then(Value::as_i64).map(Figure::Count),
        );
    }
    let Some(dashboards) = doc.get("dashboards").and_then(Value::as_object) else {
        return out;
    };
    for (name, value) in dashboards {
        let Ok(f) = serde_json::from_value::<Figures>(value.clone()) else {
            continue;
        };
        for t in &f.tables {
            let mut put = |row: &str, column: &str, v: Option<Figure>| {
                out.insert(
                    (
                        name.clone(),
                        Some(t.key.clone()),
                        row.to_string(),
                        column.to_string(),
                    ),
                    v,
                );
            };
            for r in &t.rows {
                for (c, v) in t.columns.iter().zip(&r.cells) {
                    put(&r.code, &c.code, *v);
                }
                put(&r.code, TOTAL, r.total);
            }
            for (c, v) in t.columns.iter().zip(&t.column_totals) {
                put(TOTAL, &c.code, *v);
            }
            put(TOTAL, TOTAL, t.grand_total);
        }
    }
    out
}

/// A cut as the official quarterly report: a cover with its date, digest
/// and proof, the record counts, and a sheet per table of every dashboard,
/// as the caller's scope reads them.
pub async fn workbook(
    pool: &Pool,
    caller: &Caller,
    id: Uuid,
    entity_code: Option<&str>,
) -> ServiceResult<(CutView, Vec<u8>)> {
    let cut = get(pool, caller, id, entity_code).await?;
    let lang = caller.lang;
    let dashboards: Vec<Figures> = cut
        .figures
        .get("dashboards")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(_, v)| serde_json::from_value(v.clone()).ok())
        .collect();
    let counts: Vec<CountLine> = cut
        .figures
        .get("record_counts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| CountLine {
            entity_code: c["entity_code"].as_str().unwrap_or("").to_string(),
            form: c["form"].as_str().unwrap_or("").to_string(),
            records: c["records"].as_i64(),
        })
        .collect();
    let scope_line = match cut.figures.get("entity_code").and_then(Value::as_str) {
        Some(code) => code.to_string(),
        None => match lang {
            Lang::Es => "nacional".to_string(),
            Lang::En => "national".to_string(),
        },
    };
    let cover = CutCover {
        year: cut.year,
        quarter: cut.quarter,
        taken_at: cut.taken_at,
        scope: scope_line,
        record_count: cut.record_count,
        records_digest: cut.records_digest.clone(),
        digest: cut.digest.clone(),
        verified: cut.verified.unwrap_or(false),
    };
    let bytes = sintra_excel::figures::cut_workbook(&cover, &counts, &dashboards, lang)
        .map_err(|e| ServiceError::Internal(format!("the cut's workbook: {e}")))?;
    Ok((cut, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_ignores_key_order() {
        let a = json!({"b": 1, "a": [{"y": "x", "x": 2}]});
        let b: Value = serde_json::from_str(r#"{"a": [{"x": 2, "y": "x"}], "b": 1}"#).unwrap();
        assert_eq!(digest(&a, "d"), digest(&b, "d"));
        assert_ne!(digest(&a, "d"), digest(&a, "e"));
        assert_eq!(canonical(&a), r#"{"a":[{"x":2,"y":"x"}],"b":1}"#);
    }

    #[test]
    fn quarters_bound_their_days() {
        let q = |year, quarter| bounds(Quarter { year, quarter });
        assert_eq!(q(2024, 1), ("2024-01-01".into(), "2024-04-01".into()));
        assert_eq!(q(2024, 2), ("2024-04-01".into(), "2024-07-01".into()));
        assert_eq!(q(2024, 3), ("2024-07-01".into(), "2024-10-01".into()));
        assert_eq!(q(2024, 4), ("2024-10-01".into(), "2025-01-01".into()));
    }
}
