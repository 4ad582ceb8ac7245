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
//! birth date itself stays out), `person_id` (the person the record belongs
//! to: records joined by confirmed duplicate pairs are one person) and
//! `counted` (true for one record per person, its first, so a person counts
//! once however its records were confirmed: a~c and b~c count one).
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
use crate::rollup;

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
            // The person (migration `person_merge`): a record without a
            // link is a person of its own, and its own head.
            (
                "person_id",
                "public.person_uuid(COALESCE((SELECT pl.head FROM public.person_links pl \
                 WHERE pl.record_id = r.id), r.id))",
            ),
            (
                "counted",
                "NOT EXISTS (SELECT 1 FROM public.person_links pl \
                 WHERE pl.record_id = r.id AND pl.head <> r.id)",
            ),
        ],
        _ => &[],
    }
}

/// The SQL type of a field's projection column.
fn column_type(field: &FieldSpec) -> &'static str {
    match field.ty {
        FieldType::Date => "date",
        FieldType::Integer { .. } => "bigint",
        FieldType::Decimal { .. } => "numeric",
        FieldType::Boolean => "boolean",
        FieldType::Uuid
        | FieldType::Reference {
            multiple: false, ..
        } => "uuid",
        FieldType::Reference { multiple: true, .. } => "uuid[]",
        FieldType::Catalog { multiple: true, .. } => "text[]",
        FieldType::Text { .. }
        | FieldType::LongText { .. }
        | FieldType::Catalog { .. }
        | FieldType::Choice { .. }
        | FieldType::Curp => "text",
    }
}

/// The types of the derived columns (see [`derived_columns`]).
fn derived_type(name: &str) -> &'static str {
    match name {
        "counted" => "boolean NOT NULL",
        "person_id" => "uuid NOT NULL",
        _ => "bigint",
    }
}

/// The system columns' types.
const SYSTEM_TYPES: [&str; 6] = [
    "uuid PRIMARY KEY",
    "text NOT NULL",
    "uuid NOT NULL",
    "uuid",
    "timestamptz NOT NULL",
    "timestamptz NOT NULL",
];

/// The column list of a form's projection, quoted, in table order.
fn projection_columns(form: FormKey) -> Vec<String> {
    let mut cols: Vec<String> = SYSTEM_COLUMNS.iter().map(|c| format!("\"{c}\"")).collect();
    cols.extend(projected_fields(form).map(|f| format!("\"{}\"", column_name(f))));
    cols.extend(
        derived_columns(form)
            .iter()
            .map(|(n, _)| format!("\"{n}\"")),
    );
    cols
}

/// `SELECT <typed values> FROM <rows> r WHERE r.form = '<form>'`: a
/// form's projection rows computed from record rows (the table, or a
/// trigger's transition table).
fn projection_select(form: FormKey, rows: &str) -> String {
    let mut cols: Vec<String> = SYSTEM_COLUMNS.iter().map(|c| format!("r.{c}")).collect();
    cols.extend(projected_fields(form).map(column_expr));
    cols.extend(derived_columns(form).iter().map(|(_, e)| e.to_string()));
    format!(
        "SELECT {} FROM {rows} r WHERE r.form = '{form}'",
        cols.join(", ")
    )
}

/// The indexes a form's projection gets beside its primary key: scope
/// (entity, institution), its parent, and its period date by entity.
fn projection_indexes(form: FormKey) -> Vec<String> {
    let mut idx = vec![
        format!("CREATE INDEX ON {SCHEMA}.{form} (entity_code)"),
        format!("CREATE INDEX ON {SCHEMA}.{form} (institution_id)"),
    ];
    if form.spec().parent.is_some() {
        idx.push(format!("CREATE INDEX ON {SCHEMA}.{form} (parent_id)"));
    }
    if let sintra_domain::forms::PeriodDate::Field(key) = form.spec().period_date {
        if let Some(f) = projected_fields(form).find(|f| f.key == key) {
            idx.push(format!(
                "CREATE INDEX ON {SCHEMA}.{form} (entity_code, \"{}\")",
                column_name(f)
            ));
        }
    }
    idx
}

