//! Pre-aggregated counts behind the dashboards (issue 14): what the
//! rollups count, the triggers that keep them, their compactor and how a
//! dashboard reads them.
//!
//! A rollup counts projection rows by `(entity, institution, month of the
//! reference date, municipality)` and, per dimension (`sex`, `age`, …),
//! by value. Every change of a projection row appends one row to
//! `figure_deltas` (−1 for what the old row counted under, +1 for the new
//! one) in the writing transaction: writers append, none updates a shared
//! counter, so concurrent writers never wait for each other.
//! [`compact`] (every [`COMPACT_INTERVAL`], started by the server and the
//! test harness) folds committed deltas into `figure_totals` and deletes
//! them in one transaction. A dashboard reads totals plus pending deltas
//! in one statement, so a figure is exact right after the write, whatever
//! the compactor has done.
//!
//! Two kinds of rollup:
//!
//! * **Row rollups** ([`ROW_ROLLUPS`]): what a row counts under depends on
//!   the row alone (a victim by sex, age, …; every record in the data
//!   quality counts). Their triggers read the statement's transition
//!   tables: old rows count −1, new rows +1.
//! * **Tree rollups** ([`TREE_ROLLUPS`]): what an investigation counts
//!   under depends on its criminal cases, defendants and sentences (the
//!   judicialization funnel by month of opening), or on the victims it
//!   names (SESNSP). What each tree counts now is kept in
//!   `figure_sources`; a change anywhere in the tree recomputes the tree's
//!   rows, and their difference becomes deltas.
//!
//! A record that stops being its person's first (`counted` false in the
//! victim projection: a confirmed duplicate pair joined it to an older
//! record's person) leaves the victim rollup when the pair is confirmed and
//! comes back when it is undone: the projection row changes, and its
//! trigger appends the deltas.

use std::time::Duration;

use diesel::sql_types::Integer;
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::forms::FormKey;

use crate::error::StoreResult;
use crate::figures::{column_name, projected_fields, projected_forms, SCHEMA, UNSPECIFIED};

/// How often each server folds pending deltas.
pub const COMPACT_INTERVAL: Duration = Duration::from_secs(2);

/// The most deltas one fold takes (one short transaction each).
pub const COMPACT_BATCH: i32 = 50_000;

/// The victims' rollup: counted people by the victims dashboard's and
/// GLOTIP's dimensions, by month of detection and municipality.
pub const VICTIM: &str = "victim";

/// Every record by form and filled field, by month of creation.
pub const QUALITY: &str = "quality";

/// The judicialization funnel by month of the investigation's opening.
pub const JUDICIALIZATION: &str = "judicialization";

/// The GLOTIP's persons investigated, prosecuted and convicted, by sex
/// and citizenship, by month of each stage.
pub const GLOTIP_PERSONS: &str = "glotip_persons";

/// The SESNSP breakdown: victims named by fuero común investigations, by
/// month of opening.
pub const SESNSP: &str = "sesnsp";

/// The key columns of a contribution, in table order.
const KEY: &str = "rollup, scope_entity, scope_institution, entity_code, institution_id, month, municipality_code, dims, vals";

/// A row rollup: `SELECT <KEY>` over projection rows `x` of its form.
pub struct RowRollup {
    pub name: &'static str,
    /// Which forms feed it (`None`: every projected form).
    pub form: Option<FormKey>,
}

pub const ROW_ROLLUPS: [RowRollup; 2] = [
    RowRollup {
        name: VICTIM,
        form: Some(FormKey::Victim),
    },
    RowRollup {
        name: QUALITY,
        form: None,
    },
];

/// The GLOTIP group of a victim's sex and age (a fixed rule of the UNODC
/// report, not a catalog: safe to count at write time).
pub const GLOTIP_SEX_AGE: &str = "CASE WHEN x.sex = 'MUJER' AND x.age_years < 18 THEN 'NINAS' \
     WHEN x.sex = 'HOMBRE' AND x.age_years < 18 THEN 'NINOS' \
     WHEN x.sex = 'MUJER' AND x.age_years >= 18 THEN 'MUJERES' \
     WHEN x.sex = 'HOMBRE' AND x.age_years >= 18 THEN 'HOMBRES' \
     ELSE 'OTRO_O_NO_ESPECIFICADO' END";

impl RowRollup {
    fn feeds(&self, form: FormKey) -> bool {
        self.form.is_none_or(|f| f == form)
    }

