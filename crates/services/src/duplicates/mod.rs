//! Duplicate warnings for people (aviso de información repetida, DESIGN.md
//! §5). Matching and scoring live in `sintra_domain::duplicates`; here the
//! stored blocking keys are kept current and each candidate is described
//! to the caller only as far as the caller's scope allows: a person outside
//! it is reported by entity, institution, level and score, never by id,
//! name, CURP, date of birth or field comparison.

pub mod check;
pub mod pairs;
pub mod people;

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use serde_json::{json, Map, Value};
use sintra_domain::access::{Caller, Scope};
use sintra_domain::duplicates::{MatchLevel, Matchable, NameFrequencies, PersonFacts};
use sintra_domain::forms::FormKey;
use sintra_persistence::duplicates as store;
use sintra_persistence::org;
use sintra_persistence::records::{PersonColumns, RecordRow};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};

/// The form whose records are people checked for duplicates.
pub const PERSON_FORM: FormKey = FormKey::Victim;
/// How many people sharing a block are compared at most.
const MAX_CANDIDATES: i64 = 500;
/// How many warnings an answer carries at most.
const MAX_WARNINGS: usize = 20;

fn text(data: &Map<String, Value>, key: &str) -> Option<String> {
    data.get(key).and_then(Value::as_str).map(str::to_string)
}

fn date(data: &Map<String, Value>, key: &str) -> Option<chrono::NaiveDate> {
    data.get(key)
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

fn facts_of(row: &RecordRow) -> PersonFacts {
    match &row.data {
        Value::Object(m) => facts(m),
        _ => facts(&Map::new()),
    }
}

/// The facts of a victim record that matching uses.
pub fn facts(data: &Map<String, Value>) -> PersonFacts {
    PersonFacts {
        given_names: text(data, "given_names"),
        first_surname: text(data, "first_surname"),
        second_surname: text(data, "second_surname"),
        curp: text(data, "curp"),
        birth_date: date(data, "birth_date"),
        age_years: data
            .get("age_at_detection")
            .and_then(Value::as_u64)
            .map(|n| n as u32),
        age_reference_date: date(data, "detection_date"),
        sex: text(data, "sex"),
        missing_report_folio: text(data, "missing_report_folio"),
    }
}

/// A person as matching sees it: the facts compared, the keys stored with
/// the record and the keys a check looks up (the stored ones with birth
/// years widened by one), worked out once per record (an import needs
/// them three times).
#[derive(Debug, Clone)]
pub struct Person {
    pub matchable: Matchable,
    pub keys: Vec<String>,
    pub probes: Vec<String>,
    /// The name terms the person is counted under (name frequencies).
    pub terms: Vec<String>,
}

impl Person {
    pub fn of(data: &Map<String, Value>) -> Person {
        let matchable = Matchable::of(&facts(data));
        let keys = matchable.keys();
        let probes = matchable.probes();
        let terms = matchable.terms();
        Person {
            matchable,
            keys,
            probes,
            terms,
        }
    }

    /// The columns its row carries for matching.
    pub fn columns(&self) -> PersonColumns<'_> {
        PersonColumns {
            blocking_keys: &self.keys,
            name_terms: &self.terms,
        }
    }
}

/// A possible duplicate, as the caller may see it.
pub struct Warning {
    pub level: MatchLevel,
    pub score: f64,
    pub candidate_id: Uuid,
    pub json: Value,
}

/// Compares a person (stored as `id`, or a draft) with everyone sharing a
/// blocking key, except pairs already dismissed.
pub async fn find(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    id: Option<Uuid>,
    person: &Person,
) -> ServiceResult<Vec<Warning>> {
    Ok(find_many(conn, caller, &[(id, person)])
        .await?
        .pop()
        .unwrap_or_default())
}

/// [`find`] for many people at once (an Excel import): one round trip
/// looks up each person's block (a small index lookup per person) and
/// fetches every row they touch once, and each person is compared with
/// its own block only.
pub async fn find_many(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    people: &[(Option<Uuid>, &Person)],
) -> ServiceResult<Vec<Vec<Warning>>> {
    let probes: Vec<&[String]> = people.iter().map(|(_, p)| p.probes.as_slice()).collect();
    let (blocks, candidates) =
        store::candidates_each(conn, PERSON_FORM, &probes, MAX_CANDIDATES).await?;
    let theirs: Vec<Matchable> = candidates
        .iter()
        .map(|c| Matchable::of(&facts_of(c)))
        .collect();
    // How common the names compared are: one primary-key lookup per term.
    let freq = {
        let mut terms: Vec<String> = people
            .iter()
            .flat_map(|(_, p)| p.terms.iter().cloned())
            .chain(theirs.iter().flat_map(Matchable::terms))
            .collect();
        terms.sort_unstable();
        terms.dedup();
        let (total, counts) = store::name_counts(conn, &terms).await?;
        NameFrequencies::new(total, counts)
    };
    let scope = caller.actor.scope();
    let mut institutions: HashMap<Uuid, String> = HashMap::new();
    let mut out = Vec::with_capacity(people.len());
    for ((id, person), block) in people.iter().zip(blocks) {
        let dismissed = match id {
            Some(p) => store::dismissed_partners(conn, *p).await?,
            None => Default::default(),
        };
        let mut warnings = vec![];
        for i in block {
            let c = &candidates[i];
            if Some(c.id) == *id || dismissed.contains(&c.id) {
                continue;
            }
            let Some(m) = person.matchable.compare_weighted(&theirs[i], &freq) else {
                continue;
            };
            let name = match institutions.get(&c.institution_id) {
                Some(n) => n.clone(),
                None => {
                    let n = org::get_institution(conn, &Scope::National, c.institution_id)
                        .await?
                        .name;
                    institutions.insert(c.institution_id, n.clone());
                    n
                }
            };
            warnings.push(describe(&scope, c, m, name));
        }
        warnings.sort_by(|a, b| {
            b.level.rank().cmp(&a.level.rank()).then(
                b.score
                    .partial_cmp(&a.score)
                    .unwrap_or(std::cmp::Ordering::Equal),
            )
        });
        warnings.truncate(MAX_WARNINGS);
        out.push(warnings);
    }
    Ok(out)
}

