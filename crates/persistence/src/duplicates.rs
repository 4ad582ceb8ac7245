//! Stored blocking keys and duplicate pairs of people.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::Scope;
use sintra_domain::duplicates::{MatchLevel, PairStatus};
use sintra_domain::forms::FormKey;
use uuid::Uuid;

use crate::error::StoreResult;
use crate::records::RecordRow;
use crate::schema::{duplicate_pairs, records};

/// The separator of the keys one person's probes travel as (as stored
/// keys travel in `records::insert_many`).
const KEY_SEPARATOR: &str = "\u{1f}";

/// The stored people who may be each of `people` (each given by its probe
/// keys): for each person, the indices into the returned rows of those
/// sharing a key with it, at most `limit_each`, nationwide (scope decides
/// later what the caller is told about each). Each row is fetched once,
/// however many people it may be.
pub async fn candidates_each(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    people: &[&[String]],
    limit_each: i64,
) -> StoreResult<(Vec<Vec<usize>>, Vec<RecordRow>)> {
    #[derive(QueryableByName)]
    struct Hit {
        #[diesel(sql_type = Integer)]
        person: i32,
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let mut blocks: Vec<Vec<usize>> = vec![vec![]; people.len()];
    if people.iter().all(|p| p.is_empty()) {
        return Ok((blocks, vec![]));
    }
    let joined: Vec<String> = people
        .iter()
        .map(|keys| {
            debug_assert!(keys.iter().all(|k| !k.contains(KEY_SEPARATOR)));
            keys.join(KEY_SEPARATOR)
        })
        .collect();
    // Through the function of migration `person_candidates_each`: one
    // small GIN lookup per person, never a read of the whole table.
    let hits: Vec<Hit> = diesel::sql_query("SELECT person, id FROM person_candidates_each($1, $2)")
        .bind::<Array<Text>, _>(&joined)
        .bind::<Integer, _>(limit_each.clamp(0, i32::MAX as i64) as i32)
        .load(conn)
        .await?;
    let mut ids: Vec<Uuid> = hits.iter().map(|h| h.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let rows: Vec<RecordRow> = if ids.is_empty() {
        vec![]
    } else {
        records::table
            .filter(records::id.eq_any(&ids))
            .filter(records::form.eq(form.as_str()))
            .select(RecordRow::as_select())
            .load(conn)
            .await?
    };
    let at: std::collections::HashMap<Uuid, usize> =
        rows.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for h in hits {
        // Ordinality counts from 1; a row of another form is not a person.
        let person = usize::try_from(h.person)
            .ok()
            .and_then(|n| n.checked_sub(1));
        if let (Some(p), Some(&i)) = (person, at.get(&h.id)) {
            if let Some(block) = blocks.get_mut(p) {
                block.push(i);
            }
        }
    }
    Ok((blocks, rows))
}

fn ordered(a: Uuid, b: Uuid) -> (Uuid, Uuid) {
    if a < b {
        (a, b)
    } else {
        (b, a)
    }
}

/// The people this one was declared not to be.
pub async fn dismissed_partners(
    conn: &mut AsyncPgConnection,
    person: Uuid,
) -> StoreResult<HashSet<Uuid>> {
    let rows: Vec<(Uuid, Uuid)> = duplicate_pairs::table
        .filter(duplicate_pairs::status.eq(PairStatus::Dismissed.as_str()))
        .filter(
            duplicate_pairs::person_a
                .eq(person)
                .or(duplicate_pairs::person_b.eq(person)),
        )
        .select((duplicate_pairs::person_a, duplicate_pairs::person_b))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(a, b)| if a == person { b } else { a })
        .collect())
}