/// The statements that (re)build the projections: typed tables generated
/// from the form specs, kept by triggers on `records` in the writing
/// transaction (and on `person_links` for a victim's person and `counted`),
/// backfilled from the records, with the rollups of
/// [`crate::rollup`] rebuilt from them; then the grouping function the
/// dashboards use and the grants. Run by [`ensure_projections`] in one
/// transaction, with writes to records held off, whenever the text
/// differs from the one last built (a spec changed).
pub fn projection_ddl() -> String {
    let forms: Vec<FormKey> = projected_forms().collect();
    // Writes wait for the rebuild (it runs at start-up, under the
    // migration lock): none is lost between the backfill and the triggers.
    let mut sql = String::from(
        "LOCK TABLE public.records, public.duplicate_pairs, public.person_links IN SHARE ROW EXCLUSIVE MODE;\n\
         DROP TRIGGER IF EXISTS records_project_insert ON public.records;\n\
         DROP TRIGGER IF EXISTS records_project_update ON public.records;\n\
         DROP TRIGGER IF EXISTS records_project_delete ON public.records;\n\
         DROP TRIGGER IF EXISTS duplicate_pairs_counted ON public.duplicate_pairs;\n\
         DROP TRIGGER IF EXISTS person_links_counted ON public.person_links;\n",
    );
    // Views (before this version) and tables alike go with the schema.
    sql.push_str(&format!(
        "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE;\n\
         CREATE SCHEMA {SCHEMA};\n\
         REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC;\n"
    ));
    for &form in &forms {
        let mut cols: Vec<String> = SYSTEM_COLUMNS
            .iter()
            .zip(SYSTEM_TYPES)
            .map(|(c, t)| format!("\"{c}\" {t}"))
            .collect();
        cols.extend(
            projected_fields(form).map(|f| format!("\"{}\" {}", column_name(f), column_type(f))),
        );
        cols.extend(
            derived_columns(form)
                .iter()
                .map(|(n, _)| format!("\"{n}\" {}", derived_type(n))),
        );
        sql.push_str(&format!(
            "CREATE TABLE {SCHEMA}.{form} ({});\n\
             COMMENT ON TABLE {SCHEMA}.{form} IS 'Typed projection of the {form} form, generated from its spec and kept by triggers on records: non-personal fields only.';\n\
             INSERT INTO {SCHEMA}.{form} ({}) {};\n",
            cols.join(", "),
            projection_columns(form).join(", "),
            projection_select(form, "public.records"),
        ));
        for i in projection_indexes(form) {
            sql.push_str(&i);
            sql.push_str(";\n");
        }
    }
    // Only the forms a statement wrote are touched: a projection not
    // written fires no trigger of its own (and plans nothing).
    let each = |f: &dyn Fn(FormKey) -> String| {
        forms
            .iter()
            .map(|&x| format!("IF '{x}' = ANY(forms) THEN\n{}END IF;\n", f(x)))
            .collect::<String>()
    };
    let insert = |form: FormKey, rows: &str| {
        format!(
            "INSERT INTO {SCHEMA}.{form} ({}) {};\n",
            projection_columns(form).join(", "),
            projection_select(form, rows)
        )
    };
    let delete = |form: FormKey, rows: &str| {
        format!(
            "DELETE FROM {SCHEMA}.{form} p USING {rows} o WHERE o.form = '{form}' AND p.id = o.id;\n"
        )
    };
    // SECURITY DEFINER: the API's role reads the projections and cannot
    // write them; the triggers write them for it.
    let function = |name: &str, rows: &str, body: String| {
        format!(
            "CREATE FUNCTION {SCHEMA}.{name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER \
             SET search_path = pg_catalog, public AS $fn$\nDECLARE forms text[];\nBEGIN\n\
             forms := ARRAY(SELECT DISTINCT r.form FROM {rows} r);\n{body}RETURN NULL;\nEND\n$fn$;\n"
        )
    };
    sql.push_str(&function(
        "records_inserted",
        "new_records",
        each(&|f| insert(f, "new_records")),
    ));
    // An update replaces the row (its entity, institution or dates may
    // have moved): the rollups see the old row leave and the new one come.
    sql.push_str(&function(
        "records_updated",
        "old_records",
        each(&|f| delete(f, "old_records") + &insert(f, "new_records")),
    ));
    sql.push_str(&function(
        "records_deleted",
        "old_records",
        each(&|f| delete(f, "old_records")),
    ));
    sql.push_str(&format!(
        "CREATE TRIGGER records_project_insert AFTER INSERT ON public.records \
         REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.records_inserted();\n\
         CREATE TRIGGER records_project_update AFTER UPDATE ON public.records \
         REFERENCING OLD TABLE AS old_records NEW TABLE AS new_records FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.records_updated();\n\
         CREATE TRIGGER records_project_delete AFTER DELETE ON public.records \
         REFERENCING OLD TABLE AS old_records FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.records_deleted();\n"
    ));
    // A record whose person changes (a pair confirmed or undone regroups
    // the persons, migration `person_merge`) carries its new person, and
    // counts only while it is its person's head.
    sql.push_str(&format!(
        "CREATE FUNCTION {SCHEMA}.person_link_changed() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER \
         SET search_path = pg_catalog, public AS $fn$\n\
         DECLARE rec uuid;\n\
         BEGIN\n\
           IF TG_OP = 'DELETE' THEN rec := OLD.record_id; ELSE rec := NEW.record_id; END IF;\n\
           UPDATE {SCHEMA}.victim v SET person_id = public.person_uuid(c.head), counted = (c.head = v.id)\n\
           FROM (SELECT COALESCE((SELECT pl.head FROM public.person_links pl WHERE pl.record_id = rec), rec) AS head) c\n\
           WHERE v.id = rec AND (v.person_id, v.counted) IS DISTINCT FROM (public.person_uuid(c.head), c.head = v.id);\n\
           RETURN NULL;\n\
         END\n$fn$;\n\
         CREATE TRIGGER person_links_counted AFTER INSERT OR UPDATE OR DELETE ON public.person_links \
         FOR EACH ROW EXECUTE FUNCTION {SCHEMA}.person_link_changed();\n"
    ));
    sql.push_str(&crate::rollup::rollup_ddl());
    sql.push_str(&format!(
        "CREATE FUNCTION {SCHEMA}.group_key(g text, d date, e text, m text, i uuid)
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
         GRANT EXECUTE ON FUNCTION {SCHEMA}.group_key(text, date, text, text, uuid) TO sintra_app, {BI_ROLE};
         REVOKE ALL ON FUNCTION {SCHEMA}.records_inserted(), {SCHEMA}.records_updated(), \
         {SCHEMA}.records_deleted(), {SCHEMA}.person_link_changed() FROM PUBLIC;\n"
    ));
    sql
}