    /// What the rows `x` of `rows` (a projection of `form`) count under.
    fn contributions(&self, form: FormKey, rows: &str) -> String {
        match self.name {
            VICTIM => {
                let forms = "(CASE WHEN cardinality(x.exploitation_forms) > 0 \
                             THEN x.exploitation_forms ELSE ARRAY[NULL::text] END)";
                format!(
                    "SELECT '{VICTIM}', x.entity_code, x.institution_id, x.entity_code, x.institution_id, \
                     date_trunc('month', x.detection_date)::date, x.detection_municipality_code, \
                     ARRAY['entity', 'sex', 'age', 'nationality', 'condition', 'detection_source', 'glotip']::text[] \
                       || array_fill('exploitation_form'::text, ARRAY[cardinality({forms})]), \
                     ARRAY[x.entity_code, x.sex, x.age_years::text, x.nationality, x.condition, x.detection_source, \
                           {GLOTIP_SEX_AGE}]::text[] || {forms} \
                     FROM {rows} x WHERE x.counted"
                )
            }
            _ => {
                let filled: Vec<String> = projected_fields(form)
                    .map(|f| {
                        format!(
                            "CASE WHEN x.\"{}\" IS NOT NULL THEN '{form}.{}' END",
                            column_name(f),
                            f.key
                        )
                    })
                    .collect();
                let filled = format!("array_remove(ARRAY[{}]::text[], NULL)", filled.join(", "));
                format!(
                    "SELECT '{QUALITY}', x.entity_code, x.institution_id, x.entity_code, x.institution_id, \
                     date_trunc('month', x.created_at::date)::date, NULL::text, \
                     ARRAY['record']::text[] || array_fill('filled'::text, ARRAY[cardinality({filled})]), \
                     ARRAY['{form}']::text[] || {filled} \
                     FROM {rows} x"
                )
            }
        }
    }
}

/// A tree rollup: what an investigation (`anchor`) counts under, computed
/// from the projections as they stand.
pub struct TreeRollup {
    pub name: &'static str,
}

pub const TREE_ROLLUPS: [TreeRollup; 3] = [
    TreeRollup {
        name: JUDICIALIZATION,
    },
    TreeRollup {
        name: GLOTIP_PERSONS,
    },
    TreeRollup { name: SESNSP },
];

/// The entity (institution) every one of these aliases shares, else NULL.
fn common(column: &str, aliases: &[&str]) -> String {
    let first = aliases[0];
    let same: Vec<String> = aliases[1..]
        .iter()
        .map(|a| format!("{a}.{column} = {first}.{column}"))
        .collect();
    if same.is_empty() {
        format!("{first}.{column}")
    } else {
        format!("CASE WHEN {} THEN {first}.{column} END", same.join(" AND "))
    }
}

/// The key columns of a tree contribution whose records are `aliases`
/// (the investigation `i` first), dated `month`.
fn tree_key(name: &str, aliases: &[&str], month: &str) -> String {
    format!(
        "'{name}' AS rollup, {} AS scope_entity, {} AS scope_institution, i.entity_code, i.institution_id, \
         date_trunc('month', {month})::date AS month, NULL::text AS municipality_code",
        common("entity_code", aliases),
        common("institution_id", aliases)
    )
}

