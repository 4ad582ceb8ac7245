//! The tables of each dashboard: which finest counts each one reads, what
//! its rows and columns are, which totals it publishes, and how its
//! figures are withheld.

use std::collections::{BTreeMap, BTreeSet};

use sintra_domain::figures::{
    AppliedFilters, Category, DashboardKey, Figure, FigureRow, FigureTable, Label, SuppressedCell,
    Unit, TOTAL,
};
use sintra_domain::forms::FormKey;
use sintra_domain::i18n::Text;
use sintra_domain::suppression::{self, is_small, Margins, Withheld};
use sintra_persistence::figures::{RawCell, UNSPECIFIED};

use super::{category, Labels};

/// What the columns of a table are.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Columns {
    /// The codes of a catalog that occur, in the catalog's order.
    Catalog(&'static str),
    /// A fixed list, every one shown even when zero.
    Fixed(&'static [(&'static str, Text)]),
    /// Age groups of the `age_group` catalog (`sesnsp`: 0–17 / 18+;
    /// `detail`: the finer groups), from the ages counted.
    Ages(&'static str),
    /// The record forms.
    Forms,
}

impl Columns {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Columns::Catalog(c) => c,
            Columns::Fixed(_) => "measure",
            Columns::Ages(_) => "age_group",
            Columns::Forms => "form",
        }
    }

    pub(crate) fn catalog(&self) -> Option<&'static str> {
        match self {
            Columns::Catalog(c) => Some(c),
            _ => None,
        }
    }
}

/// What a table's figures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Counts (withheld when small).
    Count,
    /// Rates per 100,000 inhabitants of the counts of table `of`.
    Rate { of: &'static str },
    /// Medians carried in `x`, over `n` cases.
    Median,
    /// `n` out of `x`, as a percentage.
    Completeness,
    /// Column `part` over column `whole` of table `of`, as a percentage.
    Share {
        of: &'static str,
        part: &'static str,
        whole: &'static str,
    },
}

/// One table of a dashboard.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableDef {
    pub key: &'static str,
    /// The `tbl` of the finest cells it reads.
    pub source: &'static str,
    pub title: Text,
    pub kind: Kind,
    /// `group` (the grouping asked for), `entity`, `year`, `entity_month`,
    /// `stage_year` or `field`.
    pub rows_by: &'static str,
    pub columns_by: Columns,
    pub margins: Margins,
    /// Tables with the same link publish the same row and grand totals:
    /// what one withholds, all withhold.
    pub link: Option<&'static str>,
    pub note: Option<Text>,
}

const fn t(es: &'static str, en: &'static str) -> Text {
    Text::new(es, en)
}

const fn count(
    key: &'static str,
    title: Text,
    columns_by: Columns,
    margins: Margins,
    link: Option<&'static str>,
) -> TableDef {
    TableDef {
        key,
        source: key,
        title,
        kind: Kind::Count,
        rows_by: "group",
        columns_by,
        margins,
        link,
        note: None,
    }
}

const VICTIMS_TOTAL: &[(&str, Text)] = &[("VICTIMAS", t("Víctimas", "Victims"))];
const MULTIPLE: Text = t(
    "Una persona con varios valores cuenta en cada uno: las filas no suman, y no se publica su \
     total.",
    "A person with several values counts under each: rows do not add up, and no row total is \
     published.",
);