/// Builds the projections (and rebuilds the rollups) when the form specs
/// of this binary describe them differently from what was built last: on
/// a new database, and after a spec changed. Otherwise nothing is done,
/// so a restart does not re-read every record.
pub fn ensure_projections<C>(conn: &mut C) -> diesel::QueryResult<bool>
where
    C: diesel::Connection<Backend = diesel::pg::Pg> + diesel::connection::LoadConnection,
{
    #[derive(QueryableByName)]
    struct Built {
        #[diesel(sql_type = Text)]
        ddl: String,
    }
    let ddl = projection_ddl();
    let built = diesel::RunQueryDsl::load::<Built>(
        diesel::sql_query("SELECT ddl FROM projection_state"),
        conn,
    )?;
    if built.iter().any(|b| b.ddl == ddl) {
        return Ok(false);
    }
    conn.transaction(|conn| {
        conn.batch_execute(&ddl)?;
        diesel::RunQueryDsl::execute(
            diesel::sql_query(
                "INSERT INTO projection_state (id, ddl) VALUES (true, $1) \
                 ON CONFLICT (id) DO UPDATE SET ddl = EXCLUDED.ddl, built_at = now()",
            )
            .bind::<Text, _>(&ddl),
            conn,
        )?;
        Ok(true)
    })
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
         FROM projections.attention a
         LEFT JOIN public.person_links pl ON pl.record_id = a.parent_id
         JOIN v ON v.id = COALESCE(pl.head, a.parent_id)
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

/// GLOTIP's tables; the victims' part from the victims' rollup when
/// `rollups`, else from the projection.
fn glotip_sql(rollups: Option<rollup::Level>) -> String {
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
    let (victims_cte, victims) = if let Some(level) = rollups {
        (
            format!(
                "rv AS (
                   SELECT to_char(r.month, 'YYYY') AS y, r.dim, r.value, r.n FROM {rows} r
                   WHERE r.dim IN ('glotip', 'exploitation_form', 'nationality') AND {scope_r} AND {filters_r}
                 )",
                rows = rollup::rows(rollup::VICTIM, level),
                scope_r = rollup_scope("r"),
                filters_r = filters("r", Some("r.month"), Some("r.municipality_code")),
            ),
            format!(
                "SELECT 'victims_by_sex_age' AS tbl, y AS row_key, value AS col_key,
                        sum(n)::bigint AS n, NULL::float8 AS x
                 FROM rv WHERE dim = 'glotip' GROUP BY 2, 3 HAVING sum(n) <> 0
                 UNION ALL
                 SELECT 'victims_by_exploitation', y, COALESCE(value, '{UNSPECIFIED}'), sum(n)::bigint, NULL
                 FROM rv WHERE dim = 'exploitation_form' GROUP BY 2, 3 HAVING sum(n) <> 0
                 UNION ALL
                 SELECT 'victims_by_citizenship', y,
                        CASE WHEN value IS NULL THEN '{UNSPECIFIED}' WHEN value = 'MEX' THEN 'NACIONALES'
                             ELSE 'EXTRANJERAS' END,
                        sum(n)::bigint, NULL
                 FROM rv WHERE dim = 'nationality' GROUP BY 2, 3 HAVING sum(n) <> 0"
            ),
        )
    } else {
        (
            format!(
                "v AS (
                   SELECT p.*, to_char(p.detection_date, 'YYYY') AS y FROM projections.victim p
                   WHERE p.counted AND {scope_p} AND {filters_v}
                 )",
                scope_p = scope("p"),
                filters_v = filters(
                    "p",
                    Some("p.detection_date"),
                    Some("p.detection_municipality_code")
                ),
            ),
            format!(
                "SELECT 'victims_by_sex_age' AS tbl, v.y AS row_key, {sex_age} AS col_key,
                        count(*) AS n, NULL::float8 AS x
                 FROM v GROUP BY 2, 3
                 UNION ALL
                 SELECT 'victims_by_exploitation', v.y, f, count(*), NULL
                 FROM v CROSS JOIN LATERAL unnest(
                     CASE WHEN cardinality(v.exploitation_forms) > 0 THEN v.exploitation_forms
                          ELSE ARRAY['{UNSPECIFIED}'] END) AS f
                 GROUP BY 2, 3
                 UNION ALL
                 SELECT 'victims_by_citizenship', v.y, {cit_v}, count(*), NULL FROM v GROUP BY 2, 3",
                cit_v = citizenship("v"),
            ),
        )
    };
    if let Some(level) = rollups {
        // A defendant convicted under several scopes counts, for the
        // nation, under its first conviction anywhere (`@national`), for a
        // state or an institution under its first one there (`@scoped`).
        let which =
            "CASE WHEN $1::text IS NULL AND $2::uuid IS NULL THEN '@national' ELSE '@scoped' END";
        return format!(
            "WITH {victims_cte}, pp AS (
               SELECT split_part(r.value, '|', 1) || '|' || to_char(r.month, 'YYYY') AS row_key,
                      split_part(r.dim, '@', 1) AS dim, split_part(r.value, '|', 2) AS col, r.n
               FROM {rows} r
               WHERE r.dim IN ('sex', 'citizenship', 'sex' || {which}, 'citizenship' || {which})
                 AND {scope_r} AND {filters_r}
             )
             {victims}
             UNION ALL
             SELECT 'persons_by_sex', row_key, col, sum(n)::bigint, NULL FROM pp WHERE dim = 'sex'
             GROUP BY 2, 3 HAVING sum(n) <> 0
             UNION ALL
             SELECT 'persons_by_citizenship', row_key, col, sum(n)::bigint, NULL FROM pp
             WHERE dim = 'citizenship' GROUP BY 2, 3 HAVING sum(n) <> 0",
            rows = rollup::rows(rollup::GLOTIP_PERSONS, level),
            scope_r = rollup_scope("r"),
            filters_r = filters("r", Some("r.month"), None),
        );
    }
    format!(
        "WITH {victims_cte}, d AS (
           SELECT x.id, COALESCE(x.sex, 'NO_IDENTIFICADO') AS sex, x.nationality,
                  i.opening_date, c.judicialized_date
           FROM projections.defendant x JOIN projections.criminal_case c ON c.id = x.parent_id
                JOIN projections.investigation i ON i.id = c.parent_id
           WHERE {scope_x} AND {filters_x}
         ), pr AS (
           SELECT st.stage, st.sd, st.sex, st.nationality FROM {stages}
           WHERE ($3::date IS NULL OR st.sd >= $3) AND ($4::date IS NULL OR st.sd <= $4)
         )
         {victims}
         UNION ALL
         SELECT 'persons_by_sex', pr.stage || '|' || to_char(pr.sd, 'YYYY'), pr.sex, count(*), NULL
         FROM pr GROUP BY 2, 3
         UNION ALL
         SELECT 'persons_by_citizenship', pr.stage || '|' || to_char(pr.sd, 'YYYY'), {cit_st},
                count(*), NULL
         FROM pr GROUP BY 2, 3",
        stages = stages.replace("{scope_x}", &scope("x")),
        scope_x = scope("x"),
        filters_x = filters("x", None, None),
        cit_st = citizenship("pr"),
    )
}

