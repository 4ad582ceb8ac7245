//! The filters of a dashboard: every value checked before any figure is
//! read. Control characters (NUL included) are refused first, then
//! filters the dashboard does not take, then each value: dates, codes that
//! must exist in the catalogs, an institution that must lie in the scope.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use diesel_async::AsyncPgConnection;
use sintra_domain::access::Scope;
use sintra_domain::figures::{AppliedFilters, DashboardKey, FilterKey, GroupBy};
use sintra_domain::i18n::Message;
use sintra_domain::validation::{CatalogLookup, FieldError};
use sintra_persistence::{catalogs, org, StoreError};
use uuid::Uuid;

use super::{takes, FiguresError};
use sintra_domain::validation::FieldCode;

/// The longest filter value read (a UUID is 36 characters).
const MAX_VALUE: usize = 64;

/// The filters as the request gave them, by name.
#[derive(Debug, Clone, Default)]
pub struct RawFilters {
    pub values: BTreeMap<String, String>,
}

impl RawFilters {
    pub fn new(values: impl IntoIterator<Item = (String, String)>) -> RawFilters {
        RawFilters {
            values: values.into_iter().collect(),
        }
    }
}

fn invalid(key: &str) -> FieldError {
    FieldError::new(
        key,
        FieldCode::InvalidFilter,
        Message::new(
            format!("El filtro «{key}» no tiene un valor válido."),
            format!("The filter \"{key}\" has an invalid value."),
        ),
    )
}

const KEYS: [FilterKey; 6] = [
    FilterKey::From,
    FilterKey::To,
    FilterKey::EntityCode,
    FilterKey::MunicipalityCode,
    FilterKey::InstitutionId,
    FilterKey::GroupBy,
];

/// Checks every filter and answers them typed; with `whole_months`, the
/// dates widen to the months they fall in (so two answers never differ by
/// a few days of a withheld count).
pub(super) async fn validate(
    conn: &mut AsyncPgConnection,
    scope: &Scope,
    dashboard: DashboardKey,
    raw: &RawFilters,
    whole_months: bool,
) -> Result<AppliedFilters, FiguresError> {
    let mut errors = vec![];
    // Nothing with a control character goes further, not even its name.
    for (k, v) in &raw.values {
        if k.chars().any(char::is_control) || v.chars().any(char::is_control) {
            let key = if k.chars().any(char::is_control) {
                "?"
            } else {
                k.as_str()
            };
            errors.push(FieldError::new(
                key,
                FieldCode::ControlCharacters,
                Message::new(
                    "El filtro contiene caracteres de control.",
                    "The filter contains control characters.",
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(FiguresError::Invalid(errors));
    }
    let mut get = BTreeMap::new();
    for (k, v) in &raw.values {
        match KEYS.iter().find(|f| f.as_str() == k) {
            Some(f) if takes(dashboard, *f) => {
                if v.chars().count() > MAX_VALUE {
                    errors.push(invalid(k));
                } else {
                    get.insert(*f, v.trim().to_string());
                }
            }
            _ => errors.push(FieldError::new(
                k.chars().take(MAX_VALUE).collect::<String>(),
                FieldCode::UnknownFilter,
                Message::new(
                    format!(
                        "El tablero {} no admite ese filtro; admite: {}.",
                        dashboard.as_str(),
                        names(dashboard)
                    ),
                    format!(
                        "The dashboard {} takes no such filter; it takes: {}.",
                        dashboard.as_str(),
                        names(dashboard)
                    ),
                ),
            )),
        }
    }
    let date = |key: FilterKey, errors: &mut Vec<FieldError>| -> Option<NaiveDate> {
        let v = get.get(&key)?;
        match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
            Ok(d) if (1900..=2200).contains(&d.year()) => Some(d),
            _ => {
                errors.push(invalid(key.as_str()));
                None
            }
        }
    };
    let mut from = date(FilterKey::From, &mut errors);
    let mut to = date(FilterKey::To, &mut errors);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            errors.push(FieldError::new(
                "to",
                FieldCode::InvalidFilter,
                Message::new(
                    "La fecha final no puede ser anterior a la inicial.",
                    "The end date cannot precede the start date.",
                ),
            ));
        }
    }
    let group_by = match get.get(&FilterKey::GroupBy) {
        None => dashboard.group_bys()[0],
        Some(g) => match g.parse::<GroupBy>() {
            Ok(g) if dashboard.group_bys().contains(&g) => g,
            _ => {
                errors.push(FieldError::new(
                    "group_by",
                    FieldCode::InvalidFilter,
                    Message::new(
                        format!(
                            "El tablero {} se agrupa por: {}.",
                            dashboard.as_str(),
                            group_names(dashboard)
                        ),
                        format!(
                            "The dashboard {} groups by: {}.",
                            dashboard.as_str(),
                            group_names(dashboard)
                        ),
                    ),
                ));
                dashboard.group_bys()[0]
            }
        },
    };
    let entity_code = get.get(&FilterKey::EntityCode).cloned();
    let municipality_code = get.get(&FilterKey::MunicipalityCode).cloned();
    // Entities (the federal level '00' included) are the organization's table.
    if let Some(e) = &entity_code {
        let well_formed = e.len() == 2 && e.chars().all(|c| c.is_ascii_digit());
        if !well_formed || !org::entity_exists(conn, e).await? {
            errors.push(invalid("entity_code"));
        }
    }
    if let Some(m) = &municipality_code {
        let known = catalogs::snapshot(conn, &[("municipality".to_string(), m.clone())]).await?;
        {
            match known.lookup("municipality", m) {
                None => errors.push(invalid("municipality_code")),
                Some(item) => {
                    if let Some(e) = &entity_code {
                        if item.parent_code.as_deref() != Some(e.as_str()) {
                            errors.push(FieldError::new(
                                "municipality_code",
                                FieldCode::MunicipalityNotInEntity,
                                Message::new(
                                    format!("El municipio {m} no pertenece a la entidad {e}."),
                                    format!("The municipality {m} is not in the entity {e}."),
                                ),
                            ));
                        }
                    }
                }
            }
        }
    }
    let institution_id = match get.get(&FilterKey::InstitutionId) {
        None => None,
        Some(v) => match v.parse::<Uuid>() {
            // An institution outside the scope reads as one that does not exist.
            Ok(id) => match org::get_institution(conn, scope, id).await {
                Ok(_) => Some(id),
                Err(StoreError::NotFound) => {
                    errors.push(invalid("institution_id"));
                    None
                }
                Err(e) => return Err(e.into()),
            },
            Err(_) => {
                errors.push(invalid("institution_id"));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(FiguresError::Invalid(errors));
    }
    if whole_months {
        from = from.map(|d| d.with_day(1).unwrap_or(d));
        to = to.map(month_end);
    }
    Ok(AppliedFilters {
        from,
        to,
        entity_code,
        municipality_code,
        institution_id,
        group_by,
    })
}

fn names(dashboard: DashboardKey) -> String {
    dashboard
        .filters()
        .iter()
        .map(|f| f.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn group_names(dashboard: DashboardKey) -> String {
    dashboard
        .group_bys()
        .iter()
        .map(|g| g.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The last day of a date's month.
pub(crate) fn month_end(d: NaiveDate) -> NaiveDate {
    let (y, m) = if d.month() == 12 {
        (d.year() + 1, 1)
    } else {
        (d.year(), d.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|n| n.pred_opt())
        .unwrap_or(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_on_their_last_day() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(month_end(d(2024, 2, 10)), d(2024, 2, 29));
        assert_eq!(month_end(d(2023, 12, 5)), d(2023, 12, 31));
    }
}
