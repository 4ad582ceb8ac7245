//! The figures' SQL: typed projections of every record form, generated from
//! the form specs, and the counts each dashboard reads from them.
//!
//! **Projections.** Every record form gets a view `projections.<form>`
//! (`projections.victim`, `projections.criminal_case`, …) with the system
//! columns every record carries (`id`, `entity_code`, `institution_id`,
//! `parent_id`, `created_at`, `updated_at`) and one typed column per
//! non-personal field of its spec: dates as `date`, integers as `bigint`,
//! decimals as `numeric`, booleans as `boolean`, references as `uuid`,
//! multi-valued catalogs and references as arrays, everything else as
//! `text`. Personal fields and the sender's folio never appear. A field
//! whose key is a system column's name (a commission's own `entity_code`)
//! is named `field_<key>`. The views are written by [`projection_ddl`] and
//! replaced at every migration run, so a field added to a spec is a column
//! of its projection (and of every BI tool reading it) without anyone
//! editing SQL. Victims carry two derived columns: `age_years` (at
//! detection: from the birth date when known, else the age recorded; the
//! birth date itself stays out) and `counted` (false for the second person
//! of a pair confirmed as duplicates, so a person counts once).
//!
//! The read-only role `sintra_bi` (BI tools: Power BI, Metabase, Superset)
//! may read the `projections` schema and nothing else.
//!
//! **Counts.** [`cells`] answers, in one statement per dashboard, the
//! finest counts of every table of the dashboard, in the caller's scope
//! (bound, applied to every form read) and with the dashboard's filters
//! (bound). Labels, suppression and totals are the services' work.

use chrono::NaiveDate;
use diesel::sql_types::{BigInt, Date, Double, Nullable, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::Scope;
use sintra_domain::figures::{DashboardKey, GroupBy};
use sintra_domain::forms::{FieldSpec, FieldType, FormKey};
use uuid::Uuid;

use crate::catalogs::CatalogItem;
use crate::error::StoreResult;

/// The schema of the projections.
pub const SCHEMA: &str = "projections";

/// The read-only role for BI tools (created by a migration).
pub const BI_ROLE: &str = "sintra_bi";

/// The code of "not recorded" in breakdowns whose field was left empty.
pub const UNSPECIFIED: &str = "NO_ESPECIFICADO";

/// Columns every projection starts with.
const SYSTEM_COLUMNS: [&str; 6] = [
    "id",
    "entity_code",
    "institution_id",
    "parent_id",
    "created_at",
    "updated_at",
];

/// The forms with a projection: those kept in the record store.
pub fn projected_forms() -> impl Iterator<Item = FormKey> {
    FormKey::ALL.into_iter().filter(|f| f.is_record())
}

/// The fields of a form that its projection shows: not personal, not the
/// sender's folio.
pub fn projected_fields(form: FormKey) -> impl Iterator<Item = &'static FieldSpec> {
    form.spec()
        .fields
        .iter()
        .filter(|f| !f.personal && f.key != "external_folio")
}

/// The projection column of a field.
pub fn column_name(field: &FieldSpec) -> String {
    if SYSTEM_COLUMNS.contains(&field.key) {
        format!("field_{}", field.key)
    } else {
        field.key.to_string()
    }
}

/// The typed expression of a field over `r.data`. Keys are the specs'
/// snake_case constants (a test holds them to that), never input.
fn column_expr(field: &FieldSpec) -> String {
    let k = field.key;
    let text = format!("NULLIF(r.data->>'{k}', '')");
    let array = |cast: &str| {
        format!(
            "CASE WHEN jsonb_typeof(r.data->'{k}') = 'array' \
             THEN ARRAY(SELECT e{cast} FROM jsonb_array_elements_text(r.data->'{k}') AS e) END"
        )
    };
    match field.ty {
        FieldType::Date => format!("{text}::date"),
        FieldType::Integer { .. } => format!("{text}::bigint"),
        FieldType::Decimal { .. } => format!("{text}::numeric"),
        FieldType::Boolean => format!("{text}::boolean"),
        FieldType::Uuid
        | FieldType::Reference {
            multiple: false, ..
        } => format!("{text}::uuid"),
        FieldType::Reference { multiple: true, .. } => array("::uuid"),
        FieldType::Catalog { multiple: true, .. } => array(""),
        FieldType::Text { .. }
        | FieldType::LongText { .. }
        | FieldType::Catalog { .. }
        | FieldType::Choice { .. }
        | FieldType::Curp => text,
    }
}

