//! Quarterly periods (DESIGN.md §7): listing an entity's quarters, their
//! transitions (submit, close, reopen; a national close of every entity at
//! once), and the lock every record write takes on the quarters it touches.
//!
//! The rules (which step leads where, who takes it, what a reason must be)
//! are `sintra_domain::periods`; this module reads and locks the rows,
//! audits each transition in its own transaction, and refuses writes into a
//! closed quarter with 409 `period_closed`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sintra_domain::access::{Caller, EntityCode, Scope};
use sintra_domain::error_code::ErrorCode;
use sintra_domain::forms::{FormSpec, PeriodDate};
use sintra_domain::i18n::Message;
use sintra_domain::periods::{
    closed_message, readable_entity, reopen_reason, PeriodAction, PeriodStatus, Quarter,
};
use sintra_persistence::audit::{self, AuditContext, AuditEntry};
use sintra_persistence::periods::{self, NewTransition, PeriodKey, PeriodRow, TransitionRow};
use sintra_persistence::records::{self, RecordRow};
use sintra_persistence::{db, org, Pool};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use sintra_domain::validation::FieldCode;

/// One transition of a quarter, as listed.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionView {
    pub action: PeriodAction,
    pub from_status: PeriodStatus,
    pub to_status: PeriodStatus,
    pub actor_id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
}

/// An entity's quarter: where it stands, its last change and its history.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodView {
    pub entity_code: String,
    pub year: i32,
    pub quarter: u8,
    pub status: PeriodStatus,
    pub changed_at: Option<DateTime<Utc>>,
    pub changed_by: Option<Uuid>,
    /// The last reopening's reason.
    pub reason: Option<String>,
    /// Oldest first.
    pub transitions: Vec<TransitionView>,
}

fn transition_view(t: TransitionRow) -> TransitionView {
    TransitionView {
        action: t.action,
        from_status: t.from_status,
        to_status: t.to_status,
        actor_id: t.actor_id,
        occurred_at: t.occurred_at,
        reason: t.reason,
    }
}

fn view(row: Option<&PeriodRow>, key: &PeriodKey) -> PeriodView {
    PeriodView {
        entity_code: key.entity_code.clone(),
        year: key.year,
        quarter: key.quarter as u8,
        status: match row {
            Some(r) => r.status,
            None => PeriodStatus::Open,
        },
        changed_at: row.and_then(|r| r.changed_at),
        changed_by: row.and_then(|r| r.changed_by),
        reason: row.and_then(|r| r.reason.clone()),
        transitions: vec![],
    }
}

/// The filters of `GET /periods`, as sent.
#[derive(Debug, Clone, Default)]
pub struct PeriodQuery {
    pub year: Option<i32>,
    pub quarter: Option<i64>,
    pub entity_code: Option<String>,
}

fn bad_year() -> ServiceError {
    ServiceError::malformed(
        ErrorCode::InvalidFilter,
        "Indique el año (year, de 1900 a 2200) y, si quiere, el trimestre (quarter, de 1 a 4).",
        "Give the year (year, 1900 to 2200) and, optionally, the quarter (quarter, 1 to 4).",
    )
}