/// Records (or refreshes) an open pair; a decided pair keeps its decision.
pub async fn raise_pair(
    conn: &mut AsyncPgConnection,
    a: Uuid,
    b: Uuid,
    level: MatchLevel,
    score: f64,
) -> StoreResult<()> {
    let (a, b) = ordered(a, b);
    diesel::insert_into(duplicate_pairs::table)
        .values((
            duplicate_pairs::id.eq(Uuid::now_v7()),
            duplicate_pairs::person_a.eq(a),
            duplicate_pairs::person_b.eq(b),
            duplicate_pairs::level.eq(level.as_str()),
            duplicate_pairs::score.eq(score),
        ))
        .on_conflict((duplicate_pairs::person_a, duplicate_pairs::person_b))
        .do_update()
        .set((
            duplicate_pairs::level.eq(level.as_str()),
            duplicate_pairs::score.eq(score),
            duplicate_pairs::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records many open pairs at once (an import: its new people have no
/// pair yet, so nothing is refreshed). Each pair is given once.
pub async fn raise_pairs(
    conn: &mut AsyncPgConnection,
    pairs: &[(Uuid, Uuid, MatchLevel, f64)],
) -> StoreResult<()> {
    for chunk in pairs.chunks(5_000) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|(a, b, level, score)| {
                let (a, b) = ordered(*a, *b);
                (
                    duplicate_pairs::id.eq(Uuid::now_v7()),
                    duplicate_pairs::person_a.eq(a),
                    duplicate_pairs::person_b.eq(b),
                    duplicate_pairs::level.eq(level.as_str()),
                    duplicate_pairs::score.eq(*score),
                )
            })
            .collect();
        diesel::insert_into(duplicate_pairs::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = duplicate_pairs)]
pub struct Pair {
    pub id: Uuid,
    pub person_a: Uuid,
    pub person_b: Uuid,
    pub level: MatchLevel,
    pub score: f64,
    pub status: PairStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// The ids of the records the scope covers, as a subquery.
fn ids_in(scope: &Scope) -> records::BoxedQuery<'static, diesel::pg::Pg, diesel::sql_types::Uuid> {
    crate::records::in_scope(records::table.select(records::id).into_boxed(), scope)
}

/// Pairs whose *both* people lie in the scope (a pair half outside it is
/// not the caller's to decide), newest first.
pub async fn list_pairs(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    status: Option<PairStatus>,
    before: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Pair>> {
    let mut q = duplicate_pairs::table
        .filter(duplicate_pairs::person_a.eq_any(ids_in(scope)))
        .filter(duplicate_pairs::person_b.eq_any(ids_in(scope)))
        .select(Pair::as_select())
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(duplicate_pairs::status.eq(s.as_str()));
    }
    if let Some(b) = before {
        q = q.filter(duplicate_pairs::id.lt(b));
    }
    Ok(q.order(duplicate_pairs::id.desc())
        .limit(limit)
        .load(conn)
        .await?)
}

pub async fn get_pair(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Pair> {
    Ok(duplicate_pairs::table
        .filter(duplicate_pairs::id.eq(id))
        .select(Pair::as_select())
        .first(conn)
        .await?)
}

/// A pair, its row locked until the transaction ends.
pub async fn get_pair_for_update(conn: &mut AsyncPgConnection, id: Uuid) -> StoreResult<Pair> {
    Ok(duplicate_pairs::table
        .filter(duplicate_pairs::id.eq(id))
        .select(Pair::as_select())
        .for_update()
        .first(conn)
        .await?)
}

pub async fn decide_pair(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    status: PairStatus,
    by: Uuid,
) -> StoreResult<Pair> {
    Ok(
        diesel::update(duplicate_pairs::table.filter(duplicate_pairs::id.eq(id)))
            .set((
                duplicate_pairs::status.eq(status.as_str()),
                duplicate_pairs::decided_by.eq(by),
                duplicate_pairs::decided_at.eq(diesel::dsl::now),
                duplicate_pairs::updated_at.eq(diesel::dsl::now),
            ))
            .returning(Pair::as_returning())
            .get_result(conn)
            .await?,
    )
}

/// How many stored people carry each of these name terms, and how many
/// people there are (the term `*`), as last folded. Terms nobody carries
/// are absent.
pub async fn name_counts(
    conn: &mut AsyncPgConnection,
    terms: &[String],
) -> StoreResult<(u64, std::collections::HashMap<String, u64>)> {
    use crate::schema::name_term_counts as c;
    let mut wanted: Vec<&str> = terms.iter().map(String::as_str).collect();
    wanted.push(sintra_domain::duplicates::PEOPLE_TERM);
    let rows: Vec<(String, i64)> = c::table
        .filter(c::term.eq_any(wanted))
        .select((c::term, c::people))
        .load(conn)
        .await?;
    let mut counts: std::collections::HashMap<String, u64> = rows
        .into_iter()
        .map(|(t, n)| (t, n.max(0) as u64))
        .collect();
    let people = counts
        .remove(sintra_domain::duplicates::PEOPLE_TERM)
        .unwrap_or(0);
    Ok((people, counts))
}

/// Folds the name-term changes written since the last fold into the
/// counts (migration `name_frequencies`); returns how many it folded. A
/// fold already running elsewhere makes this one a no-op.
pub async fn fold_name_terms(conn: &mut AsyncPgConnection) -> StoreResult<i64> {
    #[derive(QueryableByName)]
    struct Folded {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        folded: i64,
    }
    let row: Folded = diesel::sql_query("SELECT fold_name_terms() AS folded")
        .get_result(conn)
        .await?;
    Ok(row.folded)
}

/// People stored before their name terms were (ids and data), `limit` at
/// a time, for the backfill that counts them.
pub async fn people_without_terms(
    conn: &mut AsyncPgConnection,
    form: FormKey,
    limit: i64,
) -> StoreResult<Vec<(Uuid, serde_json::Value)>> {
    Ok(records::table
        .filter(records::form.eq(form.as_str()))
        .filter(records::name_terms.is_null())
        .select((records::id, records::data))
        .order(records::id)
        .limit(limit)
        .load(conn)
        .await?)
}

/// Stores a person's name terms (the trigger counts them).
pub async fn set_name_terms(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    terms: &[String],
) -> StoreResult<()> {
    diesel::update(records::table.filter(records::id.eq(id)))
        .set(records::name_terms.eq(terms))
        .execute(conn)
        .await?;
    Ok(())
}