impl TreeRollup {
    /// `SELECT anchor, <KEY>` for the investigations `i` of `anchors` (a
    /// relation with column `id`).
    fn contributions(&self, anchors: &str) -> String {
        let p = SCHEMA;
        let inv = format!("{p}.investigation i JOIN {anchors} a ON a.id = i.id");
        match self.name {
            JUDICIALIZATION => {
                // One row per record of the tree, each under the month of
                // the investigation's opening (the dashboard's rows).
                let key = |aliases: &[&str]| tree_key(JUDICIALIZATION, aliases, "i.opening_date");
                format!(
                    "SELECT i.id AS anchor, {k_i}, ARRAY['funnel', 'fuero']::text[] AS dims, \
                       ARRAY['INVESTIGACIONES', i.fuero]::text[] AS vals FROM {inv} \
                     UNION ALL \
                     SELECT i.id, {k_c}, \
                       CASE WHEN c.judicialized_date IS NULL THEN ARRAY['funnel'] \
                            ELSE ARRAY['funnel', 'days_judicialization'] END::text[], \
                       CASE WHEN c.judicialized_date IS NULL THEN ARRAY['CAUSAS_PENALES'] \
                            ELSE ARRAY['CAUSAS_PENALES', (c.judicialized_date - i.opening_date)::text] END::text[] \
                     FROM {inv} JOIN {p}.criminal_case c ON c.parent_id = i.id \
                     UNION ALL \
                     SELECT i.id, {k_d}, ARRAY['funnel', 'defendant_sex', 'defendant_nationality']::text[], \
                       ARRAY['PERSONAS_IMPUTADAS', d.sex, d.nationality]::text[] \
                     FROM {inv} JOIN {p}.criminal_case c ON c.parent_id = i.id \
                       JOIN {p}.defendant d ON d.parent_id = c.id \
                     UNION ALL \
                     SELECT i.id, {k_s}, \
                       CASE WHEN s.sentence_type IS NULL THEN ARRAY['days_sentence'] \
                            WHEN s.\"date\" IS NULL THEN ARRAY['funnel'] \
                            ELSE ARRAY['funnel', 'days_sentence'] END::text[], \
                       CASE WHEN s.sentence_type IS NULL THEN ARRAY[(s.\"date\" - i.opening_date)::text] \
                            WHEN s.\"date\" IS NULL THEN ARRAY['SENTENCIAS_' || s.sentence_type] \
                            ELSE ARRAY['SENTENCIAS_' || s.sentence_type, (s.\"date\" - i.opening_date)::text] END::text[] \
                     FROM {inv} JOIN {p}.criminal_case c ON c.parent_id = i.id \
                       JOIN {p}.defendant d ON d.parent_id = c.id \
                       JOIN {p}.sentence s ON s.parent_id = d.id \
                     WHERE s.sentence_type IS NOT NULL OR s.\"date\" IS NOT NULL",
                    k_i = key(&["i"]),
                    k_c = key(&["i", "c"]),
                    k_d = key(&["i", "c", "d"]),
                    k_s = key(&["i", "c", "d", "s"]),
                )
            }
            GLOTIP_PERSONS => {
                // Each defendant at each stage it reached, under the month
                // of that stage, in the defendant's own scope (the
                // dashboard filters and scopes the defendant).
                let tree = format!(
                    "{inv} JOIN {p}.criminal_case c ON c.parent_id = i.id JOIN {p}.defendant d ON d.parent_id = c.id"
                );
                let row = |stage: &str, month: &str, se: &str, si: &str, suffix: &str| {
                    format!(
                        "i.id AS anchor, '{GLOTIP_PERSONS}' AS rollup, {se} AS scope_entity, {si} AS scope_institution, \
                         d.entity_code, d.institution_id, date_trunc('month', {month})::date AS month, \
                         NULL::text AS municipality_code, \
                         ARRAY['sex{suffix}', 'citizenship{suffix}']::text[] AS dims, \
                         ARRAY['{stage}|' || COALESCE(d.sex, 'NO_IDENTIFICADO'), \
                               '{stage}|' || CASE WHEN d.nationality IS NULL THEN '{UNSPECIFIED}' \
                                                 WHEN d.nationality = 'MEX' THEN 'NACIONALES' ELSE 'EXTRANJERAS' END]::text[] AS vals"
                    )
                };
                let own = ("d.entity_code", "d.institution_id");
                // Convicted: the first condemnatory sentence the reader may
                // see. When every one lies in the defendant's entity and
                // institution, one row serves every scope; otherwise the
                // nation, the entity and the institution each get theirs
                // (dimensions `@national` and `@scoped`).
                let sentences = |cond: &str| {
                    format!(
                        "JOIN LATERAL (SELECT min(s.\"date\") AS first, \
                           bool_and(s.entity_code = d.entity_code AND s.institution_id = d.institution_id) AS same \
                         FROM {p}.sentence s WHERE s.parent_id = d.id AND s.sentence_type = 'CONDENATORIA' {cond} \
                         HAVING count(*) > 0) s ON true"
                    )
                };
                format!(
                    "SELECT {investigated} FROM {tree} \
                     UNION ALL SELECT {prosecuted} FROM {tree} WHERE c.judicialized_date IS NOT NULL \
                     UNION ALL SELECT {convicted} FROM {tree} {all} WHERE s.same \
                     UNION ALL SELECT {national} FROM {tree} {all} WHERE NOT s.same \
                     UNION ALL SELECT {entity} FROM {tree} {all} {in_entity} WHERE NOT s.same \
                     UNION ALL SELECT {institution} FROM {tree} {all} {in_institution} WHERE NOT s.same",
                    investigated = row("INVESTIGADAS", "i.opening_date", own.0, own.1, ""),
                    prosecuted = row("PROCESADAS", "c.judicialized_date", own.0, own.1, ""),
                    convicted = row("CONDENADAS", "s.first", own.0, own.1, ""),
                    national = row("CONDENADAS", "s.first", "NULL::text", "NULL::uuid", "@national"),
                    entity = row("CONDENADAS", "e.first", "d.entity_code", "NULL::uuid", "@scoped"),
                    institution = row("CONDENADAS", "n.first", "NULL::text", "d.institution_id", "@scoped"),
                    all = sentences(""),
                    in_entity = sentences("AND s.entity_code = d.entity_code").replace(") s ON true", ") e ON true"),
                    in_institution = sentences("AND s.institution_id = d.institution_id").replace(") s ON true", ") n ON true"),
                )
            }
            _ => {
                // Every victim a fuero común investigation names, as often
                // as it names them, by sex and SESNSP age group.
                format!(
                    "SELECT i.id AS anchor, {key}, ARRAY['sex_age']::text[] AS dims, \
                       ARRAY[COALESCE(v.sex, 'NO_IDENTIFICADO') || '|' || \
                             CASE WHEN v.age_years IS NULL THEN 'NO_ESPECIFICADA' \
                                  WHEN v.age_years < 18 THEN '0_17' ELSE '18_MAS' END]::text[] AS vals \
                     FROM {inv} CROSS JOIN LATERAL unnest(i.victim_ids) AS link(victim_id) \
                       JOIN {p}.victim v ON v.id = link.victim_id \
                     WHERE i.fuero = 'COMUN'",
                    key = tree_key(SESNSP, &["i"], "i.opening_date"),
                )
            }
        }
    }

