//! Rules that relate a record to the records above it (a session to its
//! commission, a follow-up to the session of its agreement) and, for the
//! judicialization module, to the timeline of its criminal case. The form
//! spec validates one record alone; these run once its ancestors (and the
//! records [`related`] names) are loaded.

use chrono::NaiveDate;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::forms::FormKey;
use crate::i18n::Message;
use crate::validation::FieldCode;
use crate::validation::FieldError;

/// The machine code of a date that precedes a date it must follow.
pub const DATE_BEFORE_PARENT: FieldCode = FieldCode::DateBeforeParent;

fn date(record: &Map<String, Value>, key: &str) -> Option<NaiveDate> {
    record.get(key)?.as_str()?.parse().ok()
}

/// The nearest ancestor of a form, from `ancestors` (parent first).
fn ancestor(
    ancestors: &[(FormKey, Map<String, Value>)],
    form: FormKey,
) -> Option<&Map<String, Value>> {
    ancestors.iter().find(|(f, _)| *f == form).map(|(_, m)| m)
}

/// `field` of the record must not precede `parent_field` of the ancestor.
fn not_before(
    errors: &mut Vec<FieldError>,
    record: &Map<String, Value>,
    field: &str,
    parent: Option<&Map<String, Value>>,
    parent_field: &str,
    message: (&str, &str),
) {
    let (Some(mine), Some(theirs)) = (
        date(record, field),
        parent.and_then(|p| date(p, parent_field)),
    ) else {
        return;
    };
    if mine < theirs {
        errors.push(FieldError::new(
            field,
            DATE_BEFORE_PARENT,
            Message::new(
                format!("{} ({theirs}).", message.0),
                format!("{} ({theirs}).", message.1),
            ),
        ));
    }
}

/// The machine code of a procedural event dated out of the order in which
/// the case's events were recorded.
pub const EVENT_OUT_OF_ORDER: FieldCode = FieldCode::EventOutOfOrder;

/// The machine code of a criminal case whose stage moves back without an
/// appeal (impugnación) recorded in it.
pub const STAGE_BACKWARDS: FieldCode = FieldCode::StageBackwards;

/// The machine code of a sentence by abbreviated procedure in a case that
/// had already reached the oral trial.
pub const ABBREVIATED_AFTER_TRIAL: FieldCode = FieldCode::AbbreviatedAfterTrial;

/// The stages of the accusatory procedure in the order the CNPP sets
/// (art. 211 and after), with their names for messages. The order is law,
/// not data: a stage added to the catalog later is simply not compared.
const STAGES: [(&str, &str, &str); 7] = [
    (
        "INV_INICIAL",
        "investigación inicial",
        "initial investigation",
    ),
    (
        "INV_COMPLEMENTARIA",
        "investigación complementaria",
        "supplementary investigation",
    ),
    ("INTERMEDIA", "etapa intermedia", "intermediate stage"),
    ("JUICIO", "juicio oral", "oral trial"),
    ("IMPUGNACION", "impugnación", "appeal"),
    ("SENTENCIA_FIRME", "sentencia firme", "final judgment"),
    ("EJECUCION", "ejecución", "enforcement"),
];

/// The trial stage: an abbreviated procedure is only possible before it.
const TRIAL_STAGE: &str = "JUICIO";

/// The event that lets a case's stage move back (an appeal may order the
/// procedure repeated, CNPP art. 480 and after).
const APPEAL_EVENT: &str = "IMPUGNACION";

/// Events that show the oral trial had opened. The abbreviated procedure
/// may be requested only until the auto de apertura a juicio (CNPP art.
/// 202), so that order counts as the trial's start. The reading of the
/// sentence (SENTENCIA) is not among them: an abbreviated procedure ends
/// with one too.
const TRIAL_EVENTS: [&str; 4] = [
    "APERTURA_JUICIO",
    "AUDIENCIA_JUICIO",
    "FALLO",
    "AUDIENCIA_INDIVIDUALIZACION",
];

/// The abbreviated-procedure code of the sentence_route catalog.
const ABBREVIATED: &str = "PROCEDIMIENTO_ABREVIADO";

fn stage(code: &str) -> Option<(usize, &'static str, &'static str)> {
    STAGES
        .iter()
        .position(|(c, ..)| *c == code)
        .map(|i| (i, STAGES[i].1, STAGES[i].2))
}

fn text<'a>(record: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    record.get(key)?.as_str()
}