/// Columns derived from fields a projection does not show (see the module
/// documentation).
fn derived_columns(form: FormKey) -> &'static [(&'static str, &'static str)] {
    match form {
        FormKey::Victim => &[
            (
                "age_years",
                "COALESCE(date_part('year', age(NULLIF(r.data->>'detection_date', '')::date, \
                 NULLIF(r.data->>'birth_date', '')::date))::bigint, \
                 NULLIF(r.data->>'age_at_detection', '')::bigint)",
            ),
            (
                "counted",
                "NOT EXISTS (SELECT 1 FROM public.duplicate_pairs dp \
                 WHERE dp.person_b = r.id AND dp.status = 'confirmed')",
            ),
        ],
        _ => &[],
    }
}

/// The statements that (re)create the projections, the grouping function
/// the dashboards use, and the grants: idempotent, run after migrations.
pub fn projection_ddl() -> String {
    let mut sql = format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA};\n");
    for form in projected_forms() {
        let mut cols: Vec<String> = SYSTEM_COLUMNS.iter().map(|c| format!("r.{c}")).collect();
        for f in projected_fields(form) {
            cols.push(format!("{} AS \"{}\"", column_expr(f), column_name(f)));
        }
        for (name, expr) in derived_columns(form) {
            cols.push(format!("{expr} AS \"{name}\""));
        }
        sql.push_str(&format!(
            "DROP VIEW IF EXISTS {SCHEMA}.{form} CASCADE;\n\
             CREATE VIEW {SCHEMA}.{form} AS SELECT {} FROM public.records r WHERE r.form = '{form}';\n\
             COMMENT ON VIEW {SCHEMA}.{form} IS 'Typed projection of the {form} form, generated from its spec: non-personal fields only.';\n",
            cols.join(", ")
        ));
    }
    sql.push_str(&format!(
        "CREATE OR REPLACE FUNCTION {SCHEMA}.group_key(g text, d date, e text, m text, i uuid)
         RETURNS text LANGUAGE sql STABLE AS $$
           SELECT CASE g
             WHEN 'month' THEN to_char(d, 'YYYY-MM')
             WHEN 'quarter' THEN to_char(d, 'YYYY-\"Q\"Q')
             WHEN 'year' THEN to_char(d, 'YYYY')
             WHEN 'entity' THEN e
             WHEN 'municipality' THEN COALESCE(m, '{UNSPECIFIED}')
             WHEN 'institution' THEN i::text
           END
         $$;
         GRANT USAGE ON SCHEMA {SCHEMA} TO sintra_app, {BI_ROLE};
         GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO sintra_app, {BI_ROLE};
         GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {SCHEMA} TO sintra_app, {BI_ROLE};\n"
    ));
    sql
}

/// What a dashboard counts: validated by the services; dates inclusive.
#[derive(Debug, Clone)]
pub struct FigureFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub entity_code: Option<String>,
    pub municipality_code: Option<String>,
    pub institution_id: Option<Uuid>,
    pub group_by: GroupBy,
}

/// One finest figure of one table: `n` records (or people) in row
/// `row_key` and column `col_key`; `x` a value derived in SQL (a median
/// of days, or the total a share is taken of).
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct RawCell {
    #[diesel(sql_type = Text)]
    pub tbl: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub row_key: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub col_key: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub x: Option<f64>,
}