const VICTIMS: &[TableDef] = &[
    count(
        "by_sex",
        t("Personas por sexo", "People by sex"),
        Columns::Catalog("sex"),
        Margins::All,
        Some("victims"),
    ),
    TableDef {
        source: "by_age",
        ..count(
            "by_age_group",
            t(
                "Personas por grupo de edad (0 a 17, 18 y más)",
                "People by age group (0 to 17, 18 and over)",
            ),
            Columns::Ages("sesnsp"),
            Margins::All,
            Some("victims"),
        )
    },
    TableDef {
        source: "by_age",
        ..count(
            "by_age_detail",
            t(
                "Personas por grupo de edad detallado",
                "People by detailed age group",
            ),
            Columns::Ages("detail"),
            Margins::All,
            Some("victims"),
        )
    },
    count(
        "by_nationality",
        t("Personas por nacionalidad", "People by nationality"),
        Columns::Catalog("country"),
        Margins::All,
        Some("victims"),
    ),
    count(
        "by_condition",
        t(
            "Personas por condición (víctima, posible víctima)",
            "People by condition (victim, possible victim)",
        ),
        Columns::Catalog("victim_condition"),
        Margins::All,
        Some("victims"),
    ),
    count(
        "by_detection_source",
        t(
            "Personas por fuente de detección",
            "People by detection source",
        ),
        Columns::Catalog("detection_source"),
        Margins::All,
        Some("victims"),
    ),
    TableDef {
        note: Some(MULTIPLE),
        ..count(
            "by_exploitation_form",
            t(
                "Personas por forma de explotación",
                "People by form of exploitation",
            ),
            Columns::Catalog("exploitation_form"),
            Margins::ColumnsOnly,
            None,
        )
    },
    TableDef {
        note: Some(MULTIPLE),
        ..count(
            "by_service",
            t(
                "Personas por servicio recibido",
                "People by service received",
            ),
            Columns::Catalog("attention_service"),
            Margins::ColumnsOnly,
            None,
        )
    },
    TableDef {
        rows_by: "entity",
        ..count(
            "by_entity",
            t("Personas por entidad", "People by entity"),
            Columns::Fixed(VICTIMS_TOTAL),
            Margins::All,
            None,
        )
    },
    TableDef {
        key: "rate_by_entity",
        source: "by_entity",
        title: t(
            "Personas por cada 100,000 habitantes, por entidad",
            "People per 100,000 inhabitants, by entity",
        ),
        kind: Kind::Rate { of: "by_entity" },
        rows_by: "entity",
        columns_by: Columns::Fixed(&[(
            "TASA_100K",
            t(
                "Tasa por 100,000 habitantes",
                "Rate per 100,000 inhabitants",
            ),
        )]),
        margins: Margins::ColumnsOnly,
        link: None,
        note: Some(t(
            "Población: Censo de Población y Vivienda 2020 (INEGI), catálogo de entidades.",
            "Population: 2020 Population and Housing Census (INEGI), entities catalog.",
        )),
    },
];

const FUNNEL: &[(&str, Text)] = &[
    ("INVESTIGACIONES", t("Investigaciones", "Investigations")),
    ("CAUSAS_PENALES", t("Causas penales", "Criminal cases")),
    ("PERSONAS_IMPUTADAS", t("Personas imputadas", "Defendants")),
    (
        "SENTENCIAS_CONDENATORIA",
        t("Sentencias condenatorias", "Convictions"),
    ),
    (
        "SENTENCIAS_ABSOLUTORIA",
        t("Sentencias absolutorias", "Acquittals"),
    ),
];

const JUDICIALIZATION: &[TableDef] = &[
    TableDef {
        note: Some(t(
            "Por mes de inicio de la investigación: causas, personas imputadas y sentencias \
             derivadas de las investigaciones iniciadas en el periodo.",
            "By month the investigation opened: cases, defendants and sentences stemming from \
             the investigations opened in the period.",
        )),
        ..count(
            "funnel",
            t(
                "Embudo: investigaciones, causas penales, personas imputadas y sentencias",
                "Funnel: investigations, criminal cases, defendants and sentences",
            ),
            Columns::Fixed(FUNNEL),
            Margins::ColumnsOnly,
            None,
        )
    },
    count(
        "by_fuero",
        t(
            "Investigaciones por fuero",
            "Investigations by jurisdiction",
        ),
        Columns::Catalog("fuero"),
        Margins::All,
        None,
    ),
    count(
        "defendants_by_sex",
        t("Personas imputadas por sexo", "Defendants by sex"),
        Columns::Catalog("sex"),
        Margins::All,
        Some("defendants"),
    ),
    count(
        "defendants_by_nationality",
        t(
            "Personas imputadas por nacionalidad",
            "Defendants by nationality",
        ),
        Columns::Catalog("country"),
        Margins::All,
        Some("defendants"),
    ),
    TableDef {
        kind: Kind::Median,
        note: Some(t(
            "Mediana de días desde el inicio de la investigación hasta la judicialización de la \
             causa y hasta la sentencia.",
            "Median days from the investigation's opening to the case's judicialization and to \
             the sentence.",
        )),
        ..count(
            "median_days",
            t("Mediana de días", "Median days"),
            Columns::Fixed(&[
                (
                    "A_JUDICIALIZACION",
                    t("Hasta la judicialización", "To judicialization"),
                ),
                ("A_SENTENCIA", t("Hasta la sentencia", "To sentence")),
            ]),
            Margins::ColumnsOnly,
            None,
        )
    },
];

