//! Label overrides: the national admin's adjustments to a form's field
//! labels, help texts and order ("ajuste de etiquetas"), made without a
//! release.
//!
//! The built-in specs stay the one description of every field; an override
//! changes only what people read (label and help, Spanish and English) and
//! where the field shows (its position). Keys, types and rules never change,
//! so the JSON bodies and the OpenAPI contract are the same whatever labels
//! are in force.
//!
//! [`effective`] gives the spec as it stands with a set of overrides: a
//! `&'static FormSpec` like the built-in one, so every consumer (the
//! published form, validation messages, Excel templates, imports, exports)
//! takes it unchanged. It is built once per distinct set of overrides and
//! kept for the life of the process (its texts are interned): overrides come
//! only from the national admin's writes, each write makes at most one new
//! set for one form, so what is kept grows with the number of label edits
//! (a few KiB each), never with requests.

use std::collections::{HashMap, HashSet};
use std::sync::{LazyLock, Mutex};

use serde::Serialize;

use super::{FieldSpec, FormKey, FormSpec};
use crate::i18n::{Message, Text};
use crate::text::has_forbidden_control;
use crate::validation::FieldCode;
use crate::validation::FieldError;

/// The longest label an override may give (characters): a column header.
pub const MAX_LABEL_CHARS: usize = 120;
/// The longest help text an override may give (characters): a header's note.
pub const MAX_HELP_CHARS: usize = 1000;

/// The field-error code of a label another column of the form already
/// answers to (an import could not tell the two columns apart).
pub const LABEL_TAKEN: &str = FieldCode::LabelTaken.as_str();

/// One field's override as stored: each part is optional, an absent part
/// keeps the built-in text or position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct LabelOverride {
    /// The field's key (never changes).
    pub field: String,
    pub label_es: Option<String>,
    pub label_en: Option<String>,
    pub help_es: Option<String>,
    pub help_en: Option<String>,
    /// The field's 1-based position in the form (forms, templates, exports,
    /// error lists); the fields without one keep their built-in order around
    /// the placed ones.
    pub position: Option<i32>,
}

impl LabelOverride {
    /// Whether it changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.label_es.is_none()
            && self.label_en.is_none()
            && self.help_es.is_none()
            && self.help_en.is_none()
            && self.position.is_none()
    }
}

