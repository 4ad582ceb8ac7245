//! Quarterly periods (DESIGN.md §7): which quarter a record belongs to,
//! and the life of an entity's quarter, `open` → `submitted` → `closed` →
//! `reopened` → `closed` again. A record whose period date falls in a
//! closed quarter of its entity is neither created nor changed (409
//! `period_closed`) until the national administration reopens it.
//!
//! No I/O: the services layer reads and locks the `periods` rows and asks
//! these functions what a transition leads to.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::access::{Actor, Role, Scope};
use crate::entity::EntityCode;
use crate::i18n::Message;

/// The years a period may name: every date a form accepts lies in them.
pub const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// The longest reason a reopening may give, in characters.
pub const MAX_REASON_CHARS: usize = 1_000;

/// A calendar quarter: January–March is 1, October–December is 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Quarter {
    pub year: i32,
    pub quarter: u8,
}

impl Quarter {
    /// The quarter a date falls in.
    pub fn of(date: NaiveDate) -> Quarter {
        Quarter {
            year: date.year(),
            quarter: (date.month0() / 3 + 1) as u8,
        }
    }

    /// A quarter named by a caller: a year of [`YEARS`] and a quarter 1–4.
    pub fn new(year: i32, quarter: i64) -> Option<Quarter> {
        (YEARS.contains(&year) && (1..=4).contains(&quarter)).then_some(Quarter {
            year,
            quarter: quarter as u8,
        })
    }

    /// Spanish label, `2024-T1` (trimestre).
    pub fn label_es(self) -> String {
        format!("{}-T{}", self.year, self.quarter)
    }

    /// English label, `2024-Q1`.
    pub fn label_en(self) -> String {
        format!("{}-Q{}", self.year, self.quarter)
    }
}

/// Where an entity's quarter stands. A quarter nobody touched is `Open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum PeriodStatus {
    Open,
    /// The entity's administration validated its quarter; still writable.
    Submitted,
    /// Closed by the national administration: its records are frozen.
    Closed,
    /// Reopened by the national administration, with a reason; writable
    /// until closed again.
    Reopened,
}

impl PeriodStatus {
    pub const ALL: [PeriodStatus; 4] = [
        PeriodStatus::Open,
        PeriodStatus::Submitted,
        PeriodStatus::Closed,
        PeriodStatus::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PeriodStatus::Open => "open",
            PeriodStatus::Submitted => "submitted",
            PeriodStatus::Closed => "closed",
            PeriodStatus::Reopened => "reopened",
        }
    }

    /// Whether records dated in the quarter are frozen.
    pub fn is_locked(self) -> bool {
        self == PeriodStatus::Closed
    }

    fn label_es(self) -> &'static str {
        match self {
            PeriodStatus::Open => "abierto",
            PeriodStatus::Submitted => "validado por la entidad",
            PeriodStatus::Closed => "cerrado",
            PeriodStatus::Reopened => "reabierto",
        }
    }
}

impl fmt::Display for PeriodStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PeriodStatus {
    type Err = ();

    fn from_str(s: &str) -> Result<PeriodStatus, ()> {
        PeriodStatus::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(())
    }
}

/// What someone does to an entity's quarter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)
)]
#[cfg_attr(feature = "diesel", diesel(sql_type = diesel::sql_types::Text))]
#[serde(rename_all = "snake_case")]
pub enum PeriodAction {
    /// The entity admin validates its entity's quarter.
    Submit,
    /// The national admin closes it (one entity, or all at once).
    Close,
    /// The national admin reopens a closed quarter, with a reason.
    Reopen,
}

impl FromStr for PeriodAction {
    type Err = ();