/// The scope condition on rollup rows `a`: every record behind a cell
/// must lie in the scope (`$1` entity, `$2` institution).
fn rollup_scope(a: &str) -> String {
    format!(
        "($1::text IS NULL OR {a}.scope_entity = $1) AND ($2::uuid IS NULL OR {a}.scope_institution = $2)"
    )
}

/// The victims dashboard from the victims' rollup (services received,
/// which count distinct people across attentions, from the projections).
fn victims_rollup_sql(level: rollup::Level) -> String {
    let d = "p.detection_date";
    let m = Some("p.detection_municipality_code");
    format!(
        "WITH r AS (
           SELECT {g} AS g, r.entity_code, r.dim,
                  COALESCE(r.value, CASE r.dim WHEN 'sex' THEN 'NO_IDENTIFICADO' ELSE '{UNSPECIFIED}' END) AS value,
                  r.n
           FROM {rows} r
           WHERE r.dim IN ('entity', 'sex', 'age', 'nationality', 'condition', 'detection_source',
                           'exploitation_form')
             AND {scope_r} AND {filters_r}
         ), v AS (
           SELECT p.id, {g_p} AS g FROM projections.victim p
           WHERE p.counted AND {scope_p} AND {filters_p}
         )
         SELECT CASE r.dim WHEN 'sex' THEN 'by_sex' WHEN 'age' THEN 'by_age'
                     WHEN 'nationality' THEN 'by_nationality' WHEN 'condition' THEN 'by_condition'
                     WHEN 'detection_source' THEN 'by_detection_source' ELSE 'by_exploitation_form' END AS tbl,
                r.g AS row_key, r.value AS col_key, sum(r.n)::bigint AS n, NULL::float8 AS x
         FROM r WHERE r.dim <> 'entity' GROUP BY 1, 2, 3 HAVING sum(r.n) <> 0
         UNION ALL
         SELECT 'by_entity', r.value, 'VICTIMAS', sum(r.n)::bigint, NULL
         FROM r WHERE r.dim = 'entity' GROUP BY 2 HAVING sum(r.n) <> 0
         UNION ALL
         SELECT 'by_service', v.g, a.service, count(DISTINCT v.id), NULL
         FROM projections.attention a
         LEFT JOIN public.person_links pl ON pl.record_id = a.parent_id
         JOIN v ON v.id = COALESCE(pl.head, a.parent_id)
         WHERE {scope_a} AND a.service IS NOT NULL
         GROUP BY 2, 3",
        rows = rollup::rows(rollup::VICTIM, level),
        g = group("r", "r.month", Some("r.municipality_code")),
        scope_r = rollup_scope("r"),
        filters_r = filters("r", Some("r.month"), Some("r.municipality_code")),
        g_p = group("p", d, m),
        scope_p = scope("p"),
        filters_p = filters("p", Some(d), m),
        scope_a = scope("a"),
    )
}