    /// The statements that recompute the trees named by `anchors` (SQL
    /// giving a column `id`): their old rows leave as −1 deltas, their new
    /// rows are stored and come as +1 deltas.
    fn refresh(&self, anchors: &str) -> String {
        let name = self.name;
        // Two transactions changing one tree take turns (row locks, in id
        // order): the second recomputes from what the first committed, in
        // a statement of its own (a fresh snapshot).
        format!(
            "PERFORM 1 FROM {SCHEMA}.investigation l WHERE l.id IN ({anchors}) ORDER BY l.id FOR UPDATE;\n\
             WITH a AS MATERIALIZED ({anchors}), \
             gone AS (DELETE FROM public.figure_sources f USING a WHERE f.rollup = '{name}' AND f.anchor = a.id \
                      RETURNING f.*), \
             came AS (INSERT INTO public.figure_sources (anchor, {KEY}) \
                      SELECT c.anchor, c.rollup, c.scope_entity, c.scope_institution, c.entity_code, \
                             c.institution_id, c.month, c.municipality_code, c.dims, c.vals \
                      FROM ({contributions}) c RETURNING *) \
             INSERT INTO public.figure_deltas ({KEY}, n) \
             SELECT {KEY}, -1 FROM gone UNION ALL SELECT {KEY}, 1 FROM came;\n",
            contributions = self.contributions("a"),
        )
    }
}

/// Which investigations a change of these rows `x` of `form` touches.
fn anchors_of(form: FormKey, rollup: &str, rows: &str) -> Option<String> {
    let p = SCHEMA;
    let judicial = rollup == JUDICIALIZATION || rollup == GLOTIP_PERSONS;
    Some(match form {
        FormKey::Investigation => format!("SELECT DISTINCT x.id FROM {rows} x"),
        FormKey::CriminalCase if judicial => {
            format!("SELECT DISTINCT x.parent_id AS id FROM {rows} x WHERE x.parent_id IS NOT NULL")
        }
        FormKey::Defendant if judicial => format!(
            "SELECT DISTINCT c.parent_id AS id FROM {rows} x JOIN {p}.criminal_case c ON c.id = x.parent_id \
             WHERE c.parent_id IS NOT NULL"
        ),
        FormKey::Sentence if judicial => format!(
            "SELECT DISTINCT c.parent_id AS id FROM {rows} x JOIN {p}.defendant d ON d.id = x.parent_id \
             JOIN {p}.criminal_case c ON c.id = d.parent_id WHERE c.parent_id IS NOT NULL"
        ),
        FormKey::Victim if rollup == SESNSP => format!(
            "SELECT DISTINCT i.id FROM {p}.investigation i \
             WHERE i.victim_ids && ARRAY(SELECT x.id FROM {rows} x)"
        ),
        _ => return None,
    })
}