/// The scope condition on alias `a`: `$1` entity, `$2` institution.
fn scope(a: &str) -> String {
    format!("($1::text IS NULL OR {a}.entity_code = $1) AND ($2::uuid IS NULL OR {a}.institution_id = $2)")
}

/// The filters on alias `a`, its reference date `d` and municipality `m`:
/// `$3`/`$4` dates, `$5` entity, `$6` municipality, `$7` institution.
fn filters(a: &str, d: Option<&str>, m: Option<&str>) -> String {
    let dates = match d {
        Some(d) => format!("($3::date IS NULL OR {d} >= $3) AND ($4::date IS NULL OR {d} <= $4)"),
        None => "TRUE".into(),
    };
    let municipality = match m {
        Some(m) => format!("($6::text IS NULL OR {m} = $6)"),
        None => "TRUE".into(),
    };
    format!(
        "{dates} AND ($5::text IS NULL OR {a}.entity_code = $5) AND {municipality} \
         AND ($7::uuid IS NULL OR {a}.institution_id = $7)"
    )
}

/// The row key of alias `a` by `$8` (the grouping).
fn group(a: &str, d: &str, m: Option<&str>) -> String {
    format!(
        "projections.group_key($8, {d}, {a}.entity_code, {}, {a}.institution_id)",
        m.unwrap_or("NULL")
    )
}

fn victims_sql() -> String {
    let d = "p.detection_date";
    let m = Some("p.detection_municipality_code");
    format!(
        "WITH v AS (
           SELECT p.id, {g} AS g, p.entity_code,
                  COALESCE(p.sex, 'NO_IDENTIFICADO') AS sex,
                  COALESCE(p.age_years::text, '{UNSPECIFIED}') AS age,
                  COALESCE(p.nationality, '{UNSPECIFIED}') AS nationality,
                  COALESCE(p.condition, '{UNSPECIFIED}') AS condition,
                  COALESCE(p.detection_source, '{UNSPECIFIED}') AS detection_source,
                  p.exploitation_forms
           FROM projections.victim p
           WHERE p.counted AND {scope} AND {filters}
         )
         SELECT CASE WHEN GROUPING(sex) = 0 THEN 'by_sex'
                     WHEN GROUPING(age) = 0 THEN 'by_age'
                     WHEN GROUPING(nationality) = 0 THEN 'by_nationality'
                     WHEN GROUPING(condition) = 0 THEN 'by_condition'
                     WHEN GROUPING(detection_source) = 0 THEN 'by_detection_source'
                     ELSE 'by_entity' END AS tbl,
                CASE WHEN GROUPING(g) = 0 THEN g ELSE entity_code END AS row_key,
                COALESCE(sex, age, nationality, condition, detection_source, 'VICTIMAS') AS col_key,
                count(*) AS n, NULL::float8 AS x
         FROM v
         GROUP BY GROUPING SETS ((g, sex), (g, age), (g, nationality), (g, condition),
                                 (g, detection_source), (entity_code))
         UNION ALL
         SELECT 'by_exploitation_form', v.g, f, count(*), NULL
         FROM v CROSS JOIN LATERAL unnest(
             CASE WHEN cardinality(v.exploitation_forms) > 0 THEN v.exploitation_forms
                  ELSE ARRAY['{UNSPECIFIED}'] END) AS f
         GROUP BY 2, 3
         UNION ALL
         SELECT 'by_service', v.g, a.service, count(DISTINCT v.id), NULL
         FROM v JOIN projections.attention a ON a.parent_id = v.id
         WHERE {scope_a} AND a.service IS NOT NULL
         GROUP BY 2, 3",
        g = group("p", d, m),
        scope = scope("p"),
        filters = filters("p", Some(d), m),
        scope_a = scope("a"),
    )
}

