//! Figures: the one aggregation layer behind every dashboard, its
//! downloads and (issue 15) the quarterly cuts, which call [`compute`] and
//! store the [`Figures`] it returns.
//!
//! [`compute`] validates the filters, reads the dashboard's finest counts
//! in the caller's scope (`sintra_persistence::figures`, over the typed
//! projections generated from the form specs), arranges them into tables
//! ([`tables`]), labels rows and columns from the catalogs, and, for roles
//! without access to personal data, withholds small counts with
//! [`sintra_domain::suppression`].

mod filters;
mod tables;

use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use serde::Serialize;
use sintra_domain::access::{Actor, Permission};
use sintra_domain::figures::{
    AppliedFilters, Category, DashboardKey, Figures, FilterKey, GroupBy, Label, SuppressionNote,
};
use sintra_domain::i18n::Text;
use sintra_domain::suppression::THRESHOLD;
use sintra_domain::validation::FieldError;
use sintra_persistence::figures as store;
use sintra_persistence::StoreError;

pub use filters::RawFilters;

/// Why figures could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    /// The caller's role reads no aggregates.
    #[error("forbidden")]
    Forbidden,
    /// A filter is unknown to the dashboard or has a bad value.
    #[error("invalid filters")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A dashboard as `GET /dashboards` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct DashboardInfo {
    pub name: DashboardKey,
    pub label: Text,
    pub reference_date: Text,
    /// The groupings its rows accept, the default first.
    pub group_by: Vec<GroupBy>,
    pub filters: Vec<&'static str>,
    /// Its tables: key, title, what rows and columns are.
    pub tables: Vec<TableInfo>,
    /// Whether small counts are withheld from roles without personal data.
    pub suppressible: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableInfo {
    pub key: &'static str,
    pub title: Text,
    pub rows_by: &'static str,
    pub columns_by: &'static str,
}

/// Every dashboard with its dimensions.
pub fn dashboards() -> Vec<DashboardInfo> {
    DashboardKey::ALL
        .into_iter()
        .map(|d| DashboardInfo {
            name: d,
            label: d.label(),
            reference_date: d.reference_date(),
            group_by: d.group_bys().to_vec(),
            filters: d.filters().iter().map(|f| f.as_str()).collect(),
            tables: tables::defs(d)
                .iter()
                .map(|t| TableInfo {
                    key: t.key,
                    title: t.title,
                    rows_by: t.rows_by,
                    columns_by: t.columns_by.name(),
                })
                .collect(),
            suppressible: d.counts_people(),
        })
        .collect()
}

/// The figures of one dashboard for this caller: every count in the
/// caller's scope, filtered, small counts withheld for roles without
/// access to personal data.
pub async fn compute(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    dashboard: DashboardKey,
    raw: &RawFilters,
) -> Result<Figures, FiguresError> {
    if !actor.can(Permission::ReadAggregates) {
        return Err(FiguresError::Forbidden);
    }
    let suppress = dashboard.counts_people() && !actor.can(Permission::ReadPersonalData);
    let scope = actor.scope();
    let applied = filters::validate(conn, &scope, dashboard, raw, suppress).await?;
    let filter = store::FigureFilter {
        from: applied.from,
        to: applied.to,
        entity_code: applied.entity_code.clone(),
        municipality_code: applied.municipality_code.clone(),
        institution_id: applied.institution_id,
        group_by: applied.group_by,
    };
    let cells = store::cells(conn, &scope, dashboard, &filter).await?;
    let labels = Labels::load(conn, dashboard, &applied, &cells).await?;
    let tables = tables::build(dashboard, &applied, &cells, &labels, suppress);
    Ok(Figures {
        dashboard,
        title: dashboard.label().into(),
        reference_date: dashboard.reference_date().into(),
        filters: applied,
        extracted_at: Utc::now(),
        suppression: SuppressionNote {
            applied: suppress,
            threshold: THRESHOLD,
            note: if suppress {
                Label::new(
                    "Las cifras de 1 a 4 se omiten, y con ellas otras cifras (omisión \
                     complementaria) para que ninguna omitida pueda deducirse restando de los \
                     totales; cada tabla lista las celdas omitidas. Las fechas se amplían a meses \
                     completos.",
                    "Counts of 1 to 4 are withheld, and other figures with them (complementary \
                     suppression) so that none can be recovered by subtracting from the totals; \
                     each table lists the withheld cells. Dates are widened to whole months.",
                )
            } else {
                Label::new(
                    "Cifras exactas: su rol tiene acceso a datos personales.",
                    "Exact figures: your role has access to personal data.",
                )
            },
        },
        tables,
    })
}

