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
use sintra_domain::access::{Caller, Permission};
use sintra_domain::forms::{all_specs, PeriodDate};
use sintra_domain::periods::Quarter;
use sintra_persistence::audit::{self, AuditAction, AuditContext, AuditEntry};
use sintra_persistence::cuts::{self, CutRow, DateSource};
use sintra_persistence::{db, Pool};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::figures::{compute, FiguresError, RawFilters};
use crate::periods::{close_everywhere, NationalClose};
use sintra_domain::figures::{DashboardKey, FilterKey};

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
            "out_of_range",
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
            cuts::store_records(conn, id, spec.key.as_str(), source, &from, &until).await?;
        }
        let counts: Vec<Value> = cuts::counts(conn, id)
            .await?
            .into_iter()
            .map(|c| json!({"entity_code": c.entity_code, "form": c.form, "records": c.records}))
            .collect();
        let dashboards = dashboards_of(conn, caller, &from, &until).await?;
        let figures = json!({ "record_counts": counts, "dashboards": dashboards });
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
            cut: view(row, None),
            closed,
        })
    })
    .await
}

/// Every dashboard that takes a date range, for the quarter's days
/// (`from` inclusive, `until` exclusive), in the caller's (national) scope.
async fn dashboards_of(
    conn: &mut diesel_async::AsyncPgConnection,
    caller: &Caller,
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
        let figures = compute(conn, &caller.actor, d, &raw)
            .await
            .map_err(|e| match e {
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

/// Every cut, newest first (national admin).
pub async fn list(pool: &Pool, caller: &Caller) -> ServiceResult<Vec<CutView>> {
    national_only(caller)?;
    let mut conn = db::conn(pool).await?;
    Ok(cuts::list(&mut conn)
        .await?
        .into_iter()
        .map(|r| view(r, None))
        .collect())
}

/// One cut (national admin), with its proof recomputed: the stored
/// (id, version) pairs and figures must still hash to its digest.
pub async fn get(pool: &Pool, caller: &Caller, id: Uuid) -> ServiceResult<CutView> {
    national_only(caller)?;
    let mut conn = db::conn(pool).await?;
    let row = cuts::get(&mut conn, id).await?;
    let records = cuts::records_digest(&mut conn, id).await?;
    let verified = records.digest == row.records_digest
        && records.records == row.record_count
        && digest(&row.figures, &row.records_digest) == row.digest;
    Ok(view(row, Some(verified)))
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