/// The judicialization dashboard from its rollup: the funnel as counts,
/// the medians from the counts of each number of days.
fn judicialization_rollup_sql(level: rollup::Level) -> String {
    format!(
        "WITH r AS (
           SELECT {g} AS g, r.dim,
                  COALESCE(r.value, CASE r.dim WHEN 'defendant_sex' THEN 'NO_IDENTIFICADO'
                                               WHEN 'fuero' THEN '{UNSPECIFIED}'
                                               WHEN 'defendant_nationality' THEN '{UNSPECIFIED}' END) AS value,
                  r.n
           FROM {rows} r WHERE {scope_r} AND {filters_r}
         ), h AS (
           SELECT g, dim, value, sum(n) AS n FROM r GROUP BY 1, 2, 3 HAVING sum(n) <> 0
         ), w AS (
           SELECT g, dim, value::int AS v, n,
                  sum(n) OVER (PARTITION BY g, dim) AS all_n,
                  sum(n) FILTER (WHERE value IS NOT NULL) OVER (PARTITION BY g, dim) AS nn,
                  sum(n) FILTER (WHERE value IS NOT NULL)
                      OVER (PARTITION BY g, dim ORDER BY value::int NULLS LAST ROWS UNBOUNDED PRECEDING) AS upto
           FROM h WHERE dim IN ('days_judicialization', 'days_sentence')
         ), md AS (
           SELECT g, dim, max(all_n) AS n, max(nn) AS nn,
                  min(v) FILTER (WHERE v IS NOT NULL AND upto > floor((nn - 1) / 2.0)) AS lo,
                  min(v) FILTER (WHERE v IS NOT NULL AND upto > ceil((nn - 1) / 2.0)) AS hi
           FROM w GROUP BY g, dim
         )
         SELECT CASE dim WHEN 'funnel' THEN 'funnel' WHEN 'fuero' THEN 'by_fuero'
                         WHEN 'defendant_sex' THEN 'defendants_by_sex'
                         ELSE 'defendants_by_nationality' END AS tbl,
                g AS row_key, value AS col_key, n::bigint AS n, NULL::float8 AS x
         FROM h WHERE dim IN ('funnel', 'fuero', 'defendant_sex', 'defendant_nationality')
         UNION ALL
         SELECT 'median_days', g,
                CASE dim WHEN 'days_judicialization' THEN 'A_JUDICIALIZACION' ELSE 'A_SENTENCIA' END,
                n::bigint,
                (lo + ((nn - 1) / 2.0 - floor((nn - 1) / 2.0)) * (hi - lo))::float8
         FROM md",
        rows = rollup::rows(rollup::JUDICIALIZATION, level),
        g = group("r", "r.month", None),
        scope_r = rollup_scope("r"),
        filters_r = filters("r", Some("r.month"), None),
    )
}

