//! `crates/persistence/src/schema.rs` (diesel's view of the tables, kept by
//! hand: no `diesel print-schema` runs in the build) against the schema the
//! migrations build. What `print-schema` would catch, this catches: a
//! migration that adds, renames, drops or retypes a column, or adds a
//! table, fails here until `schema.rs` follows.
//!
//! Each `table!` of `schema.rs` must exist with exactly its columns (same
//! names, the SQL type diesel's type names, the same nullability) and its
//! primary key; every table of the public schema is either declared or
//! listed in [`RAW_SQL_ONLY`] with the reason diesel's DSL never names it.

use std::collections::{BTreeMap, BTreeSet};

use diesel::sql_types::{Bool, Text};
use diesel_async::RunQueryDsl;
use sintra_tests::TestDb;

const SCHEMA_RS: &str = include_str!("../../crates/persistence/src/schema.rs");

/// Public tables read and written by SQL text alone (triggers, the audit
/// chain's sealer, the figure rollups), never by diesel's DSL: nothing
/// compiles against a declaration of them, so `schema.rs` leaves them out.
/// A new table must be declared in `schema.rs` or added here with a reason.
const RAW_SQL_ONLY: &[(&str, &str)] = &[
    ("__diesel_schema_migrations", "diesel's own bookkeeping"),
    ("audit_archive", "the audit chain's archive, written by SQL"),
    ("audit_chain", "the audit chain, sealed by SQL"),
    (
        "audit_chain_head",
        "the chain head (an xid8 horizon), by SQL",
    ),
    ("cut_records", "a cut's record list, by SQL"),
    ("figure_deltas", "figure rollups, kept by triggers"),
    ("figure_sources", "figure rollups, kept by triggers"),
    ("figure_totals", "figure rollups, kept by triggers"),
    ("name_term_deltas", "name frequencies, kept by triggers"),
    ("person_links", "the person of a record, by SQL"),
    ("person_merges", "merge history of duplicate pairs, by SQL"),
    ("projection_state", "the projections' DDL marker, by SQL"),
];

/// One `diesel::table!` block: its primary key and `column -> Type` lines.
#[derive(Debug, PartialEq, Eq)]
struct Declared {
    key: Vec<String>,
    columns: BTreeMap<String, String>,
}

/// Reads the `table!` blocks of `schema.rs` (one declaration a line, as
/// rustfmt leaves them; doc comments skipped).
fn declared(source: &str) -> BTreeMap<String, Declared> {
    let mut tables = BTreeMap::new();
    let mut lines = source.lines().map(str::trim);
    while let Some(line) = lines.next() {
        if line != "diesel::table! {" {
            continue;
        }
        let header = lines
            .by_ref()
            .find(|l| {
                !(l.starts_with("///")
                    || l.starts_with("#[")
                    || l.starts_with("use ")
                    || l.is_empty())
            })
            .unwrap_or_default();
        // `name (key, key) {`
        let (name, rest) = header.split_once(" (").expect("a table header");
        let key = rest
            .split_once(')')
            .expect("a primary key")
            .0
            .split(',')
            .map(|k| k.trim().to_string())
            .collect();
        let mut columns = BTreeMap::new();
        for line in lines.by_ref() {
            if line == "}" {
                break;
            }
            if line.starts_with("///") || line.is_empty() {
                continue;
            }
            let (column, ty) = line.split_once(" -> ").expect("`column -> Type,`");
            columns.insert(column.to_string(), ty.trim_end_matches(',').to_string());
        }
        tables.insert(name.to_string(), Declared { key, columns });
    }
    tables
}

/// A diesel type as PostgreSQL names it (`udt_name`), and its nullability.
fn sql_type(diesel: &str) -> (String, bool) {
    if let Some(inner) = diesel
        .strip_prefix("Nullable<")
        .and_then(|t| t.strip_suffix('>'))
    {
        return (sql_type(inner).0, true);
    }
    if let Some(inner) = diesel
        .strip_prefix("Array<")
        .and_then(|t| t.strip_suffix('>'))
    {
        return (format!("_{}", sql_type(inner).0), false);
    }
    let name = match diesel {
        "Bool" => "bool",
        "Int2" => "int2",
        "Int4" => "int4",
        "Int8" => "int8",
        "Float4" => "float4",
        "Float8" => "float8",
        "Numeric" => "numeric",
        "Text" => "text",
        "Varchar" => "varchar",
        "Bytea" => "bytea",
        "Uuid" => "uuid",
        "Date" => "date",
        "Timestamp" => "timestamp",
        "Timestamptz" => "timestamptz",
        "Jsonb" => "jsonb",
        "Json" => "json",
        "Inet" => "inet",
        // `schema::sql_types`: types diesel does not name.
        "Xid8" => "xid8",
        other => panic!("no PostgreSQL name known for diesel type {other}: add it here"),
    };
    (name.to_string(), false)
}