/// The statements a change of projection rows of `form` runs: `old` and
/// `new` name its transition tables (either may be absent).
fn on_change(form: FormKey, old: Option<&str>, new: Option<&str>) -> String {
    let mut body = String::new();
    for r in ROW_ROLLUPS.iter().filter(|r| r.feeds(form)) {
        let mut parts = vec![];
        if let Some(old) = old {
            parts.push(format!(
                "SELECT {KEY}, -1 FROM ({}) c({KEY})",
                r.contributions(form, old)
            ));
        }
        if let Some(new) = new {
            parts.push(format!(
                "SELECT {KEY}, 1 FROM ({}) c({KEY})",
                r.contributions(form, new)
            ));
        }
        body.push_str(&format!(
            "INSERT INTO public.figure_deltas ({KEY}, n) {};\n",
            parts.join(" UNION ALL ")
        ));
    }
    for t in &TREE_ROLLUPS {
        let anchors: Vec<String> = [old, new]
            .into_iter()
            .flatten()
            .filter_map(|rows| anchors_of(form, t.name, rows))
            .collect();
        if !anchors.is_empty() {
            body.push_str(&t.refresh(&anchors.join(" UNION ")));
        }
    }
    body
}

/// The triggers that keep the rollups, and the rollups rebuilt from the
/// projections as they stand (part of [`crate::figures::projection_ddl`],
/// after the projections are backfilled).
pub fn rollup_ddl() -> String {
    let mut sql = String::from(
        "TRUNCATE public.figure_deltas, public.figure_totals, public.figure_sources;\n",
    );
    // The rebuild: row rollups straight into the totals; trees into their
    // sources, then summed.
    for r in &ROW_ROLLUPS {
        for form in projected_forms().filter(|f| r.feeds(*f)) {
            sql.push_str(&format!(
                "INSERT INTO public.figure_totals (rollup, level, dim, scope_entity, scope_institution, entity_code, \
                 institution_id, month, municipality_code, value, n) \
                 SELECT c.rollup, 0, u.dim, c.scope_entity, c.scope_institution, c.entity_code, c.institution_id, \
                        c.month, c.municipality_code, u.value, count(*) \
                 FROM ({}) c({KEY}) CROSS JOIN LATERAL unnest(c.dims, c.vals) AS u(dim, value) \
                 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;\n",
                r.contributions(form, &format!("{SCHEMA}.{form}"))
            ));
        }
    }
    for t in &TREE_ROLLUPS {
        sql.push_str(&format!(
            "INSERT INTO public.figure_sources (anchor, {KEY}) \
             SELECT c.anchor, c.rollup, c.scope_entity, c.scope_institution, c.entity_code, \
                    c.institution_id, c.month, c.municipality_code, c.dims, c.vals \
             FROM ({}) c;\n",
            t.contributions(&format!("(SELECT id FROM {SCHEMA}.investigation)"))
        ));
    }
    sql.push_str(
        "INSERT INTO public.figure_totals (rollup, level, dim, scope_entity, scope_institution, entity_code, \
         institution_id, month, municipality_code, value, n) \
         SELECT s.rollup, 0, u.dim, s.scope_entity, s.scope_institution, s.entity_code, s.institution_id, \
                s.month, s.municipality_code, u.value, count(*) \
         FROM public.figure_sources s CROSS JOIN LATERAL unnest(s.dims, s.vals) AS u(dim, value) \
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;\n\
         INSERT INTO public.figure_totals (rollup, level, dim, month, value, n) \
         SELECT rollup, 1, dim, month, value, sum(n) FROM public.figure_totals WHERE level = 0 \
         GROUP BY rollup, dim, month, value;\n",
    );
    // The triggers, one per projection and event.
    for form in projected_forms() {
        // A statement that changed no row (an update of `counted` that
        // found nothing to change) appends nothing.
        let function = |event: &str, rows: &str, body: String| {
            format!(
                "CREATE FUNCTION {SCHEMA}.{form}_{event}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER \
                 SET search_path = pg_catalog, public AS $fn$\nBEGIN\n\
                 IF NOT EXISTS (SELECT 1 FROM {rows}) THEN RETURN NULL; END IF;\n\
                 {body}RETURN NULL;\nEND\n$fn$;\n\
                 REVOKE ALL ON FUNCTION {SCHEMA}.{form}_{event}() FROM PUBLIC;\n"
            )
        };
        let ins = on_change(form, None, Some("new_rows"));
        let upd = on_change(form, Some("old_rows"), Some("new_rows"));
        let del = on_change(form, Some("old_rows"), None);
        if ins.is_empty() {
            continue;
        }
        sql.push_str(&function("inserted", "new_rows", ins));
        sql.push_str(&function("updated", "old_rows", upd));
        sql.push_str(&function("deleted", "old_rows", del));
        sql.push_str(&format!(
            "CREATE TRIGGER rollup_insert AFTER INSERT ON {SCHEMA}.{form} REFERENCING NEW TABLE AS new_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.{form}_inserted();\n\
             CREATE TRIGGER rollup_update AFTER UPDATE ON {SCHEMA}.{form} REFERENCING OLD TABLE AS old_rows \
             NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.{form}_updated();\n\
             CREATE TRIGGER rollup_delete AFTER DELETE ON {SCHEMA}.{form} REFERENCING OLD TABLE AS old_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.{form}_deleted();\n"
        ));
    }
    // Without a pending list, which every lookup would read whole (see
    // migration 2026-12-09-100000).
    sql.push_str(&format!(
        "CREATE INDEX ON {SCHEMA}.investigation USING gin (victim_ids) WITH (fastupdate = off);\n"
    ));
    sql
}