const AGREEMENTS: &[(&str, Text)] = &[
    ("ADOPTADOS", t("Adoptados", "Adopted")),
    ("CUMPLIDOS", t("Cumplidos", "Fulfilled")),
    ("VENCIDOS", t("Vencidos", "Overdue")),
    ("CON_SEGUIMIENTO", t("Con seguimiento", "With follow-up")),
];

const COMMISSIONS: &[TableDef] = &[
    count(
        "commissions_installed",
        t(
            "Instancias instaladas por tipo",
            "Commissions installed by kind",
        ),
        Columns::Catalog("commission_kind"),
        Margins::All,
        None,
    ),
    count(
        "sessions_held",
        t("Sesiones celebradas por tipo", "Sessions held by type"),
        Columns::Catalog("session_type"),
        Margins::All,
        None,
    ),
    TableDef {
        note: Some(t(
            "Acuerdos por fecha de la sesión que los adoptó; vencidos: fecha compromiso pasada \
             sin cumplirse ni cancelarse.",
            "Agreements by the date of the session that adopted them; overdue: due date past, \
             neither fulfilled nor cancelled.",
        )),
        ..count(
            "agreements",
            t("Acuerdos", "Agreements"),
            Columns::Fixed(AGREEMENTS),
            Margins::ColumnsOnly,
            None,
        )
    },
    TableDef {
        key: "agreements_follow_up_share",
        source: "agreements",
        title: t(
            "Porcentaje de acuerdos con seguimiento",
            "Share of agreements with follow-up",
        ),
        kind: Kind::Share {
            of: "agreements",
            part: "CON_SEGUIMIENTO",
            whole: "ADOPTADOS",
        },
        rows_by: "group",
        columns_by: Columns::Fixed(&[("PORCENTAJE", t("Porcentaje", "Percent"))]),
        margins: Margins::ColumnsOnly,
        link: None,
        note: None,
    },
];

const DATA_QUALITY: &[TableDef] = &[
    count(
        "records_by_form",
        t(
            "Registros por formulario (fecha de registro)",
            "Records by form (date recorded)",
        ),
        Columns::Forms,
        Margins::All,
        None,
    ),
    TableDef {
        key: "completeness",
        source: "completeness",
        title: t(
            "Completitud de los campos no personales de cada formulario",
            "Completeness of each form's non-personal fields",
        ),
        kind: Kind::Completeness,
        rows_by: "field",
        columns_by: Columns::Fixed(&[(
            "CON_DATO",
            t("Registros con dato (%)", "Records with a value (%)"),
        )]),
        margins: Margins::ColumnsOnly,
        link: None,
        note: None,
    },
    TableDef {
        rows_by: "entity",
        ..count(
            "open_duplicates",
            t(
                "Pares de posibles duplicados abiertos, por entidad",
                "Open possible-duplicate pairs, by entity",
            ),
            Columns::Fixed(&[("PARES_ABIERTOS", t("Pares abiertos", "Open pairs"))]),
            Margins::All,
            None,
        )
    },
    count(
        "imports",
        t(
            "Importaciones de Excel confirmadas y filas importadas",
            "Committed Excel imports and rows imported",
        ),
        Columns::Fixed(&[
            ("IMPORTACIONES", t("Importaciones", "Imports")),
            ("FILAS_IMPORTADAS", t("Filas importadas", "Rows imported")),
        ]),
        Margins::ColumnsOnly,
        None,
    ),
];

