//! The vocabulary of figures (DESIGN.md §7): which dashboards exist, how
//! their rows may be grouped, and the typed, serializable answer every
//! dashboard, download and (later) quarterly cut shares. Computing the
//! figures is `sintra_services::figures`; withholding small counts is
//! [`crate::suppression`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::i18n::{Lang, Text};
use crate::suppression::Margins;

/// A dashboard, or one of the fixed breakdowns published elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DashboardKey {
    Victims,
    Judicialization,
    Commissions,
    DataQuality,
    /// SESNSP's victims of trata, fuero común: entity × year × month × sex
    /// × age 0–17 / 18+ / not specified.
    Sesnsp,
    /// UNODC's Global Report on Trafficking in Persons.
    Glotip,
}

/// How the rows of a dashboard's tables are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Month,
    Quarter,
    Year,
    Entity,
    Municipality,
    Institution,
}

/// A filter a dashboard may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKey {
    From,
    To,
    EntityCode,
    MunicipalityCode,
    InstitutionId,
    GroupBy,
}

impl FilterKey {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterKey::From => "from",
            FilterKey::To => "to",
            FilterKey::EntityCode => "entity_code",
            FilterKey::MunicipalityCode => "municipality_code",
            FilterKey::InstitutionId => "institution_id",
            FilterKey::GroupBy => "group_by",
        }
    }
}

use FilterKey as F;
use GroupBy as G;

impl DashboardKey {
    pub const ALL: [DashboardKey; 6] = [
        DashboardKey::Victims,
        DashboardKey::Judicialization,
        DashboardKey::Commissions,
        DashboardKey::DataQuality,
        DashboardKey::Sesnsp,
        DashboardKey::Glotip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DashboardKey::Victims => "victims",
            DashboardKey::Judicialization => "judicialization",
            DashboardKey::Commissions => "commissions",
            DashboardKey::DataQuality => "data_quality",
            DashboardKey::Sesnsp => "sesnsp",
            DashboardKey::Glotip => "glotip",
        }
    }

    pub fn label(self) -> Text {
        match self {
            DashboardKey::Victims => Text::new(
                "Víctimas y posibles víctimas atendidas",
                "Victims and possible victims attended",
            ),
            DashboardKey::Judicialization => Text::new("Judicialización", "Judicialization"),
            DashboardKey::Commissions => Text::new(
                "Comisiones, sesiones y acuerdos",
                "Commissions, sessions and agreements",
            ),
            DashboardKey::DataQuality => Text::new("Calidad de los datos", "Data quality"),
            DashboardKey::Sesnsp => Text::new(
                "Víctimas de trata, fuero común (formato SESNSP)",
                "Victims of trafficking, state jurisdiction (SESNSP layout)",
            ),
            DashboardKey::Glotip => Text::new(
                "Informe Mundial sobre la Trata de Personas (formato UNODC GLOTIP)",
                "Global Report on Trafficking in Persons (UNODC GLOTIP layout)",
            ),
        }
    }

    /// What places a record in a period: the reference date of the
    /// dashboard's main form.
    pub fn reference_date(self) -> Text {
        match self {
            DashboardKey::Victims => Text::new(
                "Fecha de detección de la persona",
                "The person's detection date",
            ),
            DashboardKey::Judicialization | DashboardKey::Sesnsp => Text::new(
                "Fecha de inicio de la investigación",
                "The investigation's opening date",
            ),
            DashboardKey::Commissions => Text::new(
                "Fecha de instalación (comisiones), de la sesión (sesiones y sus acuerdos)",
                "Installation date (commissions), session date (sessions and their agreements)",
            ),
            DashboardKey::DataQuality => Text::new(
                "Fecha de registro en el sistema",
                "Date recorded in the system",
            ),
            DashboardKey::Glotip => Text::new(
                "Fecha de detección (víctimas); de inicio, judicialización o sentencia \
                 (personas investigadas, procesadas, condenadas)",
                "Detection date (victims); opening, judicialization or sentence date (persons \
                 investigated, prosecuted, convicted)",
            ),
        }
    }

    /// The groupings its rows accept; the first is the default. The fixed
    /// breakdowns have exactly one.
    pub fn group_bys(self) -> &'static [GroupBy] {
        match self {
            DashboardKey::Victims => &[
                G::Month,
                G::Quarter,
                G::Year,
                G::Entity,
                G::Municipality,
                G::Institution,
            ],
            DashboardKey::Judicialization | DashboardKey::DataQuality => {
                &[G::Month, G::Quarter, G::Year, G::Entity, G::Institution]
            }
            DashboardKey::Commissions => &[G::Quarter, G::Month, G::Year, G::Entity],
            DashboardKey::Sesnsp => &[G::Month],
            DashboardKey::Glotip => &[G::Year],
        }
    }

    /// The filters it takes.
    pub fn filters(self) -> &'static [FilterKey] {
        match self {
            DashboardKey::Victims => &[
                F::From,
                F::To,
                F::EntityCode,
                F::MunicipalityCode,
                F::InstitutionId,
                F::GroupBy,
            ],
            DashboardKey::Commissions => &[F::From, F::To, F::EntityCode, F::GroupBy],
            DashboardKey::Sesnsp | DashboardKey::Glotip => {
                &[F::From, F::To, F::EntityCode, F::InstitutionId]
            }
            DashboardKey::Judicialization | DashboardKey::DataQuality => {
                &[F::From, F::To, F::EntityCode, F::InstitutionId, F::GroupBy]
            }
        }
    }

    /// Whether its figures count people (victims, defendants) or records
    /// about them, and so are withheld when small for roles without access
    /// to personal data. Commissions are public bodies: nothing to hide.
    pub fn counts_people(self) -> bool {
        self != DashboardKey::Commissions
    }
}