/// Which totals a reader adds to the pending deltas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// By every key column: any scope, filter and grouping.
    Full,
    /// The whole country by month: for a national reader that filters by
    /// no entity, municipality or institution and groups by time.
    National,
}

/// The rows of a rollup as a reader sees them: the totals and the deltas
/// not folded yet, one row per dimension value, with columns
/// `scope_entity, scope_institution, entity_code, institution_id, month,
/// municipality_code, dim, value, n` (NULL but `month`, `dim`, `value`
/// and `n` in national totals).
pub fn rows(rollup: &str, level: Level) -> String {
    let level = match level {
        Level::Full => 0,
        Level::National => 1,
    };
    format!(
        "(SELECT t.scope_entity, t.scope_institution, t.entity_code, t.institution_id, t.month, \
                 t.municipality_code, t.dim, t.value, t.n \
          FROM public.figure_totals t WHERE t.rollup = '{rollup}' AND t.level = {level} \
          UNION ALL \
          SELECT d.scope_entity, d.scope_institution, d.entity_code, d.institution_id, d.month, \
                 d.municipality_code, u.dim, u.value, d.n::bigint \
          FROM public.figure_deltas d CROSS JOIN LATERAL unnest(d.dims, d.vals) AS u(dim, value) \
          WHERE d.rollup = '{rollup}')"
    )
}

/// The code of "not recorded" as the dashboards show it.
pub const NOT_RECORDED: &str = UNSPECIFIED;

#[derive(QueryableByName)]
struct Folded {
    #[diesel(sql_type = Integer)]
    folded: i32,
}

/// Folds pending deltas into the totals, a batch at a time, until none is
/// left: answers how many it folded. With `wait` it waits for another
/// server's fold to end; without, it skips its turn when one is running.
pub async fn compact(conn: &mut AsyncPgConnection, wait: bool) -> StoreResult<u64> {
    let mut total = 0u64;
    loop {
        let f: Folded = diesel::sql_query("SELECT figure_compact($1, $2) AS folded")
            .bind::<Integer, _>(COMPACT_BATCH)
            .bind::<diesel::sql_types::Bool, _>(wait)
            .get_result(conn)
            .await?;
        total += u64::try_from(f.folded).unwrap_or(0);
        if f.folded < COMPACT_BATCH {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_projection_feeds_the_quality_rollup_and_victims_the_victims_one() {
        let ddl = rollup_ddl();
        for form in projected_forms() {
            assert!(
                ddl.contains(&format!("EXECUTE FUNCTION {SCHEMA}.{form}_inserted()")),
                "{form}"
            );
        }
        assert!(ddl.contains("'victim', x.entity_code"));
        assert!(!ddl.contains('{'), "every placeholder filled");
    }
}