const SESNSP_COLUMNS: &[(&str, Text)] = &[
    ("MUJER|0_17", t("Mujer, 0 a 17 años", "Female, 0 to 17")),
    (
        "MUJER|18_MAS",
        t("Mujer, 18 años y más", "Female, 18 and over"),
    ),
    (
        "MUJER|NO_ESPECIFICADA",
        t("Mujer, edad no especificada", "Female, age not specified"),
    ),
    ("HOMBRE|0_17", t("Hombre, 0 a 17 años", "Male, 0 to 17")),
    (
        "HOMBRE|18_MAS",
        t("Hombre, 18 años y más", "Male, 18 and over"),
    ),
    (
        "HOMBRE|NO_ESPECIFICADA",
        t("Hombre, edad no especificada", "Male, age not specified"),
    ),
    (
        "INTERSEXUAL|0_17",
        t("Intersexual, 0 a 17 años", "Intersex, 0 to 17"),
    ),
    (
        "INTERSEXUAL|18_MAS",
        t("Intersexual, 18 años y más", "Intersex, 18 and over"),
    ),
    (
        "INTERSEXUAL|NO_ESPECIFICADA",
        t(
            "Intersexual, edad no especificada",
            "Intersex, age not specified",
        ),
    ),
    (
        "NO_IDENTIFICADO|0_17",
        t(
            "Sexo no identificado, 0 a 17 años",
            "Sex not identified, 0 to 17",
        ),
    ),
    (
        "NO_IDENTIFICADO|18_MAS",
        t(
            "Sexo no identificado, 18 años y más",
            "Sex not identified, 18 and over",
        ),
    ),
    (
        "NO_IDENTIFICADO|NO_ESPECIFICADA",
        t(
            "Sexo no identificado, edad no especificada",
            "Sex not identified, age not specified",
        ),
    ),
];

const SESNSP: &[TableDef] = &[TableDef {
    rows_by: "entity_month",
    note: Some(t(
        "Víctimas de trata de personas en investigaciones del fuero común, por entidad de la \
         fiscalía y mes de inicio, como las publica el SESNSP; una por vínculo con la \
         investigación; edad al momento de la detección.",
        "Victims of trafficking in persons in state-jurisdiction investigations, by entity of \
         the prosecutor's office and month opened, as SESNSP publishes them; one per link to \
         the investigation; age at detection.",
    )),
    ..count(
        "sesnsp",
        t(
            "Víctimas de trata de personas (fuero común)",
            "Victims of trafficking in persons (state jurisdiction)",
        ),
        Columns::Fixed(SESNSP_COLUMNS),
        Margins::All,
        None,
    )
}];

const CITIZENSHIP: &[(&str, Text)] = &[
    ("NACIONALES", t("Nacionales", "Nationals")),
    ("EXTRANJERAS", t("Extranjeras", "Foreigners")),
    (UNSPECIFIED, t("No especificada", "Not specified")),
];