/// The quarters of a year (one quarter, one entity, when asked) of every
/// entity the caller may read: the national level sees all, everyone else
/// its own entity (another entity's filter lists nothing). A quarter
/// nobody acted on is listed as open. Each with its transitions.
pub async fn list(
    pool: &Pool,
    caller: &Caller,
    query: PeriodQuery,
) -> ServiceResult<Vec<PeriodView>> {
    let year = query.year.ok_or_else(bad_year)?;
    let quarters: Vec<u8> = match query.quarter {
        Some(q) => vec![Quarter::new(year, q).ok_or_else(bad_year)?.quarter],
        None => {
            Quarter::new(year, 1).ok_or_else(bad_year)?;
            vec![1, 2, 3, 4]
        }
    };
    let readable = readable_entity(&caller.actor);
    let entity = match (readable, query.entity_code.as_deref()) {
        (Some(own), Some(asked)) if own != asked => return Ok(vec![]),
        (Some(own), _) => Some(own),
        (None, None) => None,
        // A code that is no entity's has no quarters.
        (None, Some(asked)) => match EntityCode::parse(asked) {
            Ok(code) => Some(code),
            Err(_) => return Ok(vec![]),
        },
    };
    let mut conn = db::conn(pool).await?;
    let entities: Vec<String> = org::list_entities(&mut conn)
        .await?
        .into_iter()
        .map(|e| e.code)
        .filter(|c| entity.is_none_or(|e| e == *c))
        .collect();
    let one_quarter = query.quarter.map(|_| quarters[0] as i16);
    let rows = periods::list(&mut conn, year, one_quarter, entity).await?;
    let rows: HashMap<PeriodKey, PeriodRow> = rows.into_iter().map(|r| (r.key(), r)).collect();
    let mut history: HashMap<PeriodKey, Vec<TransitionView>> = HashMap::new();
    for t in periods::transitions(&mut conn, year, one_quarter, entity).await? {
        let key = PeriodKey {
            entity_code: t.entity_code.clone(),
            year: t.year,
            quarter: t.quarter,
        };
        history.entry(key).or_default().push(transition_view(t));
    }
    let mut out = Vec::with_capacity(entities.len() * quarters.len());
    for e in &entities {
        for q in &quarters {
            let key = PeriodKey {
                entity_code: e.clone(),
                year,
                quarter: *q as i16,
            };
            let mut v = view(rows.get(&key), &key);
            v.transitions = history.remove(&key).unwrap_or_default();
            out.push(v);
        }
    }
    Ok(out)
}

fn invalid_transition(detail: Message) -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::InvalidPeriodTransition,
        detail,
    }
}

fn audit_entry(
    ctx: &AuditContext,
    action: PeriodAction,
    key: &PeriodKey,
    from: PeriodStatus,
    to: PeriodStatus,
    reason: Option<&str>,
) -> AuditEntry {
    let mut changes = json!({"status": {"before": from, "after": to}});
    if let Some(r) = reason {
        changes["reason"] = json!({"before": null, "after": r});
    }
    AuditEntry::modification(ctx, action.into(), "period")
        .resource(format!("{}/{}/{}", key.entity_code, key.year, key.quarter))
        .changes(changes)
}

/// Submits, closes or reopens one entity's quarter. Outside the caller's
/// entity (or an unknown entity or quarter) it reads as missing; a role
/// that may not take the step is refused (403); a step the quarter's status
/// does not admit is a conflict (409); a reopening without a reason is
/// invalid (422). The transition and its audit row share one transaction.
pub async fn transition(
    pool: &Pool,
    caller: &Caller,
    entity_code: EntityCode,
    year: i32,
    quarter: i64,
    action: PeriodAction,
    reason: Option<String>,
) -> ServiceResult<PeriodView> {
    let quarter = Quarter::new(year, quarter).ok_or(ServiceError::NotFound)?;
    if readable_entity(&caller.actor).is_some_and(|own| own != entity_code) {
        return Err(ServiceError::NotFound);
    }
    let mut conn = db::conn(pool).await?;
    if !org::entity_exists(&mut conn, entity_code.as_str()).await? {
        return Err(ServiceError::NotFound);
    }
    if !action.allowed(&caller.actor, entity_code) {
        return Err(ServiceError::Forbidden {
            detail: Some(match action {
                PeriodAction::Submit => Message::new(
                    "Solo la administración de la entidad valida su trimestre.",
                    "Only the entity's administration submits its quarter.",
                ),
                _ => Message::new(
                    "Solo la administración nacional cierra o reabre trimestres.",
                    "Only the national administration closes or reopens quarters.",
                ),
            }),
        });
    }
    let reason = match action {
        PeriodAction::Reopen => Some(reopen_reason(reason.as_deref()).map_err(|m| {
            ServiceError::Validation(vec![sintra_domain::validation::FieldError::new(
                "reason",
                FieldCode::ReasonRequired,
                m,
            )])
        })?),
        _ => None,
    };
    let ctx = AuditContext::for_caller(caller);
    let key = conn
        .transaction::<_, ServiceError, _>(async |conn| {
            let rows = periods::lock_for_transition(
                conn,
                Some(entity_code),
                quarter.year,
                quarter.quarter as i16,
            )
            .await?;
            let row = rows.into_iter().next().ok_or(ServiceError::NotFound)?;
            let from = row.status;
            let to = action.apply(from).map_err(invalid_transition)?;
            let key = row.key();
            periods::record_transition(
                conn,
                &NewTransition {
                    entity_code: key.entity_code.clone(),
                    year: key.year,
                    quarter: key.quarter,
                    action,
                    from_status: from,
                    to_status: to,
                    actor_id: caller.actor.user_id,
                    reason: reason.clone(),
                },
            )
            .await?;
            let entry = audit_entry(&ctx, action, &key, from, to, reason.as_deref());
            audit::append(conn, &[entry]).await?;
            Ok(key)
        })
        .await?;
    drop(conn);
    let query = PeriodQuery {
        year: Some(key.year),
        quarter: Some(key.quarter.into()),
        entity_code: Some(key.entity_code.clone()),
    };
    list(pool, caller, query)
        .await?
        .into_iter()
        .next()
        .ok_or(ServiceError::NotFound)
}