impl fmt::Display for DashboardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DashboardKey {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<DashboardKey, UnknownName> {
        DashboardKey::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or(UnknownName)
    }
}

impl GroupBy {
    pub const ALL: [GroupBy; 6] = [
        G::Month,
        G::Quarter,
        G::Year,
        G::Entity,
        G::Municipality,
        G::Institution,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            G::Month => "month",
            G::Quarter => "quarter",
            G::Year => "year",
            G::Entity => "entity",
            G::Municipality => "municipality",
            G::Institution => "institution",
        }
    }

    pub fn label(self) -> Text {
        match self {
            G::Month => Text::new("Mes", "Month"),
            G::Quarter => Text::new("Trimestre", "Quarter"),
            G::Year => Text::new("Año", "Year"),
            G::Entity => Text::new("Entidad federativa", "Federal entity"),
            G::Municipality => Text::new("Municipio", "Municipality"),
            G::Institution => Text::new("Institución", "Institution"),
        }
    }

    /// Whether rows are periods of time.
    pub fn is_period(self) -> bool {
        matches!(self, G::Month | G::Quarter | G::Year)
    }
}

impl FromStr for GroupBy {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<GroupBy, UnknownName> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or(UnknownName)
    }
}

/// A name that is not a dashboard (404) or grouping (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown name")]
pub struct UnknownName;

/// A label in both languages, owned (catalog labels are data).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub es: String,
    pub en: String,
}

impl Label {
    pub fn new(es: impl Into<String>, en: impl Into<String>) -> Label {
        Label {
            es: es.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Es => &self.es,
            Lang::En => &self.en,
        }
    }
}

impl From<Text> for Label {
    fn from(t: Text) -> Label {
        Label::new(t.es, t.en)
    }
}

/// The filters an answer was computed with, after validation (and, for
/// roles whose figures are suppressed, dates widened to whole months).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFilters {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub entity_code: Option<String>,
    pub municipality_code: Option<String>,
    pub institution_id: Option<Uuid>,
    pub group_by: GroupBy,
}

/// What a figure measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A count of people or records.
    Count,
    /// Per 100,000 inhabitants.
    RatePer100k,
    /// A median number of days.
    MedianDays,
    /// A share, 0 to 100.
    Percent,
}

/// One figure: a count, or a value derived from counts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Figure {
    Count(i64),
    Value(f64),
}

/// A code and its labels: a row or a column of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub code: String,
    pub label: Label,
}

/// One row of a table. A cell is `null` when withheld (see the table's
/// `suppressed`) or not applicable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureRow {
    pub code: String,
    pub label: Label,
    pub cells: Vec<Option<Figure>>,
    /// The row's total (tables whose rows add up only).
    pub total: Option<Figure>,
}

/// A withheld figure, by its row and column codes; `_total` names a
/// total (the row `_total` holds the column totals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressedCell {
    pub row: String,
    pub column: String,
}

/// The code naming totals in [`SuppressedCell`].
pub const TOTAL: &str = "_total";

/// One table of a dashboard: rows by a dimension, columns by another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FigureTable {
    pub key: String,
    pub title: Label,
    pub unit: Unit,
    /// The dimension of the rows (a grouping, or another breakdown).
    pub rows_by: String,
    /// The dimension of the columns (a catalog, or the table's measures).
    pub columns_by: String,
    /// Which totals are published: rows that do not add up (a person with
    /// several forms of exploitation; a funnel) have no row totals.
    pub margins: Margins,
    pub columns: Vec<Category>,
    pub rows: Vec<FigureRow>,
    pub column_totals: Vec<Option<Figure>>,
    pub grand_total: Option<Figure>,
    pub suppressed: Vec<SuppressedCell>,
    /// How the figures are defined.
    pub note: Option<Label>,
}

/// How small counts were treated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionNote {
    pub applied: bool,
    pub threshold: i64,
    pub note: Label,
}

/// A dashboard's answer: the one value the JSON, the workbook, the CSV and
/// a quarterly cut all render or store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub dashboard: DashboardKey,
    pub title: Label,
    pub reference_date: Label,
    pub filters: AppliedFilters,
    pub extracted_at: DateTime<Utc>,
    pub suppression: SuppressionNote,
    pub tables: Vec<FigureTable>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_defaults_come_first() {
        for d in DashboardKey::ALL {
            assert_eq!(d.as_str().parse::<DashboardKey>(), Ok(d));
            assert_eq!(serde_json::to_value(d).unwrap(), d.as_str());
            assert!(!d.group_bys().is_empty());
            assert!(d.filters().contains(&FilterKey::From));
        }
        for g in GroupBy::ALL {
            assert_eq!(g.as_str().parse::<GroupBy>(), Ok(g));
            assert_eq!(serde_json::to_value(g).unwrap(), g.as_str());
        }
        assert_eq!(DashboardKey::Sesnsp.group_bys(), &[GroupBy::Month]);
        assert!("victim".parse::<DashboardKey>().is_err());
    }

    #[test]
    fn figures_serialize_counts_as_integers() {
        assert_eq!(serde_json::to_string(&Figure::Count(12)).unwrap(), "12");
        assert_eq!(serde_json::to_string(&Figure::Value(1.5)).unwrap(), "1.5");
    }
}