const GLOTIP: &[TableDef] = &[
    TableDef {
        rows_by: "year",
        ..count(
            "victims_by_sex_age",
            t(
                "Víctimas detectadas por sexo y edad",
                "Detected victims by sex and age",
            ),
            Columns::Fixed(&[
                ("NINAS", t("Niñas", "Girls")),
                ("NINOS", t("Niños", "Boys")),
                ("MUJERES", t("Mujeres", "Women")),
                ("HOMBRES", t("Hombres", "Men")),
                (
                    "OTRO_O_NO_ESPECIFICADO",
                    t("Otro o no especificado", "Other or not specified"),
                ),
            ]),
            Margins::All,
            Some("glotip_victims"),
        )
    },
    TableDef {
        rows_by: "year",
        note: Some(MULTIPLE),
        ..count(
            "victims_by_exploitation",
            t(
                "Víctimas detectadas por forma de explotación",
                "Detected victims by form of exploitation",
            ),
            Columns::Catalog("exploitation_form"),
            Margins::ColumnsOnly,
            None,
        )
    },
    TableDef {
        rows_by: "year",
        ..count(
            "victims_by_citizenship",
            t(
                "Víctimas detectadas por ciudadanía",
                "Detected victims by citizenship",
            ),
            Columns::Fixed(CITIZENSHIP),
            Margins::All,
            Some("glotip_victims"),
        )
    },
    TableDef {
        rows_by: "stage_year",
        note: Some(t(
            "Investigadas: personas imputadas por año de inicio de la investigación; procesadas: \
             por año de judicialización; condenadas: por año de su primera sentencia \
             condenatoria.",
            "Investigated: defendants by year the investigation opened; prosecuted: by year \
             judicialized; convicted: by year of their first conviction.",
        )),
        ..count(
            "persons_by_sex",
            t(
                "Personas investigadas, procesadas y condenadas por sexo",
                "Persons investigated, prosecuted and convicted by sex",
            ),
            Columns::Catalog("sex"),
            Margins::All,
            Some("glotip_persons"),
        )
    },
    TableDef {
        rows_by: "stage_year",
        ..count(
            "persons_by_citizenship",
            t(
                "Personas investigadas, procesadas y condenadas por ciudadanía",
                "Persons investigated, prosecuted and convicted by citizenship",
            ),
            Columns::Fixed(CITIZENSHIP),
            Margins::All,
            Some("glotip_persons"),
        )
    },
];

/// The tables of a dashboard, in the order shown.
pub(crate) fn defs(dashboard: DashboardKey) -> &'static [TableDef] {
    match dashboard {
        DashboardKey::Victims => VICTIMS,
        DashboardKey::Judicialization => JUDICIALIZATION,
        DashboardKey::Commissions => COMMISSIONS,
        DashboardKey::DataQuality => DATA_QUALITY,
        DashboardKey::Sesnsp => SESNSP,
        DashboardKey::Glotip => GLOTIP,
    }
}

/// A table's figures before they are rendered.
struct Grid {
    def: &'static TableDef,
    rows: Vec<String>,
    columns: Vec<Category>,
    counts: Vec<Vec<i64>>,
    /// `x` per cell (medians, completeness denominators).
    values: Vec<Vec<Option<f64>>>,
    withheld: Withheld,
}

/// The column code of a finest cell in a table (ages map to groups).
fn column_of(def: &TableDef, code: &str, labels: &Labels) -> String {
    match def.columns_by {
        Columns::Ages(scheme) => {
            let age = code.parse::<i64>().ok();
            let Some(age) = age else {
                return "NO_ESPECIFICADA".into();
            };
            labels
                .age_groups
                .iter()
                .find(|g| {
                    g.scheme == scheme
                        && g.min.is_some_and(|m| age >= m)
                        && g.max.is_none_or(|m| age <= m)
                })
                .map(|g| g.code.clone())
                .unwrap_or_else(|| "NO_ESPECIFICADA".into())
        }
        _ => code.to_string(),
    }
}