/// What a national close did.
#[derive(Debug, Clone, Serialize)]
pub struct NationalClose {
    pub year: i32,
    pub quarter: u8,
    /// The entities whose quarter this close closed.
    pub closed: Vec<String>,
    /// The entities whose quarter was already closed.
    pub already_closed: Vec<String>,
}

/// Closes a quarter for every entity at once (national admin): each entity
/// not yet closed is closed, audited one row per entity, all in one
/// transaction. When every entity was already closed: 409.
pub async fn close_all(
    pool: &Pool,
    caller: &Caller,
    year: i32,
    quarter: i64,
) -> ServiceResult<NationalClose> {
    let quarter = Quarter::new(year, quarter).ok_or(ServiceError::NotFound)?;
    if !PeriodAction::Close.allowed(&caller.actor, EntityCode::FEDERAL) {
        return Err(ServiceError::Forbidden {
            detail: Some(Message::new(
                "Solo la administración nacional cierra trimestres.",
                "Only the national administration closes quarters.",
            )),
        });
    }
    let ctx = AuditContext::for_caller(caller);
    let mut conn = db::conn(pool).await?;
    conn.transaction::<_, ServiceError, _>(async |conn| {
        let (out, entries) = close_everywhere(conn, caller, &ctx, quarter).await?;
        if out.closed.is_empty() {
            return Err(invalid_transition(Message::new(
                "El trimestre ya está cerrado en todas las entidades.",
                "The quarter is already closed in every entity.",
            )));
        }
        audit::append(conn, &entries).await?;
        Ok(out)
    })
    .await
}

/// Inside the caller's transaction: takes every entity's row of the
/// quarter `FOR UPDATE` (so no write of the quarter is in flight or can
/// start) and closes those not yet closed. Returns what it did and the
/// audit rows to append at the end of the transaction.
pub async fn close_everywhere(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    ctx: &AuditContext,
    quarter: Quarter,
) -> ServiceResult<(NationalClose, Vec<AuditEntry>)> {
    let rows =
        periods::lock_for_transition(conn, None, quarter.year, quarter.quarter as i16).await?;
    let mut out = NationalClose {
        year: quarter.year,
        quarter: quarter.quarter,
        closed: vec![],
        already_closed: vec![],
    };
    let mut entries = vec![];
    for row in rows {
        let from = row.status;
        let key = row.key();
        let Ok(to) = PeriodAction::Close.apply(from) else {
            out.already_closed.push(key.entity_code);
            continue;
        };
        periods::record_transition(
            conn,
            &NewTransition {
                entity_code: key.entity_code.clone(),
                year: key.year,
                quarter: key.quarter,
                action: PeriodAction::Close,
                from_status: from,
                to_status: to,
                actor_id: caller.actor.user_id,
                reason: None,
            },
        )
        .await?;
        entries.push(audit_entry(ctx, PeriodAction::Close, &key, from, to, None));
        out.closed.push(key.entity_code);
    }
    Ok((out, entries))
}

