//! Counts of the judicialization module as SESNSP publishes them:
//! investigations, criminal cases, defendants and sentences, and the
//! victims of investigations by sex and age group, per entity, month and
//! fuero. The caller's scope is applied here, in SQL, to the records
//! counted; their ancestors are joined only to read the fuero and dates.

use diesel::sql_types::{BigInt, Nullable, Text, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use sintra_domain::access::Scope;

use crate::error::StoreResult;

/// The finest cell counted: one measure of one entity, month and fuero,
/// with the measure's own breakdown (a sentence's type; a victim's sex and
/// age group). Coarser figures are sums of these, so suppressing small
/// cells here protects every sum built from them.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct CountCell {
    /// `investigations`, `criminal_cases`, `defendants`, `sentences` or
    /// `victims`.
    #[diesel(sql_type = Text)]
    pub measure: String,
    #[diesel(sql_type = Text)]
    pub entity_code: String,
    /// `YYYY-MM` of the measure's date.
    #[diesel(sql_type = Text)]
    pub month: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub fuero: Option<String>,
    /// The sentence type (sentences) or the sex (victims).
    #[diesel(sql_type = Nullable<Text>)]
    pub dim_a: Option<String>,
    /// The age group (victims): `0_17`, `18_MAS` or `NO_ESPECIFICADA`.
    #[diesel(sql_type = Nullable<Text>)]
    pub dim_b: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// What to count: dates inclusive, `YYYY-MM-DD`; `fuero` a catalog code.
#[derive(Debug, Clone, Default)]
pub struct CountFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub fuero: Option<String>,
}

/// Which date places each measure in a month: SESNSP counts an
/// investigation in the month it was opened, a case (and its defendants) in
/// the month it was judicialized, a sentence in the month it was handed
/// down, and victims with the investigation that names them.
const COUNTS_SQL: &str = "
SELECT 'investigations' AS measure, i.entity_code, left(i.data->>'opening_date', 7) AS month,
       i.data->>'fuero' AS fuero, NULL::text AS dim_a, NULL::text AS dim_b, count(*) AS n
FROM records i
WHERE i.form = 'investigation' AND {scope_i}
  AND {dates:i.data->>'opening_date'} AND {fuero}
GROUP BY 2, 3, 4
UNION ALL
SELECT 'criminal_cases', c.entity_code, left(c.data->>'judicialized_date', 7),
       i.data->>'fuero', NULL, NULL, count(*)
FROM records c JOIN records i ON i.id = c.parent_id
WHERE c.form = 'criminal_case' AND {scope_c}
  AND {dates:c.data->>'judicialized_date'} AND {fuero}
GROUP BY 2, 3, 4
UNION ALL
SELECT 'defendants', d.entity_code, left(c.data->>'judicialized_date', 7),
       i.data->>'fuero', NULL, NULL, count(*)
FROM records d JOIN records c ON c.id = d.parent_id JOIN records i ON i.id = c.parent_id
WHERE d.form = 'defendant' AND {scope_d}
  AND {dates:c.data->>'judicialized_date'} AND {fuero}
GROUP BY 2, 3, 4
UNION ALL
SELECT 'sentences', s.entity_code, left(s.data->>'date', 7),
       i.data->>'fuero', s.data->>'sentence_type', NULL, count(*)
FROM records s JOIN records d ON d.id = s.parent_id JOIN records c ON c.id = d.parent_id
     JOIN records i ON i.id = c.parent_id
WHERE s.form = 'sentence' AND {scope_s}
  AND {dates:s.data->>'date'} AND {fuero}
GROUP BY 2, 3, 4, 5
UNION ALL
SELECT 'victims', i.entity_code, left(i.data->>'opening_date', 7), i.data->>'fuero',
       coalesce(v.data->>'sex', 'NO_IDENTIFICADO'),
       CASE
           WHEN v.data->>'birth_date' IS NOT NULL THEN
               CASE WHEN (v.data->>'birth_date')::date
                         > (i.data->>'opening_date')::date - interval '18 years'
                    THEN '0_17' ELSE '18_MAS' END
           WHEN v.data->>'age_at_detection' IS NOT NULL THEN
               CASE WHEN (v.data->>'age_at_detection')::numeric < 18 THEN '0_17' ELSE '18_MAS' END
           ELSE 'NO_ESPECIFICADA'
       END,
       count(*)
FROM records i
     CROSS JOIN LATERAL jsonb_array_elements_text(
         CASE WHEN jsonb_typeof(i.data->'victim_ids') = 'array' THEN i.data->'victim_ids'
              ELSE '[]'::jsonb END) AS link(victim_id)
     JOIN records v ON v.id = link.victim_id::uuid AND v.form = 'victim'
WHERE i.form = 'investigation' AND {scope_i}
  AND {dates:i.data->>'opening_date'} AND {fuero}
GROUP BY 2, 3, 4, 5, 6
";

/// The SQL with the scope, date and fuero conditions written in. Every
/// value is a bound parameter: `$1` entity, `$2` institution, `$3`/`$4`
/// the dates, `$5` the fuero.
// Fills the placeholders of the constant `COUNTS_SQL`, every one of them
// closed; the judicialization tests run the result.
#[allow(clippy::expect_used)]
fn counts_sql() -> String {
    let scope = |a: &str| {
        format!(
            "($1::text IS NULL OR {a}.entity_code = $1) AND ($2::uuid IS NULL OR {a}.institution_id = $2)"
        )
    };
    let mut sql = COUNTS_SQL
        .replace("{scope_i}", &scope("i"))
        .replace("{scope_c}", &scope("c"))
        .replace("{scope_d}", &scope("d"))
        .replace("{scope_s}", &scope("s"))
        .replace("{fuero}", "($5::text IS NULL OR i.data->>'fuero' = $5)");
    while let Some(start) = sql.find("{dates:") {
        let end = start + sql[start..].find('}').expect("closed placeholder");
        let expr = sql[start + 7..end].to_string();
        sql.replace_range(
            start..=end,
            &format!("($3::text IS NULL OR {expr} >= $3) AND ($4::text IS NULL OR {expr} <= $4)"),
        );
    }
    sql
}

/// The finest cells in the scope, filtered.
pub async fn counts(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    filter: &CountFilter,
) -> StoreResult<Vec<CountCell>> {
    let (entity, institution) = match scope {
        Scope::National => (None, None),
        Scope::Entity(e) => (Some(e.to_string()), None),
        Scope::Institution(i) => (None, Some(*i)),
    };
    Ok(diesel::sql_query(counts_sql())
        .bind::<Nullable<Text>, _>(entity)
        .bind::<Nullable<SqlUuid>, _>(institution)
        .bind::<Nullable<Text>, _>(filter.from.clone())
        .bind::<Nullable<Text>, _>(filter.to.clone())
        .bind::<Nullable<Text>, _>(filter.fuero.clone())
        .load(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_with_bound_parameters() {
        let sql = counts_sql();
        assert!(!sql.contains('{'), "{sql}");
        assert_eq!(sql.matches("$3::text IS NULL").count(), 5);
        assert_eq!(sql.matches("$2::uuid IS NULL").count(), 5);
        assert_eq!(sql.matches("$5::text IS NULL").count(), 5);
    }
}