/// Other records a form's rules look at besides its ancestors: the records
/// of form `child` whose parent is the nearest record of form `owner` (an
/// ancestor, or the record itself when it is being updated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Related {
    pub owner: FormKey,
    pub child: FormKey,
}

/// What [`check_in`] needs loaded for `form`, if anything.
pub fn related(form: FormKey) -> Option<Related> {
    match form {
        // The case's timeline: events are ordered against their siblings, a
        // case's stage against its appeals, an abbreviated sentence against
        // the opening of the trial.
        FormKey::ProceduralEvent | FormKey::CriminalCase | FormKey::Sentence => Some(Related {
            owner: FormKey::CriminalCase,
            child: FormKey::ProceduralEvent,
        }),
        _ => None,
    }
}

/// The surroundings of a record beyond its ancestors.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// The stored record, on an update.
    pub previous: Option<&'a Map<String, Value>>,
    /// The record's id, on an update.
    pub id: Option<Uuid>,
    /// The records [`related`] names for the form, with their ids, in the
    /// order they were recorded (ids are time-ordered UUIDv7). On an update
    /// of a record of the child form it may include the record itself.
    pub related: &'a [(Uuid, Map<String, Value>)],
}

/// Checks `record` of `form` against its ancestors, parent first.
pub fn check(
    form: FormKey,
    record: &Map<String, Value>,
    ancestors: &[(FormKey, Map<String, Value>)],
) -> Vec<FieldError> {
    check_in(form, record, ancestors, &Context::default())
}

/// Checks `record` of `form` against its ancestors (parent first) and the
/// surroundings in `ctx`.
pub fn check_in(
    form: FormKey,
    record: &Map<String, Value>,
    ancestors: &[(FormKey, Map<String, Value>)],
    ctx: &Context<'_>,
) -> Vec<FieldError> {
    let mut errors = vec![];
    match form {
        FormKey::Session => not_before(
            &mut errors,
            record,
            "date",
            ancestor(ancestors, FormKey::Commission),
            "installation_date",
            (
                "La fecha de la sesión es anterior a la instalación de la comisión",
                "The session's date precedes the commission's installation",
            ),
        ),
        FormKey::Agreement => not_before(
            &mut errors,
            record,
            "due_date",
            ancestor(ancestors, FormKey::Session),
            "date",
            (
                "La fecha compromiso es anterior a la sesión en que se tomó el acuerdo",
                "The due date precedes the session that took the agreement",
            ),
        ),
        FormKey::AgreementFollowUp => not_before(
            &mut errors,
            record,
            "date",
            ancestor(ancestors, FormKey::Session),
            "date",
            (
                "El seguimiento es anterior a la sesión en que se tomó el acuerdo",
                "The follow-up precedes the session that took the agreement",
            ),
        ),
        FormKey::CriminalCase => {
            not_before(
                &mut errors,
                record,
                "judicialized_date",
                ancestor(ancestors, FormKey::Investigation),
                "opening_date",
                (
                    "La causa penal no puede judicializarse antes de que se iniciara su \
                     investigación: la fecha de judicialización es anterior a la fecha de inicio \
                     de la investigación",
                    "A criminal case cannot be judicialized before its investigation was opened: \
                     the judicialization date precedes the investigation's opening date",
                ),
            );
            stage_not_backwards(&mut errors, record, ctx);
        }
        FormKey::ProceduralEvent => {
            not_before(
                &mut errors,
                record,
                "date",
                ancestor(ancestors, FormKey::CriminalCase),
                "judicialized_date",
                (
                    "La actuación procesal es anterior a la fecha de judicialización de la causa",
                    "The procedural event precedes the case's judicialization date",
                ),
            );
            events_in_date_order(&mut errors, record, ctx);
        }
        FormKey::Sentence => {
            not_before(
                &mut errors,
                record,
                "date",
                ancestor(ancestors, FormKey::CriminalCase),
                "judicialized_date",
                (
                    "La sentencia no puede ser anterior a la causa: su fecha es anterior a la \
                     fecha de judicialización de la causa",
                    "A sentence cannot precede its case: its date precedes the case's \
                     judicialization date",
                ),
            );
            abbreviated_before_trial(
                &mut errors,
                record,
                ancestor(ancestors, FormKey::CriminalCase),
                ctx,
            );
        }
        _ => {}
    }
    errors
}