// ---- Locking record writes -------------------------------------------------

/// The quarter of an entity a record dated `day` falls in.
pub fn key_of(entity_code: EntityCode, day: Option<NaiveDate>) -> Option<PeriodKey> {
    let q = Quarter::of(day?);
    Some(PeriodKey {
        entity_code: entity_code.to_string(),
        year: q.year,
        quarter: q.quarter as i16,
    })
}

fn quarter_of(key: &PeriodKey) -> Quarter {
    Quarter {
        year: key.year,
        quarter: key.quarter as u8,
    }
}

/// The refusal of a write into a closed quarter (409 `period_closed`).
pub fn closed_error(key: &PeriodKey) -> ServiceError {
    ServiceError::Conflict {
        code: ErrorCode::PeriodClosed,
        detail: closed_message(&key.entity_code, quarter_of(key)),
    }
}

/// The per-field error of an import row into a closed quarter.
pub fn closed_field_error(
    spec: &FormSpec,
    key: &PeriodKey,
) -> sintra_domain::validation::FieldError {
    sintra_domain::validation::FieldError::new(
        spec.period_field().unwrap_or("external_folio"),
        FieldCode::PeriodClosed,
        closed_message(&key.entity_code, quarter_of(key)),
    )
}

/// Inside a write's transaction, before it writes: locks the quarters it
/// touches (`FOR SHARE`) and refuses when one is closed.
pub async fn guard_write(conn: &mut AsyncPgConnection, keys: &[PeriodKey]) -> ServiceResult<()> {
    let rows = periods::lock_for_write(conn, keys).await?;
    match rows.iter().find(|r| r.status == PeriodStatus::Closed) {
        Some(r) => Err(closed_error(&r.key())),
        None => Ok(()),
    }
}

/// The quarters among `keys` that are closed now, without locking (an
/// import's check, before its transaction).
pub async fn closed_among(
    conn: &mut AsyncPgConnection,
    keys: &[PeriodKey],
) -> ServiceResult<HashSet<PeriodKey>> {
    Ok(periods::statuses(conn, keys)
        .await?
        .into_iter()
        .filter(|r| r.status == PeriodStatus::Closed)
        .map(|r| r.key())
        .collect())
}

/// The period day a stored record had before a change: its own date, or
/// for a form dated by its parent, the date of the parent it had (the
/// same as the new one's when the parent did not change).
pub async fn day_before(
    conn: &mut AsyncPgConnection,
    spec: &FormSpec,
    previous: &RecordRow,
    new_parent: Option<Uuid>,
    new_day: Option<NaiveDate>,
) -> ServiceResult<Option<NaiveDate>> {
    let empty = Map::new();
    let data = previous.data.as_object().unwrap_or(&empty);
    match spec.period_date {
        PeriodDate::Field(_) => Ok(spec.period_day(data, None)),
        PeriodDate::Parent if previous.parent_id == new_parent => Ok(new_day),
        PeriodDate::Parent => {
            let (Some(pid), Some(parent_form)) = (previous.parent_id, spec.parent) else {
                return Ok(None);
            };
            let parent = records::get(conn, &Scope::National, parent_form, pid).await?;
            let parent_data: &Map<String, Value> = parent.data.as_object().unwrap_or(&empty);
            Ok(spec.period_day(data, Some(parent_data)))
        }
        PeriodDate::None => Ok(None),
    }
}