/// Checks an override of `form` before it is stored: the field exists, texts
/// are non-blank, bounded and free of control characters (labels are one
/// line; help may span lines), the position lies within the form, and
/// neither label is a name another column of the form answers to on import
/// (`names_taken`: the normalized names of the other columns, as the Excel
/// crate normalizes headers, with `normalize` its normalization). Texts come
/// back trimmed; errors name the body's properties.
pub fn check_override(
    spec: &FormSpec,
    input: LabelOverride,
    normalize: impl Fn(&str) -> String,
    names_taken: &HashSet<String>,
) -> Result<LabelOverride, Vec<FieldError>> {
    let mut errors = vec![];
    let mut text = |key: &'static str, value: Option<String>, max: usize, multiline: bool| {
        let value = value.map(|v| v.trim().to_string());
        match &value {
            Some(v) if v.is_empty() => errors.push(FieldError::new(
                key,
                crate::validation::FieldCode::Required,
                Message::new(
                    format!(
                        "«{key}» no puede estar vacío; omítalo para conservar el texto original."
                    ),
                    format!("\"{key}\" cannot be empty; leave it out to keep the built-in text."),
                ),
            )),
            Some(v) if v.chars().count() > max => errors.push(FieldError::new(
                key,
                crate::validation::FieldCode::TooLong,
                Message::new(
                    format!("«{key}» excede {max} caracteres."),
                    format!("\"{key}\" exceeds {max} characters."),
                ),
            )),
            Some(v) if has_forbidden_control(v, multiline) => errors.push(FieldError::new(
                key,
                crate::validation::FieldCode::InvalidFormat,
                Message::new(
                    format!("«{key}» contiene caracteres de control."),
                    format!("\"{key}\" contains control characters."),
                ),
            )),
            _ => {}
        }
        value
    };
    let out = LabelOverride {
        label_es: text("label_es", input.label_es, MAX_LABEL_CHARS, false),
        label_en: text("label_en", input.label_en, MAX_LABEL_CHARS, false),
        help_es: text("help_es", input.help_es, MAX_HELP_CHARS, true),
        help_en: text("help_en", input.help_en, MAX_HELP_CHARS, true),
        position: input.position,
        field: input.field,
    };
    let fields = spec.fields.len() as i32;
    if let Some(p) = out.position {
        if !(1..=fields).contains(&p) {
            errors.push(FieldError::new(
                "position",
                crate::validation::FieldCode::OutOfRange,
                Message::new(
                    format!("«position» debe estar entre 1 y {fields}."),
                    format!("\"position\" must be between 1 and {fields}."),
                ),
            ));
        }
    }
    for (key, label) in [("label_es", &out.label_es), ("label_en", &out.label_en)] {
        if let Some(l) = label {
            if names_taken.contains(&normalize(l)) {
                errors.push(FieldError::new(
                    key,
                    FieldCode::LabelTaken,
                    Message::new(
                        format!(
                            "Otra columna del formulario ya se llama «{l}»: una importación no \
                             podría distinguirlas."
                        ),
                        format!(
                            "Another column of the form is already called \"{l}\": an import \
                             could not tell them apart."
                        ),
                    ),
                ));
            }
        }
    }
    if out.is_empty() {
        errors.push(FieldError::new(
            "label_es",
            crate::validation::FieldCode::Required,
            Message::new(
                "Indique al menos una etiqueta, una ayuda o una posición.",
                "Give at least a label, a help text or a position.",
            ),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Texts of overrides, kept for the life of the process (see the module's
/// note): the same text is stored once however many specs use it.
fn intern(s: &str) -> &'static str {
    static TEXTS: LazyLock<Mutex<HashSet<&'static str>>> = LazyLock::new(Default::default);
    let mut texts = TEXTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(found) = texts.get(s).copied() {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    texts.insert(leaked);
    leaked
}

/// The spec of `form` as the overrides leave it. Without overrides (or with
/// overrides of fields the form no longer has) it is the built-in spec
/// itself. Overrides are matched by field key; their order does not matter.
pub fn effective(form: FormKey, overrides: &[LabelOverride]) -> &'static FormSpec {
    let base = form.spec();
    let mut relevant: Vec<LabelOverride> = overrides
        .iter()
        .filter(|o| !o.is_empty() && base.field(&o.field).is_some())
        .cloned()
        .collect();
    if relevant.is_empty() {
        return base;
    }
    relevant.sort();
    type Memo = HashMap<(FormKey, Vec<LabelOverride>), &'static FormSpec>;
    static SPECS: LazyLock<Mutex<Memo>> = LazyLock::new(Default::default);
    let mut specs = SPECS.lock().unwrap_or_else(|p| p.into_inner());
    let key = (form, relevant);
    if let Some(found) = specs.get(&key).copied() {
        return found;
    }
    let built: &'static FormSpec = Box::leak(Box::new(build(base, &key.1)));
    specs.insert(key, built);
    built
}

/// A copy of `base` with the overrides applied.
fn build(base: &'static FormSpec, overrides: &[LabelOverride]) -> FormSpec {
    let of = |key: &str| overrides.iter().find(|o| o.field == key);
    let pick = |o: &Option<String>, built_in: &'static str| o.as_deref().map_or(built_in, intern);
    let relabelled: Vec<FieldSpec> = base
        .fields
        .iter()
        .map(|f| match of(f.key) {
            None => *f,
            Some(o) => FieldSpec {
                label: Text::new(pick(&o.label_es, f.label.es), pick(&o.label_en, f.label.en)),
                help: Text::new(pick(&o.help_es, f.help.es), pick(&o.help_en, f.help.en)),
                ..*f
            },
        })
        .collect();
    let positions: Vec<Option<i32>> = base
        .fields
        .iter()
        .map(|f| of(f.key).and_then(|o| o.position))
        .collect();
    let order = arrange(&positions);
    let fields: Vec<FieldSpec> = order.into_iter().map(|i| relabelled[i]).collect();
    FormSpec {
        fields: Box::leak(fields.into_boxed_slice()),
        ..*base
    }
}

/// The new order of the fields (indices into the built-in order): each
/// field with a position takes that slot (or the next free one, when two ask
/// for the same; ties go in built-in order), the others fill the remaining
/// slots in their built-in order.
///
/// Both `expect`s hold by counting: `placed` holds at most `n` fields, so a
/// free slot is left for each, and the fields without a position then fill
/// exactly the slots still free.
#[allow(clippy::expect_used)]
fn arrange(positions: &[Option<i32>]) -> Vec<usize> {
    let n = positions.len();
    let mut slots: Vec<Option<usize>> = vec![None; n];
    let mut placed: Vec<(usize, usize)> = positions
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| ((p.max(1) as usize - 1).min(n - 1), i)))
        .collect();
    placed.sort();
    for (want, i) in placed {
        let slot = (want..n)
            .chain((0..want).rev())
            .find(|s| slots[*s].is_none())
            .expect("as many slots as fields");
        slots[slot] = Some(i);
    }
    let mut rest = positions
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_none())
        .map(|(i, _)| i);
    slots
        .into_iter()
        .map(|s| s.or_else(|| rest.next()).expect("as many fields as slots"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sex(label_es: &str) -> LabelOverride {
        LabelOverride {
            field: "sex".into(),
            label_es: Some(label_es.into()),
            ..Default::default()
        }
    }

    #[test]
    fn without_overrides_the_spec_is_the_built_in_one() {
        let base = FormKey::Victim.spec();
        assert!(std::ptr::eq(effective(FormKey::Victim, &[]), base));
        let gone = LabelOverride {
            field: "no_such_field".into(),
            label_es: Some("X".into()),
            ..Default::default()
        };
        assert!(std::ptr::eq(effective(FormKey::Victim, &[gone]), base));
    }

    #[test]
    fn an_override_changes_labels_and_help_and_nothing_else() {
        let o = LabelOverride {
            label_en: Some("Sex at birth".into()),
            help_es: Some("Según el acta.".into()),
            ..sex("Sexo al nacer")
        };
        let spec = effective(FormKey::Victim, std::slice::from_ref(&o));
        let base = FormKey::Victim.spec();
        let f = spec.field("sex").unwrap();
        let b = base.field("sex").unwrap();
        assert_eq!(f.label, Text::new("Sexo al nacer", "Sex at birth"));
        assert_eq!(f.help.es, "Según el acta.");
        assert_eq!(f.help.en, b.help.en);
        assert_eq!(
            (f.key, f.ty, f.required, f.personal),
            (b.key, b.ty, b.required, b.personal)
        );
        let keys = |s: &FormSpec| s.fields.iter().map(|f| f.key).collect::<Vec<_>>();
        assert_eq!(keys(spec), keys(base));
        // The same overrides give the very same spec (built once).
        assert!(std::ptr::eq(spec, effective(FormKey::Victim, &[o])));
        assert!(!std::ptr::eq(
            spec,
            effective(FormKey::Victim, &[sex("Otro")])
        ));
    }

    #[test]
    fn positions_place_fields_and_the_rest_keep_their_order() {
        assert_eq!(arrange(&[None, None, Some(1), None]), vec![2, 0, 1, 3]);
        assert_eq!(arrange(&[Some(4), None, None, None]), vec![1, 2, 3, 0]);
        // Two asking for the same slot: the first in built-in order wins it.
        assert_eq!(arrange(&[None, Some(1), Some(1)]), vec![1, 2, 0]);
        // Out of range is clamped (the API refuses it before).
        assert_eq!(arrange(&[Some(9), None]), vec![1, 0]);
        let o = LabelOverride {
            position: Some(2),
            ..sex("Sexo")
        };
        let spec = effective(FormKey::Victim, &[o]);
        assert_eq!(spec.fields[1].key, "sex");
        assert_eq!(spec.fields[0].key, "external_folio");
        assert_eq!(spec.fields.len(), FormKey::Victim.spec().fields.len());
    }

    #[test]
    fn overrides_are_checked() {
        let spec = FormKey::Victim.spec();
        let norm = |s: &str| s.to_lowercase();
        let taken: HashSet<String> = ["nacionalidad".to_string()].into();
        let ok = check_override(spec, sex("  Sexo al nacer "), norm, &taken).unwrap();
        assert_eq!(ok.label_es.as_deref(), Some("Sexo al nacer"));
        let codes = |o: LabelOverride| -> Vec<(String, &'static str)> {
            check_override(spec, o, norm, &taken)
                .unwrap_err()
                .into_iter()
                .map(|e| (e.field, e.code.as_str()))
                .collect()
        };
        let one = |field: &str, code: &'static str| vec![(field.to_string(), code)];
        assert_eq!(codes(sex(" ")), one("label_es", "required"));
        assert_eq!(codes(sex(&"x".repeat(121))), one("label_es", "too_long"));
        assert_eq!(codes(sex("a\nb")), one("label_es", "invalid_format"));
        assert_eq!(codes(sex("Nacionalidad")), one("label_es", LABEL_TAKEN));
        let help = LabelOverride {
            field: "sex".into(),
            help_es: Some("Línea uno\nLínea dos".into()),
            ..Default::default()
        };
        assert!(check_override(spec, help, norm, &taken).is_ok());
        let far = LabelOverride {
            field: "sex".into(),
            position: Some(spec.fields.len() as i32 + 1),
            ..Default::default()
        };
        assert_eq!(codes(far), one("position", "out_of_range"));
        let nothing = LabelOverride {
            field: "sex".into(),
            ..Default::default()
        };
        assert_eq!(codes(nothing), one("label_es", "required"));
    }
}