fn judicialization_sql() -> String {
    let d = "p.opening_date";
    format!(
        "WITH i AS (
           SELECT p.id, p.fuero, p.opening_date, {g} AS g
           FROM projections.investigation p WHERE {scope_p} AND {filters}
         ), c AS (
           SELECT x.id, x.judicialized_date, i.g, i.opening_date
           FROM projections.criminal_case x JOIN i ON i.id = x.parent_id WHERE {scope_x}
         ), d AS (
           SELECT x.id, c.g, COALESCE(x.sex, 'NO_IDENTIFICADO') AS sex,
                  COALESCE(x.nationality, '{UNSPECIFIED}') AS nationality
           FROM projections.defendant x JOIN c ON c.id = x.parent_id WHERE {scope_x}
         ), s AS (
           SELECT x.id, x.sentence_type, x.\"date\", c.g, c.opening_date
           FROM projections.sentence x JOIN projections.defendant dd ON dd.id = x.parent_id
                JOIN c ON c.id = dd.parent_id
           WHERE {scope_x} AND {scope_dd}
         )
         SELECT 'funnel' AS tbl, g AS row_key, 'INVESTIGACIONES' AS col_key, count(*) AS n,
                NULL::float8 AS x FROM i GROUP BY 2
         UNION ALL SELECT 'funnel', g, 'CAUSAS_PENALES', count(*), NULL FROM c GROUP BY 2
         UNION ALL SELECT 'funnel', g, 'PERSONAS_IMPUTADAS', count(*), NULL FROM d GROUP BY 2
         UNION ALL SELECT 'funnel', g, 'SENTENCIAS_' || sentence_type, count(*), NULL
                   FROM s WHERE sentence_type IS NOT NULL GROUP BY 2, 3
         UNION ALL SELECT 'by_fuero', g, COALESCE(fuero, '{UNSPECIFIED}'), count(*), NULL
                   FROM i GROUP BY 2, 3
         UNION ALL SELECT 'defendants_by_sex', g, sex, count(*), NULL FROM d GROUP BY 2, 3
         UNION ALL SELECT 'defendants_by_nationality', g, nationality, count(*), NULL
                   FROM d GROUP BY 2, 3
         UNION ALL SELECT 'median_days', g, 'A_JUDICIALIZACION', count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY judicialized_date - opening_date)
                   FROM c WHERE judicialized_date IS NOT NULL GROUP BY 2
         UNION ALL SELECT 'median_days', g, 'A_SENTENCIA', count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY \"date\" - opening_date)
                   FROM s WHERE \"date\" IS NOT NULL GROUP BY 2",
        g = group("p", d, None),
        scope_p = scope("p"),
        filters = filters("p", Some(d), None),
        scope_x = scope("x"),
        scope_dd = scope("dd"),
    )
}

fn commissions_sql() -> String {
    format!(
        "WITH cm AS (
           SELECT p.kind, {g_cm} AS g FROM projections.commission p
           WHERE {scope_p} AND {filters_cm}
         ), ss AS (
           SELECT p.id, p.session_type, {g_ss} AS g FROM projections.session p
           WHERE {scope_p} AND {filters_ss}
         ), ag AS (
           SELECT a.id, a.status, a.due_date, ss.g FROM projections.agreement a
           JOIN ss ON ss.id = a.parent_id WHERE {scope_a}
         )
         SELECT 'commissions_installed' AS tbl, g AS row_key,
                COALESCE(kind, '{UNSPECIFIED}') AS col_key, count(*) AS n, NULL::float8 AS x
         FROM cm GROUP BY 2, 3
         UNION ALL SELECT 'sessions_held', g, COALESCE(session_type, '{UNSPECIFIED}'), count(*), NULL
                   FROM ss GROUP BY 2, 3
         UNION ALL SELECT 'agreements', q.g, k.code, k.n, NULL
         FROM (SELECT g, count(*) AS adopted,
                      count(*) FILTER (WHERE status = 'CUMPLIDO') AS fulfilled,
                      count(*) FILTER (WHERE due_date < CURRENT_DATE
                                       AND COALESCE(status, '') NOT IN ('CUMPLIDO', 'CANCELADO')) AS overdue,
                      count(*) FILTER (WHERE EXISTS (
                          SELECT 1 FROM projections.agreement_follow_up f WHERE f.parent_id = ag.id)) AS followed
               FROM ag GROUP BY g) q
         CROSS JOIN LATERAL (VALUES ('ADOPTADOS', q.adopted), ('CUMPLIDOS', q.fulfilled),
                                    ('VENCIDOS', q.overdue), ('CON_SEGUIMIENTO', q.followed)) AS k(code, n)",
        g_cm = group("p", "p.installation_date", None),
        g_ss = group("p", "p.\"date\"", None),
        scope_p = scope("p"),
        scope_a = scope("a"),
        filters_cm = filters("p", Some("p.installation_date"), None),
        filters_ss = filters("p", Some("p.\"date\""), None),
    )
}