    fn from_str(s: &str) -> Result<PeriodAction, ()> {
        [
            PeriodAction::Submit,
            PeriodAction::Close,
            PeriodAction::Reopen,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
        .ok_or(())
    }
}

impl PeriodAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PeriodAction::Submit => "submit",
            PeriodAction::Close => "close",
            PeriodAction::Reopen => "reopen",
        }
    }

    /// Who may take this action on a quarter of `entity_code`: submitting
    /// belongs to the entity admin of that entity (the state's validation;
    /// the national level closes instead), closing and reopening to the
    /// national admin alone.
    pub fn allowed(self, actor: &Actor, entity_code: EntityCode) -> bool {
        match self {
            PeriodAction::Submit => {
                actor.role == Role::EntityAdmin && actor.entity_code == entity_code
            }
            PeriodAction::Close | PeriodAction::Reopen => actor.role == Role::NationalAdmin,
        }
    }

    /// The status the action leads to from `from`, or why it cannot:
    ///
    /// | from \ action | submit | close | reopen |
    /// |---|---|---|---|
    /// | open | submitted | closed | — |
    /// | submitted | — | closed | — |
    /// | closed | — | — | reopened |
    /// | reopened | submitted | closed | — |
    ///
    /// The national admin may close a quarter the entity has not
    /// submitted (a national close does not wait for late states).
    pub fn apply(self, from: PeriodStatus) -> Result<PeriodStatus, Message> {
        use PeriodAction::*;
        use PeriodStatus::*;
        match (self, from) {
            (Submit, Open | Reopened) => Ok(Submitted),
            (Close, Open | Submitted | Reopened) => Ok(Closed),
            (Reopen, Closed) => Ok(Reopened),
            (action, from) => Err(Message::new(
                format!(
                    "El trimestre está {}: no admite la acción «{}».",
                    from.label_es(),
                    action.label_es()
                ),
                format!(
                    "The quarter is {}: it does not admit the action \"{}\".",
                    from.as_str(),
                    action.as_str()
                ),
            )),
        }
    }

    fn label_es(self) -> &'static str {
        match self {
            PeriodAction::Submit => "validar",
            PeriodAction::Close => "cerrar",
            PeriodAction::Reopen => "reabrir",
        }
    }
}

/// A reopening's reason, checked: required (not blank) and at most
/// [`MAX_REASON_CHARS`] characters; trimmed.
pub fn reopen_reason(reason: Option<&str>) -> Result<String, Message> {
    let reason = reason.map(str::trim).unwrap_or_default();
    if reason.is_empty() {
        return Err(Message::new(
            "Reabrir un trimestre exige escribir el motivo (campo reason).",
            "Reopening a quarter requires a written reason (field reason).",
        ));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(Message::new(
            format!("El motivo admite a lo más {MAX_REASON_CHARS} caracteres."),
            format!("The reason may have at most {MAX_REASON_CHARS} characters."),
        ));
    }
    Ok(reason.to_string())
}

/// The entities whose periods an actor may read: the national level (and a
/// federal auditor) all of them, everyone else its own entity, including
/// operators, analysts and state systems, which need to know whether their
/// quarter is still open before they send data.
pub fn readable_entity(actor: &Actor) -> Option<EntityCode> {
    match actor.scope() {
        Scope::National => None,
        _ => Some(actor.entity_code),
    }
}