/// The timeline must read in date order in the order it was recorded: a
/// new event may not precede the latest one already recorded, and a
/// corrected date must stay between its recorded neighbours. A system that
/// loads a whole history sends it oldest first.
fn events_in_date_order(errors: &mut Vec<FieldError>, record: &Map<String, Value>, ctx: &Context) {
    let Some(mine) = date(record, "date") else {
        return;
    };
    let mut latest_before: Option<NaiveDate> = None;
    let mut earliest_after: Option<NaiveDate> = None;
    for (id, other) in ctx.related {
        if Some(*id) == ctx.id {
            continue;
        }
        let Some(theirs) = date(other, "date") else {
            continue;
        };
        let recorded_before = ctx.id.is_none_or(|me| *id < me);
        if recorded_before {
            latest_before = latest_before.max(Some(theirs));
        } else {
            earliest_after = Some(earliest_after.map_or(theirs, |d| d.min(theirs)));
        }
    }
    if let Some(latest) = latest_before.filter(|l| mine < *l) {
        errors.push(FieldError::new(
            "date",
            EVENT_OUT_OF_ORDER,
            Message::new(
                format!(
                    "Las actuaciones de una causa se registran en orden cronológico: esta es \
                     anterior a la última actuación registrada ({latest})."
                ),
                format!(
                    "A case's events are recorded in date order: this one precedes the latest \
                     event recorded ({latest})."
                ),
            ),
        ));
    } else if let Some(next) = earliest_after.filter(|n| mine > *n) {
        errors.push(FieldError::new(
            "date",
            EVENT_OUT_OF_ORDER,
            Message::new(
                format!(
                    "Las actuaciones de una causa se registran en orden cronológico: esta \
                     quedaría después de la actuación registrada a continuación ({next})."
                ),
                format!(
                    "A case's events are recorded in date order: this one would fall after the \
                     event recorded next ({next})."
                ),
            ),
        ));
    }
}

/// A case's stage only moves forward, unless an appeal (an IMPUGNACION
/// event) is recorded in it: an appeal may send the case back (a repeated
/// trial).
fn stage_not_backwards(errors: &mut Vec<FieldError>, record: &Map<String, Value>, ctx: &Context) {
    let (Some(new), Some(old)) = (
        text(record, "stage").and_then(stage),
        ctx.previous.and_then(|p| text(p, "stage")).and_then(stage),
    ) else {
        return;
    };
    if new.0 >= old.0 {
        return;
    }
    let appealed = ctx
        .related
        .iter()
        .any(|(_, e)| text(e, "event_type") == Some(APPEAL_EVENT));
    if appealed {
        return;
    }
    errors.push(FieldError::new(
        "stage",
        STAGE_BACKWARDS,
        Message::new(
            format!(
                "La etapa procesal no puede retroceder de «{}» a «{}» sin una impugnación \
                 registrada en la causa (actuación IMPUGNACION).",
                old.1, new.1
            ),
            format!(
                "The procedural stage cannot move back from \"{}\" to \"{}\" without an appeal \
                 recorded in the case (event IMPUGNACION).",
                old.2, new.2
            ),
        ),
    ));
}