fn data_quality_sql() -> String {
    let d = "p.created_at::date";
    let records = projected_forms()
        .map(|form| {
            format!(
                "SELECT '{form}' AS form, p.entity_code, p.institution_id, {d} AS d \
                 FROM projections.{form} p WHERE {} AND {}",
                scope("p"),
                filters("p", Some(d), None)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let completeness = projected_forms()
        .map(|form| {
            let fields: Vec<&FieldSpec> = projected_fields(form).collect();
            let counts = fields
                .iter()
                .enumerate()
                .map(|(n, f)| format!("count(p.\"{}\") AS c{n}", column_name(f)))
                .collect::<Vec<_>>()
                .join(", ");
            let values = fields
                .iter()
                .enumerate()
                .map(|(n, f)| format!("('{form}.{}', s.c{n})", f.key))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "SELECT 'completeness', v.k, 'CON_DATO', v.n, s.total::float8 \
                 FROM (SELECT count(*) AS total, {counts} FROM projections.{form} p \
                       WHERE {} AND {}) s \
                 CROSS JOIN LATERAL (VALUES {values}) AS v(k, n) WHERE s.total > 0",
                scope("p"),
                filters("p", Some(d), None)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    format!(
        "WITH rec AS ({records})
         SELECT 'records_by_form' AS tbl, projections.group_key($8, d, entity_code, NULL, institution_id) AS row_key,
                form AS col_key, count(*) AS n, NULL::float8 AS x
         FROM rec GROUP BY 2, 3
         UNION ALL {completeness}
         UNION ALL
         SELECT 'open_duplicates', p.entity_code, 'PARES_ABIERTOS', count(*), NULL
         FROM public.duplicate_pairs dp JOIN projections.victim p ON p.id = dp.person_a
         WHERE dp.status = 'open' AND {scope_p} AND {filters_dup}
         GROUP BY 2
         UNION ALL
         SELECT 'imports', q.g, k.code, k.n, NULL
         FROM (SELECT projections.group_key($8, p.created_at::date, p.entity_code, NULL, p.institution_id) AS g,
                      count(*) AS imports,
                      sum(COALESCE((p.report->>'rows_created')::bigint, 0)
                          + COALESCE((p.report->>'rows_updated')::bigint, 0))::bigint AS rows
               FROM (SELECT im.*, ins.entity_code FROM public.imports im
                     JOIN public.institutions ins ON ins.id = im.institution_id
                     WHERE im.status = 'committed') p
               WHERE {scope_p} AND {filters_imp}
               GROUP BY 1) q
         CROSS JOIN LATERAL (VALUES ('IMPORTACIONES', q.imports), ('FILAS_IMPORTADAS', q.rows)) AS k(code, n)",
        scope_p = scope("p"),
        filters_dup = filters("p", Some("dp.created_at::date"), None),
        filters_imp = filters("p", Some("p.created_at::date"), None),
    )
}

/// The SESNSP age group of a victim's age (`0_17`, `18_MAS`,
/// `NO_ESPECIFICADA`), as SQL over alias `v`.
const SESNSP_AGE: &str = "CASE WHEN v.age_years IS NULL THEN 'NO_ESPECIFICADA' \
                          WHEN v.age_years < 18 THEN '0_17' ELSE '18_MAS' END";

fn sesnsp_sql() -> String {
    let d = "p.opening_date";
    format!(
        "SELECT 'sesnsp' AS tbl, p.entity_code || '|' || to_char({d}, 'YYYY-MM') AS row_key,
                COALESCE(v.sex, 'NO_IDENTIFICADO') || '|' || {SESNSP_AGE} AS col_key,
                count(*) AS n, NULL::float8 AS x
         FROM projections.investigation p
              CROSS JOIN LATERAL unnest(p.victim_ids) AS link(victim_id)
              JOIN projections.victim v ON v.id = link.victim_id
         WHERE p.fuero = 'COMUN' AND {scope} AND {filters}
         GROUP BY 2, 3",
        scope = scope("p"),
        filters = filters("p", Some(d), None),
    )
}

fn glotip_sql() -> String {
    let sex_age = "CASE WHEN v.sex = 'MUJER' AND v.age_years < 18 THEN 'NINAS' \
                   WHEN v.sex = 'HOMBRE' AND v.age_years < 18 THEN 'NINOS' \
                   WHEN v.sex = 'MUJER' AND v.age_years >= 18 THEN 'MUJERES' \
                   WHEN v.sex = 'HOMBRE' AND v.age_years >= 18 THEN 'HOMBRES' \
                   ELSE 'OTRO_O_NO_ESPECIFICADO' END";
    let citizenship = |a: &str| {
        format!(
            "CASE WHEN {a}.nationality IS NULL THEN '{UNSPECIFIED}' \
             WHEN {a}.nationality = 'MEX' THEN 'NACIONALES' ELSE 'EXTRANJERAS' END"
        )
    };
    let stages = "(SELECT 'INVESTIGADAS' AS stage, d.opening_date AS sd, d.* FROM d
                   UNION ALL SELECT 'PROCESADAS', d.judicialized_date, d.* FROM d
                             WHERE d.judicialized_date IS NOT NULL
                   UNION ALL SELECT 'CONDENADAS', s.first_conviction, d.* FROM d
                             JOIN (SELECT x.parent_id, min(x.\"date\") AS first_conviction
                                   FROM projections.sentence x
                                   WHERE x.sentence_type = 'CONDENATORIA' AND {scope_x}
                                   GROUP BY x.parent_id) s ON s.parent_id = d.id) st";
    format!(
        "WITH v AS (
           SELECT p.*, to_char(p.detection_date, 'YYYY') AS y FROM projections.victim p
           WHERE p.counted AND {scope_p} AND {filters_v}
         ), d AS (
           SELECT x.id, COALESCE(x.sex, 'NO_IDENTIFICADO') AS sex, x.nationality,
                  i.opening_date, c.judicialized_date
           FROM projections.defendant x JOIN projections.criminal_case c ON c.id = x.parent_id
                JOIN projections.investigation i ON i.id = c.parent_id
           WHERE {scope_x} AND {filters_x}
         ), pr AS (
           SELECT st.stage, st.sd, st.sex, st.nationality FROM {stages}
           WHERE ($3::date IS NULL OR st.sd >= $3) AND ($4::date IS NULL OR st.sd <= $4)
         )
         SELECT 'victims_by_sex_age' AS tbl, v.y AS row_key, {sex_age} AS col_key,
                count(*) AS n, NULL::float8 AS x
         FROM v GROUP BY 2, 3
         UNION ALL
         SELECT 'victims_by_exploitation', v.y, f, count(*), NULL
         FROM v CROSS JOIN LATERAL unnest(
             CASE WHEN cardinality(v.exploitation_forms) > 0 THEN v.exploitation_forms
                  ELSE ARRAY['{UNSPECIFIED}'] END) AS f
         GROUP BY 2, 3
         UNION ALL
         SELECT 'victims_by_citizenship', v.y, {cit_v}, count(*), NULL FROM v GROUP BY 2, 3
         UNION ALL
         SELECT 'persons_by_sex', pr.stage || '|' || to_char(pr.sd, 'YYYY'), pr.sex, count(*), NULL
         FROM pr GROUP BY 2, 3
         UNION ALL
         SELECT 'persons_by_citizenship', pr.stage || '|' || to_char(pr.sd, 'YYYY'), {cit_st},
                count(*), NULL
         FROM pr GROUP BY 2, 3",
        stages = stages.replace("{scope_x}", &scope("x")),
        scope_p = scope("p"),
        filters_v = filters(
            "p",
            Some("p.detection_date"),
            Some("p.detection_municipality_code")
        ),
        scope_x = scope("x"),
        filters_x = filters("x", None, None),
        cit_v = citizenship("v"),
        cit_st = citizenship("pr"),
    )
}

/// The SQL of a dashboard's finest cells.
pub fn dashboard_sql(dashboard: DashboardKey) -> String {
    match dashboard {
        DashboardKey::Victims => victims_sql(),
        DashboardKey::Judicialization => judicialization_sql(),
        DashboardKey::Commissions => commissions_sql(),
        DashboardKey::DataQuality => data_quality_sql(),
        DashboardKey::Sesnsp => sesnsp_sql(),
        DashboardKey::Glotip => glotip_sql(),
    }
}

/// A dashboard's finest cells in the caller's scope, filtered.
pub async fn cells(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    dashboard: DashboardKey,
    filter: &FigureFilter,
) -> StoreResult<Vec<RawCell>> {
    let (entity, institution) = match scope {
        Scope::National => (None, None),
        Scope::Entity(e) => (Some(e.clone()), None),
        Scope::Institution(i) => (None, Some(*i)),
    };
    Ok(diesel::sql_query(dashboard_sql(dashboard))
        .bind::<Nullable<Text>, _>(entity)
        .bind::<Nullable<SqlUuid>, _>(institution)
        .bind::<Nullable<Date>, _>(filter.from)
        .bind::<Nullable<Date>, _>(filter.to)
        .bind::<Nullable<Text>, _>(filter.entity_code.clone())
        .bind::<Nullable<Text>, _>(filter.municipality_code.clone())
        .bind::<Nullable<SqlUuid>, _>(filter.institution_id)
        .bind::<Text, _>(filter.group_by.as_str())
        .load(conn)
        .await?)
}

/// Every item of these catalogs (labels and `extra` for the dashboards).
pub async fn catalog_items(
    conn: &mut AsyncPgConnection,
    catalogs: &[&str],
) -> StoreResult<Vec<CatalogItem>> {
    use crate::schema::catalog_items as ci;
    use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
    Ok(ci::table
        .filter(ci::catalog.eq_any(catalogs))
        .order((ci::catalog, ci::sort_order, ci::code))
        .select(CatalogItem::as_select())
        .load(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_non_personal_field_is_a_typed_column_and_no_personal_one_is() {
        let ddl = projection_ddl();
        for form in projected_forms() {
            assert!(ddl.contains(&format!("CREATE VIEW projections.{form} ")));
            for f in form.spec().fields {
                let column = format!("AS \"{}\"", column_name(f));
                let shown = !f.personal && f.key != "external_folio";
                let view = ddl
                    .split("CREATE VIEW ")
                    .find(|v| v.starts_with(&format!("projections.{form} ")))
                    .unwrap();
                let view = view.split(";\n").next().unwrap();
                assert_eq!(view.contains(&column), shown, "{form}.{}", f.key);
            }
        }
        assert!(ddl.contains("NULLIF(r.data->>'detection_date', '')::date AS \"detection_date\""));
        assert!(ddl.contains("AS \"field_entity_code\""));
    }

    #[test]
    fn every_dashboard_binds_its_values() {
        for d in DashboardKey::ALL {
            let sql = dashboard_sql(d);
            assert!(!sql.contains('{'), "{d}: {sql}");
            assert!(sql.contains("$1::text IS NULL"), "{d}");
            assert!(!sql.contains("data->>"), "{d} reads projections only");
        }
    }
}