#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    udt_name: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = Bool)]
    in_key: bool,
}

/// The migrated public schema: table → column → (type, nullable, in the
/// primary key). Partitions are left out (their parent is the table).
async fn migrated(db: &TestDb) -> BTreeMap<String, BTreeMap<String, (String, bool, bool)>> {
    let mut conn = db.owner_conn().await;
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name,
                c.udt_name::text AS udt_name, c.is_nullable = 'YES' AS nullable,
                EXISTS (SELECT 1 FROM information_schema.table_constraints t
                        JOIN information_schema.key_column_usage k
                          ON k.constraint_name = t.constraint_name
                         AND k.table_schema = t.table_schema
                         AND k.table_name = t.table_name
                        WHERE t.constraint_type = 'PRIMARY KEY'
                          AND t.table_schema = c.table_schema
                          AND t.table_name = c.table_name
                          AND k.column_name = c.column_name) AS in_key
         FROM information_schema.columns c
         JOIN pg_class r ON r.relname = c.table_name
         JOIN pg_namespace n ON n.oid = r.relnamespace AND n.nspname = c.table_schema
         WHERE c.table_schema = 'public' AND r.relkind IN ('r', 'p') AND NOT r.relispartition
         ORDER BY c.table_name, c.ordinal_position",
    )
    .load(&mut conn)
    .await
    .expect("read information_schema");
    let mut tables: BTreeMap<String, BTreeMap<String, (String, bool, bool)>> = BTreeMap::new();
    for c in columns {
        tables
            .entry(c.table_name)
            .or_default()
            .insert(c.column_name, (c.udt_name, c.nullable, c.in_key));
    }
    tables
}