/// The SESNSP breakdown from its rollup.
fn sesnsp_rollup_sql() -> String {
    format!(
        "SELECT 'sesnsp' AS tbl, r.entity_code || '|' || to_char(r.month, 'YYYY-MM') AS row_key,
                r.value AS col_key, sum(r.n)::bigint AS n, NULL::float8 AS x
         FROM {rows} r WHERE {scope_r} AND {filters_r}
         GROUP BY 2, 3 HAVING sum(r.n) <> 0",
        rows = rollup::rows(rollup::SESNSP, rollup::Level::Full),
        scope_r = rollup_scope("r"),
        filters_r = filters("r", Some("r.month"), None),
    )
}

/// Data quality from the records' rollup (open duplicates and imports,
/// small tables, as they are).
// Cuts a constant SQL text at a marker it contains; the figures tests run
// the result.
#[allow(clippy::expect_used)]
fn data_quality_rollup_sql(level: rollup::Level) -> String {
    let fields = projected_forms()
        .flat_map(|form| {
            projected_fields(form).map(move |f| format!("('{form}', '{form}.{}')", f.key))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let plain = data_quality_sql();
    let tail = plain
        .split_once("SELECT 'open_duplicates'")
        .map(|(_, t)| t)
        .expect("the open duplicates' table");
    format!(
        "WITH r AS (
           SELECT r.month, r.entity_code, r.institution_id, r.dim, r.value, r.n FROM {rows} r
           WHERE {scope_r} AND {filters_r}
         ), totals AS (
           SELECT value AS form, sum(n) AS total FROM r WHERE dim = 'record' GROUP BY 1 HAVING sum(n) > 0
         ), filled AS (
           SELECT value AS k, sum(n) AS n FROM r WHERE dim = 'filled' GROUP BY 1
         )
         SELECT 'records_by_form' AS tbl,
                projections.group_key($8, r.month, r.entity_code, NULL, r.institution_id) AS row_key,
                r.value AS col_key, sum(r.n)::bigint AS n, NULL::float8 AS x
         FROM r WHERE r.dim = 'record' GROUP BY 2, 3 HAVING sum(r.n) <> 0
         UNION ALL
         SELECT 'completeness', f.k, 'CON_DATO', COALESCE(filled.n, 0)::bigint, t.total::float8
         FROM (VALUES {fields}) AS f(form, k) JOIN totals t ON t.form = f.form
              LEFT JOIN filled ON filled.k = f.k
         UNION ALL
         SELECT 'open_duplicates'{tail}",
        rows = rollup::rows(rollup::QUALITY, level),
        scope_r = rollup_scope("r"),
        filters_r = filters("r", Some("r.month"), None),
    )
}

/// The SQL of a dashboard's finest cells: from the rollups at `rollups`
/// (whole months asked for), else from the projections. Commissions
/// always read the projections: their overdue agreements depend on
/// today's date, and they are few.
pub fn dashboard_sql(dashboard: DashboardKey, rollups: Option<rollup::Level>) -> String {
    match (dashboard, rollups) {
        (DashboardKey::Victims, Some(l)) => victims_rollup_sql(l),
        (DashboardKey::Victims, None) => victims_sql(),
        (DashboardKey::Judicialization, Some(l)) => judicialization_rollup_sql(l),
        (DashboardKey::Judicialization, None) => judicialization_sql(),
        (DashboardKey::Commissions, _) => commissions_sql(),
        (DashboardKey::DataQuality, Some(l)) => data_quality_rollup_sql(l),
        (DashboardKey::DataQuality, None) => data_quality_sql(),
        (DashboardKey::Sesnsp, Some(_)) => sesnsp_rollup_sql(),
        (DashboardKey::Sesnsp, None) => sesnsp_sql(),
        (DashboardKey::Glotip, r) => glotip_sql(r),
    }
}

impl FigureFilter {
    /// Whether the dates cover whole months (or are absent): the rollups
    /// count by month, so they answer exactly only then.
    pub fn whole_months(&self) -> bool {
        use chrono::Datelike;
        self.from.is_none_or(|d| d.day() == 1)
            && self
                .to
                .is_none_or(|d| d.succ_opt().is_some_and(|n| n.day() == 1))
    }

    /// Which rollup totals answer this caller, if any: none unless whole
    /// months; the country's when a national caller filters by no entity,
    /// municipality or institution and groups by time.
    pub fn rollup_level(&self, scope: &Scope) -> Option<rollup::Level> {
        if !self.whole_months() {
            return None;
        }
        let national = matches!(scope, Scope::National)
            && self.entity_code.is_none()
            && self.municipality_code.is_none()
            && self.institution_id.is_none()
            && matches!(
                self.group_by,
                GroupBy::Month | GroupBy::Quarter | GroupBy::Year
            );
        Some(if national {
            rollup::Level::National
        } else {
            rollup::Level::Full
        })
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
        Scope::Entity(e) => (Some(e.to_string()), None),
        Scope::Institution(i) => (None, Some(*i)),
    };
    Ok(
        diesel::sql_query(dashboard_sql(dashboard, filter.rollup_level(scope)))
            .bind::<Nullable<Text>, _>(entity)
            .bind::<Nullable<SqlUuid>, _>(institution)
            .bind::<Nullable<Date>, _>(filter.from)
            .bind::<Nullable<Date>, _>(filter.to)
            .bind::<Nullable<Text>, _>(filter.entity_code.clone())
            .bind::<Nullable<Text>, _>(filter.municipality_code.clone())
            .bind::<Nullable<SqlUuid>, _>(filter.institution_id)
            .bind::<Text, _>(filter.group_by.as_str())
            .load(conn)
            .await?,
    )
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
            let table = ddl
                .split("CREATE TABLE ")
                .find(|v| v.starts_with(&format!("{SCHEMA}.{form} (")))
                .unwrap_or_else(|| panic!("{form} has a table"));
            let table = table.split(";\n").next().unwrap();
            for f in form.spec().fields {
                let column = format!("\"{}\" ", column_name(f));
                let shown = !f.personal && f.key != "external_folio";
                assert_eq!(table.contains(&column), shown, "{form}.{}", f.key);
            }
        }
        assert!(ddl.contains("NULLIF(r.data->>'detection_date', '')::date"));
        assert!(ddl.contains("\"detection_date\" date"));
        assert!(ddl.contains("\"field_entity_code\" text"));
        assert!(ddl.contains("REFERENCING NEW TABLE AS new_records"));
    }

    #[test]
    fn only_whole_months_read_the_rollups() {
        let d = |s: &str| Some(s.parse::<NaiveDate>().unwrap());
        let f = |from, to| FigureFilter {
            from,
            to,
            entity_code: None,
            municipality_code: None,
            institution_id: None,
            group_by: GroupBy::Month,
        };
        assert!(f(None, None).whole_months());
        assert!(f(d("2024-01-01"), d("2024-02-29")).whole_months());
        assert!(f(d("2024-04-01"), d("2024-06-30")).whole_months());
        assert!(!f(d("2024-01-02"), None).whole_months());
        assert!(!f(None, d("2024-02-28")).whole_months());
    }

    #[test]
    fn every_dashboard_binds_its_values() {
        let levels = [
            None,
            Some(rollup::Level::Full),
            Some(rollup::Level::National),
        ];
        for (d, r) in DashboardKey::ALL
            .into_iter()
            .flat_map(|d| levels.map(|l| (d, l)))
        {
            let sql = dashboard_sql(d, r);
            assert!(!sql.contains('{'), "{d}: {sql}");
            assert!(sql.contains("$1::text IS NULL"), "{d}");
            assert!(!sql.contains("data->>"), "{d} reads projections only");
        }
    }
}