/// The refusal of a write into a closed quarter: names the quarter, the
/// entity, and who can reopen it.
pub fn closed_message(entity_code: &str, quarter: Quarter) -> Message {
    Message::new(
        format!(
            "El trimestre {} de la entidad {entity_code} está cerrado: no se pueden registrar ni \
             cambiar registros con fecha en él. Solo la administración nacional (Secretaría \
             Técnica) puede reabrirlo.",
            quarter.label_es()
        ),
        format!(
            "Quarter {} of entity {entity_code} is closed: records dated in it cannot be \
             registered or changed. Only the national administration (Secretaría Técnica) can \
             reopen it.",
            quarter.label_en()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn code(text: &str) -> EntityCode {
        EntityCode::parse(text).unwrap()
    }

    fn actor(role: Role, entity: &str) -> Actor {
        Actor {
            user_id: Uuid::nil(),
            username: "x".into(),
            role,
            institution_id: Uuid::nil(),
            entity_code: code(entity),
            token_id: Uuid::nil(),
        }
    }

    #[test]
    fn dates_fall_in_their_quarter() {
        let q = |s| Quarter::of(d(s));
        assert_eq!(
            q("2024-01-01"),
            Quarter {
                year: 2024,
                quarter: 1
            }
        );
        assert_eq!(
            q("2024-03-31"),
            Quarter {
                year: 2024,
                quarter: 1
            }
        );
        assert_eq!(
            q("2024-04-01"),
            Quarter {
                year: 2024,
                quarter: 2
            }
        );
        assert_eq!(
            q("2024-06-30"),
            Quarter {
                year: 2024,
                quarter: 2
            }
        );
        assert_eq!(
            q("2024-07-01"),
            Quarter {
                year: 2024,
                quarter: 3
            }
        );
        assert_eq!(
            q("2024-09-30"),
            Quarter {
                year: 2024,
                quarter: 3
            }
        );
        assert_eq!(
            q("2024-10-01"),
            Quarter {
                year: 2024,
                quarter: 4
            }
        );
        assert_eq!(
            q("2024-12-31"),
            Quarter {
                year: 2024,
                quarter: 4
            }
        );
        assert_eq!(q("2024-02-29").label_es(), "2024-T1");
        assert_eq!(q("2024-11-02").label_en(), "2024-Q4");
    }

    #[test]
    fn named_quarters_are_checked() {
        assert_eq!(
            Quarter::new(2024, 2),
            Some(Quarter {
                year: 2024,
                quarter: 2
            })
        );
        assert_eq!(Quarter::new(2024, 0), None);
        assert_eq!(Quarter::new(2024, 5), None);
        assert_eq!(Quarter::new(1899, 1), None);
        assert_eq!(Quarter::new(2201, 1), None);
    }

    #[test]
    fn the_life_of_a_quarter() {
        use PeriodAction::*;
        use PeriodStatus::*;
        assert_eq!(Submit.apply(Open), Ok(Submitted));
        assert_eq!(Close.apply(Submitted), Ok(Closed));
        assert_eq!(Close.apply(Open), Ok(Closed));
        assert_eq!(Reopen.apply(Closed), Ok(Reopened));
        assert_eq!(Submit.apply(Reopened), Ok(Submitted));
        assert_eq!(Close.apply(Reopened), Ok(Closed));
        for (action, from) in [
            (Submit, Submitted),
            (Submit, Closed),
            (Close, Closed),
            (Reopen, Open),
            (Reopen, Submitted),
            (Reopen, Reopened),
        ] {
            let err = action.apply(from).unwrap_err();
            assert!(err.es.contains("El trimestre está"), "{action:?} {from:?}");
        }
        assert!(Closed.is_locked());
        assert!(PeriodStatus::ALL
            .iter()
            .filter(|s| **s != Closed)
            .all(|s| !s.is_locked()));
        for s in PeriodStatus::ALL {
            assert_eq!(s.as_str().parse(), Ok(s));
        }
    }

    #[test]
    fn who_takes_each_step() {
        let national = actor(Role::NationalAdmin, "00");
        let state = actor(Role::EntityAdmin, "19");
        for role in [Role::Operator, Role::Analyst, Role::Auditor, Role::System] {
            for a in [
                PeriodAction::Submit,
                PeriodAction::Close,
                PeriodAction::Reopen,
            ] {
                assert!(!a.allowed(&actor(role, "19"), code("19")), "{role} {a:?}");
            }
        }
        assert!(PeriodAction::Submit.allowed(&state, code("19")));
        assert!(!PeriodAction::Submit.allowed(&state, code("20")));
        assert!(!PeriodAction::Close.allowed(&state, code("19")));
        assert!(!PeriodAction::Reopen.allowed(&state, code("19")));
        assert!(PeriodAction::Close.allowed(&national, code("19")));
        assert!(PeriodAction::Reopen.allowed(&national, code("19")));
        assert!(!PeriodAction::Submit.allowed(&national, code("19")));
        assert_eq!(readable_entity(&national), None);
        assert_eq!(readable_entity(&state), Some(code("19")));
        assert_eq!(
            readable_entity(&actor(Role::Operator, "19")),
            Some(code("19"))
        );
    }

    #[test]
    fn a_reopening_needs_a_bounded_reason() {
        assert!(reopen_reason(None).is_err());
        assert!(reopen_reason(Some("   ")).is_err());
        assert!(reopen_reason(Some(&"x".repeat(MAX_REASON_CHARS + 1))).is_err());
        assert_eq!(
            reopen_reason(Some(" Registro tardío de la fiscalía ")),
            Ok("Registro tardío de la fiscalía".to_string())
        );
        assert!(reopen_reason(Some(&"é".repeat(MAX_REASON_CHARS))).is_ok());
    }

    #[test]
    fn the_refusal_names_the_quarter_and_who_reopens() {
        let m = closed_message(
            "19",
            Quarter {
                year: 2024,
                quarter: 2,
            },
        );
        assert!(m.es.contains("2024-T2") && m.es.contains("entidad 19"));
        assert!(m.es.contains("administración nacional"));
        assert!(m.en.contains("2024-Q2"));
    }
}
