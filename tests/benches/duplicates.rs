//! Duplicate warnings at national scale (issue 18; DESIGN.md §11: a check
//! against 1,000,000 people under 10 ms).
//!
//! `cargo bench -p sintra-tests --bench duplicates` stores
//! `SINTRA_BENCH_PEOPLE` people (default 1,000,000) drawn by the labelled-set
//! generator (realistic Mexican name frequencies: many people share the
//! commonest names; siblings, twins and namesakes among them), 1% of them
//! true repeats of others, as the API stores them (blocking keys and name
//! terms, the name frequencies folded). Then it checks new records through
//! the service function every registration runs
//! (`sintra_services::duplicates::find`: stored keys → candidates → name
//! frequencies → weighted scoring):
//!
//! * `SINTRA_BENCH_FRESH` (default 5,000) people who are not stored: every
//!   exact or probable warning about them is false;
//! * `SINTRA_BENCH_REPEATS` (default 1,000) perturbed copies of stored
//!   people (the labelled set's errors: years and ages one off, typos,
//!   missing surnames…): recall is the share warned exact or probable about
//!   their person, and a warning about anyone else is false.
//!
//! It prints false warnings per 1,000 new records, recall, and the
//! latency of a check (median, p99) beside a reference measured in the same
//! run on the same connection: reading one record by primary key. The same
//! checks are also scored without name frequencies, to show what the
//! adjustment changes.

#[global_allocator]
static ALLOCATOR: sintra_http::Allocator = sintra_http::Allocator;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel_async::RunQueryDsl;
use serde_json::{json, Map, Value};
use sintra_domain::access::{Actor, Caller, Role, Scope};
use sintra_domain::duplicates::labelled::generate;
use sintra_domain::duplicates::{Matchable, PersonFacts};
use sintra_persistence::duplicates as store;
use sintra_persistence::records::{self, NewRecord};
use sintra_services::duplicates::{find, Person};
use sintra_tests::TestDb;
use uuid::Uuid;

fn data(p: &PersonFacts) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("condition".into(), json!("VICTIMA"));
    m.insert("given_names".into(), json!(p.given_names));
    m.insert("first_surname".into(), json!(p.first_surname));
    m.insert("second_surname".into(), json!(p.second_surname));
    m.insert("curp".into(), json!(p.curp));
    m.insert(
        "sex".into(),
        json!(p.sex.clone().unwrap_or_else(|| "NO_IDENTIFICADO".into())),
    );
    m.insert(
        "birth_date".into(),
        json!(p.birth_date.map(|d| d.to_string())),
    );
    m.insert("age_at_detection".into(), json!(p.age_years));
    m.insert(
        "detection_date".into(),
        json!(p
            .age_reference_date
            .map(|d| d.to_string())
            .unwrap_or_else(|| "2024-01-01".into())),
    );
    m.insert("detection_entity_code".into(), json!("19"));
    m
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What the checks found, with and without name frequencies.
#[derive(Default)]
struct Tally {
    false_fresh: usize,
    false_repeat: usize,
    found: usize,
}