fn grid(def: &'static TableDef, cells: &[RawCell], labels: &Labels) -> Grid {
    let mut by: BTreeMap<(String, String), (i64, Option<f64>)> = BTreeMap::new();
    let mut rows = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for c in cells.iter().filter(|c| c.tbl == def.source) {
        let row = c.row_key.clone().unwrap_or_else(|| UNSPECIFIED.into());
        let col = column_of(def, c.col_key.as_deref().unwrap_or(UNSPECIFIED), labels);
        rows.insert(row.clone());
        seen.insert(col.clone());
        let e = by.entry((row, col)).or_insert((0, None));
        e.0 += c.n;
        e.1 = c.x;
    }
    let columns: Vec<Category> = match def.columns_by {
        Columns::Fixed(list) => list
            .iter()
            .map(|(code, label)| category(code, (*label).into()))
            .collect(),
        Columns::Ages(scheme) => {
            let mut cols: Vec<Category> = labels
                .age_groups
                .iter()
                .filter(|g| g.scheme == scheme || g.scheme == "both")
                .map(|g| category(&g.code, g.label.clone()))
                .collect();
            cols.retain(|c| c.code != "NO_ESPECIFICADA" || seen.contains(&c.code));
            cols
        }
        Columns::Catalog(catalog) => {
            let mut codes: Vec<&String> = seen.iter().collect();
            codes.sort_by_key(|c| (labels.order(catalog, c), (*c).clone()));
            codes
                .into_iter()
                .map(|c| category(c, labels.item(catalog, c)))
                .collect()
        }
        Columns::Forms => FormKey::ALL
            .into_iter()
            .filter(|f| f.is_record())
            .map(|f| category(f.as_str(), f.spec().label.into()))
            .collect(),
    };
    let rows: Vec<String> = rows.into_iter().collect();
    let counts = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| by.get(&(r.clone(), c.code.clone())).map_or(0, |v| v.0))
                .collect()
        })
        .collect();
    let values = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| by.get(&(r.clone(), c.code.clone())).and_then(|v| v.1))
                .collect()
        })
        .collect();
    Grid {
        def,
        rows,
        columns,
        counts,
        values,
        withheld: Withheld::default(),
    }
}

/// Withholds small counts in every count table, then again with the
/// totals linked tables withheld forced into each other, until no linked
/// table withholds a total the others show.
fn suppress_all(grids: &mut [Grid]) {
    let mut forced: BTreeMap<&'static str, (BTreeSet<String>, bool)> = BTreeMap::new();
    loop {
        for g in grids.iter_mut().filter(|g| g.def.kind == Kind::Count) {
            let mut extra = vec![];
            if let Some((rows, grand)) = g.def.link.and_then(|l| forced.get(l)) {
                let c = g.columns.len();
                for (i, r) in g.rows.iter().enumerate() {
                    if rows.contains(r) {
                        extra.push((i, c));
                    }
                }
                if *grand {
                    extra.push((g.rows.len(), c));
                }
            }
            g.withheld = suppression::suppress(&g.counts, g.columns.len(), g.def.margins, &extra);
        }
        let mut next: BTreeMap<&'static str, (BTreeSet<String>, bool)> = BTreeMap::new();
        for g in grids.iter().filter(|g| g.def.kind == Kind::Count) {
            if let Some(l) = g.def.link {
                let e = next.entry(l).or_default();
                for (i, r) in g.rows.iter().enumerate() {
                    if g.withheld.row_totals[i] {
                        e.0.insert(r.clone());
                    }
                }
                e.1 |= g.withheld.grand_total;
            }
        }
        if next == forced {
            break;
        }
        forced = next;
    }
}

/// Arranges a dashboard's finest cells into its tables.
pub(crate) fn build(
    dashboard: DashboardKey,
    applied: &AppliedFilters,
    cells: &[RawCell],
    labels: &Labels,
    suppress: bool,
) -> Vec<FigureTable> {
    let mut grids: Vec<Grid> = defs(dashboard)
        .iter()
        .map(|d| grid(d, cells, labels))
        .collect();
    if suppress {
        suppress_all(&mut grids);
    } else {
        for g in grids.iter_mut() {
            g.withheld = Withheld {
                cells: g
                    .rows
                    .iter()
                    .map(|_| vec![false; g.columns.len()])
                    .collect(),
                row_totals: vec![false; g.rows.len()],
                column_totals: vec![false; g.columns.len()],
                grand_total: false,
            };
        }
    }
    grids
        .iter()
        .map(|g| render(g, &grids, applied, labels, suppress))
        .collect()
}