/// Every difference between `schema.rs` and the migrated schema, as
/// sentences (empty when they agree).
fn differences(
    declared: &BTreeMap<String, Declared>,
    migrated: &BTreeMap<String, BTreeMap<String, (String, bool, bool)>>,
    raw_sql_only: &[(&str, &str)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (table, decl) in declared {
        let Some(columns) = migrated.get(table) else {
            out.push(format!(
                "schema.rs declares `{table}`, which the migrations do not create"
            ));
            continue;
        };
        for (column, ty) in &decl.columns {
            let Some((udt, nullable, _)) = columns.get(column) else {
                out.push(format!(
                    "schema.rs declares `{table}.{column}`, missing in the database"
                ));
                continue;
            };
            let (want, want_null) = sql_type(ty);
            if &want != udt || want_null != *nullable {
                out.push(format!(
                    "`{table}.{column}` is `{ty}` in schema.rs but {udt}{} in the database",
                    if *nullable { " NULL" } else { " NOT NULL" }
                ));
            }
        }
        for column in columns.keys() {
            if !decl.columns.contains_key(column) {
                out.push(format!(
                    "`{table}.{column}` exists in the database, not in schema.rs"
                ));
            }
        }
        let key: BTreeSet<&str> = decl.key.iter().map(String::as_str).collect();
        let db_key: BTreeSet<&str> = columns
            .iter()
            .filter(|(_, (_, _, k))| *k)
            .map(|(c, _)| c.as_str())
            .collect();
        if key != db_key {
            out.push(format!(
                "`{table}`'s key is {key:?} in schema.rs but {db_key:?} in the database"
            ));
        }
    }
    let listed: BTreeSet<&str> = raw_sql_only.iter().map(|(t, _)| *t).collect();
    for table in migrated.keys() {
        if !declared.contains_key(table) && !listed.contains(table.as_str()) {
            out.push(format!(
                "table `{table}` is neither declared in schema.rs nor listed in RAW_SQL_ONLY"
            ));
        }
    }
    for table in &listed {
        if declared.contains_key(*table) {
            out.push(format!(
                "`{table}` is declared in schema.rs and listed in RAW_SQL_ONLY"
            ));
        } else if !migrated.contains_key(*table) {
            out.push(format!(
                "RAW_SQL_ONLY lists `{table}`, which the migrations do not create"
            ));
        }
    }
    out
}

#[tokio::test]
async fn schema_rs_matches_the_migrated_database() {
    let declared = declared(SCHEMA_RS);
    // The reader found the tables (a parser that finds none agrees with anything).
    assert!(declared.len() >= 20, "read only {} tables", declared.len());
    assert_eq!(declared["records"].key, vec!["id".to_string()]);
    assert_eq!(
        declared["records"].columns["blocking_keys"],
        "Nullable<Array<Text>>"
    );

    let db = TestDb::new().await;
    let migrated = migrated(&db).await;
    assert!(migrated.contains_key("records"), "the migrations ran");
    let differences = differences(&declared, &migrated, RAW_SQL_ONLY);
    assert!(
        differences.is_empty(),
        "schema.rs and the migrations disagree:\n{}",
        differences.join("\n")
    );
}

/// The comparison itself catches what a migration can do to a column.
#[test]
fn a_renamed_retyped_or_new_column_is_a_difference() {
    let declared = declared(
        "diesel::table! {\n    things (id) {\n        id -> Uuid,\n        name -> Text,\n        note -> Nullable<Text>,\n    }\n}\n",
    );
    let column = |ty: &str, null: bool, key: bool| (ty.to_string(), null, key);
    let agree: BTreeMap<_, _> = [(
        "things".to_string(),
        BTreeMap::from([
            ("id".to_string(), column("uuid", false, true)),
            ("name".to_string(), column("text", false, false)),
            ("note".to_string(), column("text", true, false)),
        ]),
    )]
    .into();
    assert_eq!(differences(&declared, &agree, &[]), Vec::<String>::new());

    let mut renamed = agree.clone();
    let things = renamed.get_mut("things").unwrap();
    let name = things.remove("name").unwrap();
    things.insert("title".into(), name);
    assert_eq!(differences(&declared, &renamed, &[]).len(), 2);

    let mut retyped = agree.clone();
    retyped
        .get_mut("things")
        .unwrap()
        .insert("note".into(), column("text", false, false));
    assert_eq!(differences(&declared, &retyped, &[]).len(), 1);

    let mut new_table = agree.clone();
    new_table.insert("others".into(), BTreeMap::new());
    assert_eq!(differences(&declared, &new_table, &[]).len(), 1);
}

#[derive(diesel::QueryableByName)]
struct GinIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Bool)]
    without_pending_list: bool,
}

/// Every GIN index (the blocking keys, the investigations' victims) writes
/// straight into its tree: a pending list (`fastupdate`, on by default) is
/// read whole by every lookup, and made a duplicate check about 8 ms
/// slower per 3,000 people waiting in it (migration 2026-12-09-100000).
#[tokio::test]
async fn no_gin_index_keeps_a_pending_list() {
    let db = TestDb::new().await;
    let mut conn = db.owner_conn().await;
    let indexes: Vec<GinIndex> = diesel::sql_query(
        "SELECT n.nspname || '.' || c.relname AS name,
                coalesce('fastupdate=off' = ANY (c.reloptions), false) AS without_pending_list
         FROM pg_class c
         JOIN pg_am a ON a.oid = c.relam
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE a.amname = 'gin' AND n.nspname IN ('public', 'projections')
         ORDER BY 1",
    )
    .load(&mut conn)
    .await
    .expect("read the GIN indexes");
    let names: Vec<&str> = indexes.iter().map(|i| i.name.as_str()).collect();
    assert!(
        names.contains(&"public.records_blocking_keys"),
        "the blocking keys' index is among {names:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("projections.investigation")),
        "the investigations' index is among {names:?}"
    );
    let with_list: Vec<&str> = indexes
        .iter()
        .filter(|i| !i.without_pending_list)
        .map(|i| i.name.as_str())
        .collect();
    assert!(
        with_list.is_empty(),
        "GIN indexes with a pending list: {with_list:?}"
    );
}