/// A candidate as the caller may see it: by id and field comparison only
/// inside the caller's scope.
fn describe(
    scope: &Scope,
    c: &RecordRow,
    m: sintra_domain::duplicates::MatchResult,
    institution: String,
) -> Warning {
    let visible = scope.contains(c.entity_code, c.institution_id);
    let candidate = if visible {
        json!({"id": c.id, "entity_code": c.entity_code, "institution": institution})
    } else {
        json!({"entity_code": c.entity_code, "institution": institution})
    };
    Warning {
        level: m.level,
        score: m.score,
        candidate_id: c.id,
        json: json!({
            "code": "possible_duplicate",
            "level": m.level,
            "score": m.score,
            "candidate": candidate,
            "comparison": if visible { serde_json::to_value(m.comparison).unwrap_or(Value::Null) } else { Value::Null },
        }),
    }
}

/// After a person is written (inside its transaction, its keys stored with
/// it): finds its duplicates and records them as open pairs. With
/// `reject`, an exact or probable duplicate refuses the write (409) and,
/// the transaction rolling back, nothing is stored.
pub async fn after_write(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    row: &RecordRow,
    person: &Person,
    reject: bool,
) -> ServiceResult<Vec<Value>> {
    let warnings = find(conn, caller, Some(row.id), person).await?;
    let strong = |w: &Warning| matches!(w.level, MatchLevel::Exact | MatchLevel::Probable);
    if reject && warnings.iter().any(strong) {
        let candidates: Vec<Value> = warnings
            .into_iter()
            .filter(strong)
            .map(|w| w.json)
            .collect();
        return Err(ServiceError::Duplicate {
            candidates: Value::Array(candidates),
        });
    }
    for w in &warnings {
        raise(conn, row.id, w).await?;
    }
    Ok(warnings.into_iter().map(|w| w.json).collect())
}

/// Records the pair of a person and one of its possible duplicates.
pub async fn raise(conn: &mut AsyncPgConnection, person: Uuid, w: &Warning) -> ServiceResult<()> {
    store::raise_pair(conn, person, w.candidate_id, w.level, w.score).await?;
    Ok(())
}

/// Records the pairs an import found for its new people at once: each is
/// `(new person, other person, level, score)`, the other being stored or
/// another new person of the same file.
pub async fn raise_new(
    conn: &mut AsyncPgConnection,
    pairs: &[(Uuid, Uuid, MatchLevel, f64)],
) -> ServiceResult<()> {
    let mut seen = std::collections::HashSet::new();
    let rows: Vec<(Uuid, Uuid, MatchLevel, f64)> = pairs
        .iter()
        .filter(|(a, b, _, _)| a != b && seen.insert(if a < b { (*a, *b) } else { (*b, *a) }))
        .copied()
        .collect();
    store::raise_pairs(conn, &rows).await?;
    Ok(())
}

/// Folds the name-term changes of recent writes into the name
/// frequencies; run every few seconds by the server (and by tests and
/// benchmarks before they measure).
pub async fn fold_frequencies(pool: &sintra_persistence::Pool) -> ServiceResult<i64> {
    let mut conn = sintra_persistence::db::conn(pool).await?;
    Ok(store::fold_name_terms(&mut conn).await?)
}

/// Counts the people stored before name frequencies existed: works out
/// their name terms, 1,000 at a time, until none is left; returns how many
/// it counted. Run once at start-up.
pub async fn backfill_name_terms(pool: &sintra_persistence::Pool) -> ServiceResult<usize> {
    let mut conn = sintra_persistence::db::conn(pool).await?;
    let mut done = 0;
    loop {
        let batch = store::people_without_terms(&mut conn, PERSON_FORM, 1_000).await?;
        if batch.is_empty() {
            return Ok(done);
        }
        for (id, data) in &batch {
            let terms = match data {
                Value::Object(m) => Person::of(m).terms,
                _ => vec![],
            };
            store::set_name_terms(&mut conn, *id, &terms).await?;
        }
        done += batch.len();
    }
}

/// Folds name-term changes every `every`, for as long as the server runs.
pub async fn run_frequency_folder(pool: sintra_persistence::Pool, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = fold_frequencies(&pool).await {
            tracing::warn!(error = %e, "folding name frequencies failed; retried next tick");
        }
    }
}