/// Folds the rollups' pending deltas into their totals every `interval`,
/// for as long as the process runs (every server runs one; an advisory
/// lock lets one fold at a time). Figures never wait for it: they read
/// totals and pending deltas together; folding keeps the pending part
/// small.
pub async fn run_compactor(pool: sintra_persistence::Pool, interval: std::time::Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let folded = async {
            let mut conn = sintra_persistence::db::conn(&pool).await?;
            sintra_persistence::rollup::compact(&mut conn, false).await
        }
        .await;
        match folded {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deltas = n, "figure deltas folded"),
            Err(e) => tracing::warn!(error = %e, "the figures' compactor could not run"),
        }
    }
}

/// An item of the `age_group` catalog: its range of years and scheme
/// (`sesnsp` 0–17 / 18+, `detail` the finer groups, `both`).
pub(crate) struct AgeGroup {
    pub code: String,
    pub label: Label,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub scheme: String,
}

/// Labels of the codes an answer shows: catalog items, entities,
/// institutions.
pub(crate) struct Labels {
    items: HashMap<(String, String), (Label, usize)>,
    /// The age groups with their ranges, in catalog order.
    pub(crate) age_groups: Vec<AgeGroup>,
    populations: BTreeMap<String, i64>,
    institutions: HashMap<String, String>,
}

impl Labels {
    async fn load(
        conn: &mut AsyncPgConnection,
        dashboard: DashboardKey,
        applied: &AppliedFilters,
        cells: &[store::RawCell],
    ) -> Result<Labels, StoreError> {
        let mut catalogs: Vec<&str> = tables::defs(dashboard)
            .iter()
            .filter_map(|t| t.columns_by.catalog())
            .collect();
        catalogs.extend(["entity", "age_group"]);
        if applied.group_by == GroupBy::Municipality {
            catalogs.push("municipality");
        }
        catalogs.sort_unstable();
        catalogs.dedup();
        let items = store::catalog_items(conn, &catalogs).await?;
        let mut age_groups = vec![];
        let mut map = HashMap::new();
        for (order, i) in items.into_iter().enumerate() {
            if i.catalog == "age_group" {
                let bound = |k: &str| i.extra.get(k).and_then(|v| v.as_i64());
                let scheme = i
                    .extra
                    .get("scheme")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string();
                age_groups.push(AgeGroup {
                    code: i.code.clone(),
                    label: Label::new(&i.label_es, &i.label_en),
                    min: bound("min"),
                    max: bound("max"),
                    scheme,
                });
            }
            map.insert(
                (i.catalog, i.code),
                (Label::new(i.label_es, i.label_en), order),
            );
        }
        let populations = sintra_persistence::org::list_entities(conn)
            .await?
            .into_iter()
            .map(|e| (e.code, e.population))
            .collect();
        let mut institutions = HashMap::new();
        if applied.group_by == GroupBy::Institution {
            let ids: Vec<uuid::Uuid> = cells
                .iter()
                .filter_map(|c| c.row_key.as_deref()?.parse().ok())
                .collect();
            for (id, name) in sintra_persistence::org::institution_names(conn, &ids).await? {
                institutions.insert(id.to_string(), name);
            }
        }
        Ok(Labels {
            items: map,
            age_groups,
            populations,
            institutions,
        })
    }

    pub(crate) fn item(&self, catalog: &str, code: &str) -> Label {
        if code == store::UNSPECIFIED {
            return Label::new("No especificado", "Not specified");
        }
        self.items
            .get(&(catalog.to_string(), code.to_string()))
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| Label::new(code, code))
    }

    /// A code's place in its catalog (unknown codes last).
    pub(crate) fn order(&self, catalog: &str, code: &str) -> usize {
        self.items
            .get(&(catalog.to_string(), code.to_string()))
            .map_or(usize::MAX, |(_, o)| *o)
    }

    pub(crate) fn population(&self, entity: &str) -> Option<i64> {
        self.populations.get(entity).copied()
    }

    /// The label of a row key under a grouping.
    pub(crate) fn group(&self, group_by: GroupBy, code: &str) -> Label {
        match group_by {
            GroupBy::Month | GroupBy::Year => Label::new(code, code),
            GroupBy::Quarter => Label::new(code.replace("-Q", " T"), code.replace("-Q", " Q")),
            GroupBy::Entity => self.item("entity", code),
            GroupBy::Municipality => self.item("municipality", code),
            GroupBy::Institution => {
                let name = self
                    .institutions
                    .get(code)
                    .cloned()
                    .unwrap_or_else(|| code.to_string());
                Label::new(name.clone(), name)
            }
        }
    }
}

/// A category with its label.
pub(crate) fn category(code: &str, label: Label) -> Category {
    Category {
        code: code.to_string(),
        label,
    }
}

/// Whether a dashboard takes a filter.
pub(crate) fn takes(dashboard: DashboardKey, key: FilterKey) -> bool {
    dashboard.filters().contains(&key)
}