fn row_label(rows_by: &str, code: &str, applied: &AppliedFilters, labels: &Labels) -> Label {
    match rows_by {
        "group" => labels.group(applied.group_by, code),
        "entity" => labels.item("entity", code),
        "entity_month" => {
            let (e, m) = code.split_once('|').unwrap_or((code, ""));
            let name = labels.item("entity", e);
            Label::new(format!("{}, {m}", name.es), format!("{}, {m}", name.en))
        }
        "stage_year" => {
            let (s, y) = code.split_once('|').unwrap_or((code, ""));
            let stage = match s {
                "INVESTIGADAS" => Label::new("Investigadas", "Investigated"),
                "PROCESADAS" => Label::new("Procesadas", "Prosecuted"),
                "CONDENADAS" => Label::new("Condenadas", "Convicted"),
                other => Label::new(other, other),
            };
            Label::new(format!("{} {y}", stage.es), format!("{} {y}", stage.en))
        }
        "field" => {
            let (form, field) = code.split_once('.').unwrap_or((code, ""));
            match form.parse::<FormKey>() {
                Ok(f) => {
                    let spec = f.spec();
                    let fl = spec.field(field).map(|x| x.label).unwrap_or(spec.label);
                    Label::new(
                        format!("{}: {}", spec.label.es, fl.es),
                        format!("{}: {}", spec.label.en, fl.en),
                    )
                }
                Err(_) => Label::new(code, code),
            }
        }
        _ => Label::new(code, code),
    }
}