fn main() {
    let people = env("SINTRA_BENCH_PEOPLE", 1_000_000);
    let fresh_n = env("SINTRA_BENCH_FRESH", 5_000);
    let repeats_n = env("SINTRA_BENCH_REPEATS", 1_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let db = TestDb::new().await;
        let mut conn = db.owner_conn().await;
        let institution = Uuid::now_v7();
        diesel::sql_query(format!(
            "INSERT INTO institutions (id, entity_code, name, institution_type) VALUES ('{institution}', '19', 'Banco de pruebas', 'FISCALIA')"
        ))
        .execute(&mut conn)
        .await
        .unwrap();

        // Stored: `distinct` people and `stored_repeats` copies of them (1%);
        // the next `repeats_n` copies are the repeats to check.
        let stored_repeats = people / 100;
        let distinct = people - stored_repeats;
        let started = Instant::now();
        let set = generate(20_261_207, distinct, stored_repeats + repeats_n);
        let fresh = generate(7_041_812, fresh_n, 0).people;
        println!(
            "generated {people} people to store ({stored_repeats} of them repeats), {fresh_n} new people and {repeats_n} repeats to check, in {:.1?}",
            started.elapsed()
        );

        // Who each stored row is: the index of its distinct person.
        let mut rows: Vec<(usize, &PersonFacts)> =
            set.people[..distinct].iter().enumerate().collect();
        for d in &set.duplicates[..stored_repeats] {
            rows.push((d.original, &set.people[d.copy]));
        }
        let started = Instant::now();
        let mut person_of: HashMap<Uuid, usize> = HashMap::with_capacity(rows.len());
        for chunk in rows.chunks(10_000) {
            let new: Vec<NewRecord> = chunk
                .iter()
                .map(|(who, p)| {
                    let d = data(p);
                    let person = Person::of(&d);
                    let id = Uuid::now_v7();
                    person_of.insert(id, *who);
                    NewRecord {
                        id,
                        form: "victim".into(),
                        entity_code: "19".into(),
                        institution_id: institution,
                        parent_id: None,
                        external_folio: None,
                        data: Value::Object(d),
                        created_by: None,
                        updated_by: None,
                        blocking_keys: Some(person.keys),
                        name_terms: Some(person.terms),
                    }
                })
                .collect();
            records::insert_many(&mut conn, &new).await.unwrap();
        }
        let loaded = started.elapsed();
        let started = Instant::now();
        let folded = store::fold_name_terms(&mut conn).await.unwrap();
        let fold_time = started.elapsed();
        diesel::sql_query("ANALYZE").execute(&mut conn).await.unwrap();
        println!(
            "stored {} people with their keys and name terms in {loaded:.1?}; folded {folded} name-term changes in {fold_time:.1?}",
            rows.len()
        );

        let caller = Caller {
            actor: Actor {
                user_id: Uuid::now_v7(),
                username: "bench".into(),
                role: Role::NationalAdmin,
                institution_id: institution,
                entity_code: sintra_domain::access::EntityCode::FEDERAL,
                token_id: Uuid::now_v7(),
            },
            request_id: "bench".into(),
            ip: None,
            lang: Default::default(),
        };
        // The new records: fresh people (no true match), then repeats.
        let checks: Vec<(Option<usize>, &PersonFacts)> = fresh
            .iter()
            .map(|p| (None, p))
            .chain(
                set.duplicates[stored_repeats..]
                    .iter()
                    .map(|d| (Some(d.original), &set.people[d.copy])),
            )
            .collect();

        // Warm the cache as a running server's would be.
        for (_, p) in checks.iter().take(200) {
            let person = Person::of(&data(p));
            find(&mut conn, &caller, None, &person).await.unwrap();
        }

        let mut times = Vec::with_capacity(checks.len());
        let mut weighted = Tally::default();
        let mut plain = Tally::default();
        let mut candidates_seen = 0usize;
        for (truth, p) in &checks {
            let person = Person::of(&data(p));
            let t = Instant::now();
            let warnings = find(&mut conn, &caller, None, &person).await.unwrap();
            times.push(t.elapsed());
            let mut hit = false;
            for w in &warnings {
                if !matches!(w.level, sintra_domain::duplicates::MatchLevel::Exact | sintra_domain::duplicates::MatchLevel::Probable) {
                    continue;
                }
                let right = truth.is_some() && person_of.get(&w.candidate_id) == truth.as_ref();
                hit |= right;
                if !right {
                    match truth {
                        None => weighted.false_fresh += 1,
                        Some(_) => weighted.false_repeat += 1,
                    }
                }
            }
            weighted.found += hit as usize;

            // The same check scored without frequencies (outside the timing).
            let probes = [person.probes.as_slice()];
            let (_, cands) = store::candidates_each(&mut conn, sintra_domain::forms::FormKey::Victim, &probes, 500)
                .await
                .unwrap();
            candidates_seen += cands.len();
            let mut hit = false;
            for c in &cands {
                let theirs = Matchable::of(&sintra_services::duplicates::facts(&c.fields()));
                let Some(m) = person.matchable.compare(&theirs) else { continue };
                if !matches!(m.level, sintra_domain::duplicates::MatchLevel::Exact | sintra_domain::duplicates::MatchLevel::Probable) {
                    continue;
                }
                let right = truth.is_some() && person_of.get(&c.id) == truth.as_ref();
                hit |= right;
                if !right {
                    match truth {
                        None => plain.false_fresh += 1,
                        Some(_) => plain.false_repeat += 1,
                    }
                }
            }
            plain.found += hit as usize;
        }

        let sample_ids: Vec<Uuid> = person_of.keys().take(checks.len()).copied().collect();
        let mut pk_times = Vec::with_capacity(sample_ids.len());
        for id in &sample_ids {
            let t = Instant::now();
            records::get(&mut conn, &Scope::National, sintra_domain::forms::FormKey::Victim, *id)
                .await
                .unwrap();
            pk_times.push(t.elapsed());
        }
        times.sort();
        pk_times.sort();
        let (median, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        let (pk_median, pk_p99) = (percentile(&pk_times, 0.5), percentile(&pk_times, 0.99));
        let new_records = checks.len() as f64;
        let per_thousand = |n: usize, of: usize| n as f64 * 1000.0 / of.max(1) as f64;
        println!(
            "duplicate check against {} stored people: {fresh_n} new people and {repeats_n} repeats ({} candidates per check on average)",
            rows.len(),
            candidates_seen / checks.len().max(1)
        );
        for (name, t) in [("with name frequencies", &weighted), ("without (fixed weights)", &plain)] {
            println!(
                "  {name}: false exact/probable warnings per 1,000 new records {:.2} (per 1,000 new people {:.2}, per 1,000 repeats {:.2}); recall {:.4} ({}/{repeats_n})",
                per_thousand(t.false_fresh + t.false_repeat, new_records as usize),
                per_thousand(t.false_fresh, fresh_n),
                per_thousand(t.false_repeat, repeats_n),
                t.found as f64 / repeats_n.max(1) as f64,
                t.found
            );
        }
        println!("  latency of a check: median {median:.2?}   p99 {p99:.2?}   (target: p99 under 10 ms)");
        println!("  reference, one record by primary key: median {pk_median:.2?}   p99 {pk_p99:.2?}");
        println!(
            "  ratio check/primary-key: median {:.1}x   p99 {:.1}x",
            median.as_secs_f64() / pk_median.as_secs_f64(),
            p99.as_secs_f64() / pk_p99.as_secs_f64()
        );
        drop(conn);
        drop(db);
    });
}
