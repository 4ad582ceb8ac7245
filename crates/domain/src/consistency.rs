//! Rules that relate a record to the records above it (a session to its
//! commission, a follow-up to the session of its agreement). The form spec
//! validates one record alone; these run once its ancestors are loaded.

use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::forms::FormKey;
use crate::i18n::Message;
use crate::validation::FieldError;

/// The machine code of a date that precedes a date it must follow.
pub const DATE_BEFORE_PARENT: &str = "date_before_parent";

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

/// Checks `record` of `form` against its ancestors, parent first.
pub fn check(
    form: FormKey,
    record: &Map<String, Value>,
    ancestors: &[(FormKey, Map<String, Value>)],
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
        _ => {}
    }
    errors
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
}