// A rate's or a share's `of` names a table of the same dashboard in the
// constant definitions above, and `render` is given all of its grids (the
// dashboards tests render every dashboard).
#[allow(clippy::expect_used)]
fn render(
    g: &Grid,
    all: &[Grid],
    applied: &AppliedFilters,
    labels: &Labels,
    suppress: bool,
) -> FigureTable {
    let def = g.def;
    let mut suppressed = vec![];
    let mut rows = vec![];
    let ncols = g.columns.len();
    let unit;
    let mut column_totals: Vec<Option<Figure>> = vec![None; ncols];
    let mut grand_total = None;
    match def.kind {
        Kind::Count => {
            unit = Unit::Count;
            let w = &g.withheld;
            for (i, code) in g.rows.iter().enumerate() {
                let cells = (0..ncols)
                    .map(|j| {
                        if w.cells[i][j] {
                            suppressed.push(SuppressedCell {
                                row: code.clone(),
                                column: g.columns[j].code.clone(),
                            });
                            None
                        } else {
                            Some(Figure::Count(g.counts[i][j]))
                        }
                    })
                    .collect();
                let total = match def.margins {
                    Margins::ColumnsOnly => None,
                    Margins::All if w.row_totals[i] => {
                        suppressed.push(SuppressedCell {
                            row: code.clone(),
                            column: TOTAL.into(),
                        });
                        None
                    }
                    Margins::All => Some(Figure::Count(g.counts[i].iter().sum())),
                };
                rows.push(FigureRow {
                    code: code.clone(),
                    label: row_label(def.rows_by, code, applied, labels),
                    cells,
                    total,
                });
            }
            for (j, total) in column_totals.iter_mut().enumerate() {
                if w.column_totals[j] {
                    suppressed.push(SuppressedCell {
                        row: TOTAL.into(),
                        column: g.columns[j].code.clone(),
                    });
                } else {
                    *total = Some(Figure::Count(g.counts.iter().map(|r| r[j]).sum()));
                }
            }
            if def.margins == Margins::All {
                if w.grand_total {
                    suppressed.push(SuppressedCell {
                        row: TOTAL.into(),
                        column: TOTAL.into(),
                    });
                } else {
                    grand_total = Some(Figure::Count(g.counts.iter().flatten().sum()));
                }
            }
        }
        Kind::Rate { of } => {
            unit = Unit::RatePer100k;
            let base = all.iter().find(|x| x.def.key == of).expect("rate base");
            for (i, code) in base.rows.iter().enumerate() {
                let n = base.counts[i].iter().sum::<i64>();
                let hidden = base.withheld.row_totals.get(i).copied().unwrap_or(false)
                    || base.withheld.cells[i].iter().any(|b| *b);
                let value = match (hidden, labels.population(code)) {
                    (false, Some(p)) if p > 0 => {
                        Some(Figure::Value(round2(n as f64 * 100_000.0 / p as f64)))
                    }
                    _ => None,
                };
                if hidden {
                    suppressed.push(SuppressedCell {
                        row: code.clone(),
                        column: g.columns[0].code.clone(),
                    });
                }
                rows.push(FigureRow {
                    code: code.clone(),
                    label: row_label(def.rows_by, code, applied, labels),
                    cells: vec![value],
                    total: None,
                });
            }
        }
        Kind::Median => {
            unit = Unit::MedianDays;
            for (i, code) in g.rows.iter().enumerate() {
                let cells = (0..ncols)
                    .map(|j| {
                        let n = g.counts[i][j];
                        if suppress && is_small(n) {
                            suppressed.push(SuppressedCell {
                                row: code.clone(),
                                column: g.columns[j].code.clone(),
                            });
                            None
                        } else {
                            g.values[i][j].map(|x| Figure::Value(round2(x)))
                        }
                    })
                    .collect();
                rows.push(FigureRow {
                    code: code.clone(),
                    label: row_label(def.rows_by, code, applied, labels),
                    cells,
                    total: None,
                });
            }
        }
        Kind::Completeness => {
            unit = Unit::Percent;
            for (i, code) in g.rows.iter().enumerate() {
                let cells = (0..ncols)
                    .map(|j| match g.values[i][j] {
                        Some(total) if suppress && is_small(total as i64) => {
                            suppressed.push(SuppressedCell {
                                row: code.clone(),
                                column: g.columns[j].code.clone(),
                            });
                            None
                        }
                        Some(total) if total > 0.0 => {
                            Some(Figure::Value(round2(g.counts[i][j] as f64 * 100.0 / total)))
                        }
                        _ => None,
                    })
                    .collect();
                rows.push(FigureRow {
                    code: code.clone(),
                    label: row_label(def.rows_by, code, applied, labels),
                    cells,
                    total: None,
                });
            }
        }
        Kind::Share { of, part, whole } => {
            unit = Unit::Percent;
            let base = all.iter().find(|x| x.def.key == of).expect("share base");
            let pi = base.columns.iter().position(|c| c.code == part);
            let wi = base.columns.iter().position(|c| c.code == whole);
            for (i, code) in base.rows.iter().enumerate() {
                let (Some(pi), Some(wi)) = (pi, wi) else {
                    continue;
                };
                let hidden = base.withheld.cells[i][pi] || base.withheld.cells[i][wi];
                let w = base.counts[i][wi];
                let value = (!hidden && w > 0)
                    .then(|| Figure::Value(round2(base.counts[i][pi] as f64 * 100.0 / w as f64)));
                if hidden {
                    suppressed.push(SuppressedCell {
                        row: code.clone(),
                        column: g.columns[0].code.clone(),
                    });
                }
                rows.push(FigureRow {
                    code: code.clone(),
                    label: row_label(def.rows_by, code, applied, labels),
                    cells: vec![value],
                    total: None,
                });
            }
        }
    }
    if unit != Unit::Count {
        column_totals = vec![None; ncols];
    }
    FigureTable {
        key: def.key.to_string(),
        title: def.title.into(),
        unit,
        rows_by: if def.rows_by == "group" {
            applied.group_by.as_str().to_string()
        } else {
            def.rows_by.to_string()
        },
        columns_by: def.columns_by.name().to_string(),
        margins: def.margins,
        columns: g.columns.clone(),
        rows,
        column_totals,
        grand_total,
        suppressed,
        note: def.note.map(Label::from),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