/// A sentence by abbreviated procedure must come before the trial: the
/// trial starts with the first trial event of the case's timeline; where
/// the timeline records none, a case whose stage is the trial has started
/// it at a date unknown, so no abbreviated sentence fits.
fn abbreviated_before_trial(
    errors: &mut Vec<FieldError>,
    record: &Map<String, Value>,
    case: Option<&Map<String, Value>>,
    ctx: &Context,
) {
    if text(record, "route") != Some(ABBREVIATED) {
        return;
    }
    let Some(sentenced) = date(record, "date") else {
        return;
    };
    let trial_opened = ctx
        .related
        .iter()
        .filter(|(_, e)| text(e, "event_type").is_some_and(|t| TRIAL_EVENTS.contains(&t)))
        .filter_map(|(_, e)| date(e, "date"))
        .min();
    let (es, en) = match trial_opened {
        Some(opened) if opened <= sentenced => (
            format!("la causa abrió juicio oral el {opened}"),
            format!("the case opened its oral trial on {opened}"),
        ),
        Some(_) => return,
        None if case.and_then(|c| text(c, "stage")) == Some(TRIAL_STAGE) => (
            "la causa se encuentra en la etapa de juicio oral".to_string(),
            "the case is at the oral-trial stage".to_string(),
        ),
        None => return,
    };
    errors.push(FieldError::new(
        "route",
        ABBREVIATED_AFTER_TRIAL,
        Message::new(
            format!(
                "El procedimiento abreviado solo procede antes de la etapa de juicio oral (CNPP, \
                 art. 202), y {es}."
            ),
            format!(
                "The abbreviated procedure is only possible before the oral-trial stage (CNPP, \
                 art. 202), and {en}."
            ),
        ),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_session_cannot_precede_its_commission() {
        let commission = map(json!({"installation_date": "2015-03-10"}));
        let ancestors = vec![(FormKey::Commission, commission)];
        let early = check(
            FormKey::Session,
            &map(json!({"date": "2015-03-09"})),
            &ancestors,
        );
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].field, "date");
        assert_eq!(early[0].code, DATE_BEFORE_PARENT);
        assert!(early[0].message.es.contains("2015-03-10"));
        assert!(check(
            FormKey::Session,
            &map(json!({"date": "2015-03-10"})),
            &ancestors
        )
        .is_empty());
    }

    #[test]
    fn a_follow_up_cannot_precede_the_session_of_its_agreement() {
        let ancestors = vec![
            (FormKey::Agreement, map(json!({"due_date": "2024-12-31"}))),
            (FormKey::Session, map(json!({"date": "2024-05-02"}))),
        ];
        assert_eq!(
            check(
                FormKey::AgreementFollowUp,
                &map(json!({"date": "2024-05-01"})),
                &ancestors
            )
            .len(),
            1
        );
        assert!(check(
            FormKey::AgreementFollowUp,
            &map(json!({"date": "2024-06-01"})),
            &ancestors
        )
        .is_empty());
    }

    fn events(list: &[(u128, &str, &str)]) -> Vec<(Uuid, Map<String, Value>)> {
        list.iter()
            .map(|(id, ty, d)| {
                (
                    Uuid::from_u128(*id),
                    map(json!({"event_type": ty, "date": d})),
                )
            })
            .collect()
    }

    #[test]
    fn a_case_cannot_be_judicialized_before_its_investigation() {
        let ancestors = vec![(
            FormKey::Investigation,
            map(json!({"opening_date": "2023-02-01"})),
        )];
        let early = check(
            FormKey::CriminalCase,
            &map(json!({"judicialized_date": "2023-01-31"})),
            &ancestors,
        );
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].field, "judicialized_date");
        assert_eq!(early[0].code, DATE_BEFORE_PARENT);
        assert!(early[0].message.es.contains("investigación"));
        assert!(early[0].message.es.contains("2023-02-01"));
        assert!(check(
            FormKey::CriminalCase,
            &map(json!({"judicialized_date": "2023-02-01"})),
            &ancestors
        )
        .is_empty());
    }

    #[test]
    fn events_follow_the_judicialization_and_each_other() {
        let ancestors = vec![
            (
                FormKey::CriminalCase,
                map(json!({"judicialized_date": "2023-03-01"})),
            ),
            (
                FormKey::Investigation,
                map(json!({"opening_date": "2023-01-01"})),
            ),
        ];
        let before_case = check(
            FormKey::ProceduralEvent,
            &map(json!({"date": "2023-02-28"})),
            &ancestors,
        );
        assert_eq!(before_case[0].code, DATE_BEFORE_PARENT);
        assert!(before_case[0].message.es.contains("judicialización"));

        let timeline = events(&[
            (1, "AUDIENCIA_INICIAL", "2023-03-02"),
            (3, "VINCULACION", "2023-03-08"),
        ]);
        let new = |d: &str| {
            check_in(
                FormKey::ProceduralEvent,
                &map(json!({"date": d})),
                &ancestors,
                &Context {
                    related: &timeline,
                    ..Context::default()
                },
            )
        };
        let late = new("2023-03-07");
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].field, "date");
        assert_eq!(late[0].code, EVENT_OUT_OF_ORDER);
        assert!(late[0].message.es.contains("2023-03-08"));
        assert!(new("2023-03-08").is_empty(), "the same day is in order");

        // Correcting the first event's date: it must stay before the next.
        let fix = |d: &str| {
            check_in(
                FormKey::ProceduralEvent,
                &map(json!({"date": d})),
                &ancestors,
                &Context {
                    id: Some(Uuid::from_u128(1)),
                    related: &timeline,
                    ..Context::default()
                },
            )
        };
        assert!(fix("2023-03-05").is_empty());
        assert_eq!(fix("2023-03-09")[0].code, EVENT_OUT_OF_ORDER);
        assert!(fix("2023-03-09")[0].message.es.contains("2023-03-08"));
    }

    #[test]
    fn a_stage_moves_back_only_after_an_appeal() {
        let previous = map(json!({"stage": "IMPUGNACION"}));
        let back = map(json!({"stage": "JUICIO"}));
        let quiet = events(&[(1, "AUDIENCIA_JUICIO", "2024-01-10")]);
        let errors = check_in(
            FormKey::CriminalCase,
            &back,
            &[],
            &Context {
                previous: Some(&previous),
                id: Some(Uuid::from_u128(9)),
                related: &quiet,
            },
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "stage");
        assert_eq!(errors[0].code, STAGE_BACKWARDS);
        assert!(errors[0]
            .message
            .es
            .contains("«impugnación» a «juicio oral»"));
        let appealed = events(&[
            (1, "SENTENCIA", "2024-01-10"),
            (2, "IMPUGNACION", "2024-01-20"),
        ]);
        assert!(check_in(
            FormKey::CriminalCase,
            &back,
            &[],
            &Context {
                previous: Some(&previous),
                id: Some(Uuid::from_u128(9)),
                related: &appealed,
            },
        )
        .is_empty());
        // Forward, the same stage, or a creation: nothing to say.
        for (before, after) in [("INTERMEDIA", "JUICIO"), ("JUICIO", "JUICIO")] {
            let previous = map(json!({"stage": before}));
            assert!(check_in(
                FormKey::CriminalCase,
                &map(json!({"stage": after})),
                &[],
                &Context {
                    previous: Some(&previous),
                    ..Context::default()
                },
            )
            .is_empty());
        }
        assert!(check(FormKey::CriminalCase, &back, &[]).is_empty());
    }

    #[test]
    fn sentences_follow_the_case_and_abbreviated_ones_precede_the_trial() {
        let case = |stage: &str| {
            vec![
                (FormKey::Defendant, map(json!({"sex": "HOMBRE"}))),
                (
                    FormKey::CriminalCase,
                    map(json!({"judicialized_date": "2023-03-01", "stage": stage})),
                ),
            ]
        };
        let early = check(
            FormKey::Sentence,
            &map(json!({"date": "2023-02-01", "route": "JUICIO_ORAL"})),
            &case("INTERMEDIA"),
        );
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].field, "date");
        assert_eq!(early[0].code, DATE_BEFORE_PARENT);

        let abbreviated = map(json!({"date": "2023-09-01", "route": "PROCEDIMIENTO_ABREVIADO"}));
        let timeline = events(&[
            (1, "VINCULACION", "2023-03-05"),
            (2, "APERTURA_JUICIO", "2023-08-01"),
        ]);
        let after_trial = check_in(
            FormKey::Sentence,
            &abbreviated,
            &case("SENTENCIA_FIRME"),
            &Context {
                related: &timeline,
                ..Context::default()
            },
        );
        assert_eq!(after_trial.len(), 1);
        assert_eq!(after_trial[0].field, "route");
        assert_eq!(after_trial[0].code, ABBREVIATED_AFTER_TRIAL);
        assert!(after_trial[0].message.es.contains("2023-08-01"));

        // Before the trial opened (a co-defendant's plea): fine, whatever
        // the case's stage is now.
        let mut before = abbreviated.clone();
        before["date"] = json!("2023-07-01");
        assert!(check_in(
            FormKey::Sentence,
            &before,
            &case("JUICIO"),
            &Context {
                related: &timeline,
                ..Context::default()
            },
        )
        .is_empty());

        // No dated trial, but the case says it is in trial.
        let in_trial = check(FormKey::Sentence, &abbreviated, &case("JUICIO"));
        assert_eq!(in_trial[0].code, ABBREVIATED_AFTER_TRIAL);
        assert!(in_trial[0].message.es.contains("etapa de juicio oral"));
        assert!(check(FormKey::Sentence, &abbreviated, &case("INTERMEDIA")).is_empty());

        // An oral-trial sentence is not concerned.
        let mut oral = abbreviated.clone();
        oral["route"] = json!("JUICIO_ORAL");
        assert!(check(FormKey::Sentence, &oral, &case("JUICIO")).is_empty());
    }

    #[test]
    fn the_timeline_is_what_judicialization_forms_load() {
        for form in [
            FormKey::ProceduralEvent,
            FormKey::CriminalCase,
            FormKey::Sentence,
        ] {
            assert_eq!(
                related(form),
                Some(Related {
                    owner: FormKey::CriminalCase,
                    child: FormKey::ProceduralEvent
                })
            );
        }
        assert_eq!(related(FormKey::Session), None);
        assert!(STAGES.iter().any(|(c, ..)| *c == TRIAL_STAGE));
    }
}
