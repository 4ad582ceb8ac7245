//! The JSON Schema (OpenAPI 3.1 dialect, i.e. JSON Schema 2020-12) of a
//! form's writable body, derived from its spec so the published OpenAPI
//! document and the validation can never drift apart.
//!
//! Mapping of field types:
//!
//! | field type | schema |
//! |---|---|
//! | text, long text | `string` with `maxLength` |
//! | date | `string`, `format: date` |
//! | integer | `integer` with `minimum`/`maximum` |
//! | decimal | `number` with `minimum`/`maximum` |
//! | boolean | `boolean` |
//! | catalog | `string` (an `array` of them when multiple), `x-catalog` |
//! | reference | `string`, `format: uuid` (an `array` when multiple), `x-reference`, `x-folio-key` |
//! | CURP | `string` with the CURP `pattern` |
//! | choice | `string` with `enum` |
//! | uuid | `string`, `format: uuid` |
//!
//! Optional fields also accept `null` (an empty value). Canonical forms are
//! described (upper-case CURP and codes, lower-case usernames); the server
//! also accepts surrounding blanks and other letter cases and normalizes
//! them. `title` and `description` carry the Spanish label and help;
//! `x-personal: true` marks personal data.

use serde_json::{json, Map, Value};

use super::{FieldSpec, FieldType, FormSpec, Rule};

/// The regular expression of a CURP's layout, in its canonical upper case.
pub const CURP_PATTERN: &str = "^[A-Z]{4}[0-9]{6}[HMX][A-Z]{2}[B-DF-HJ-NP-TV-Z]{3}[0-9A-Z][0-9]$";

const USERNAME_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{2,63}$";
const CODE_PATTERN: &str = "^[A-Z0-9_]+$";

pub(super) fn form_schema(spec: &FormSpec) -> Value {
    let properties: Map<String, Value> = spec
        .fields
        .iter()
        .map(|f| (f.key.to_string(), field_schema(f)))
        .collect();
    json!({
        "type": "object",
        "title": spec.label.es,
        "description": format!(
            "{} / {} (form `{}`)",
            spec.label.es, spec.label.en, spec.key
        ),
        "properties": properties,
        "required": spec.required_fields().collect::<Vec<_>>(),
        "additionalProperties": false,
    })
}

fn uuid_schema() -> Value {
    json!({"type": "string", "format": "uuid"})
}

fn field_schema(field: &FieldSpec) -> Value {
    let mut schema = match field.ty {
        FieldType::Text { max_length } | FieldType::LongText { max_length } => {
            json!({"type": "string", "maxLength": max_length})
        }
        FieldType::Date => json!({"type": "string", "format": "date"}),
        FieldType::Integer { min, max } => {
            json!({"type": "integer", "minimum": min, "maximum": max})
        }
        FieldType::Decimal { min, max } => {
            json!({"type": "number", "minimum": min, "maximum": max})
        }
        FieldType::Boolean => json!({"type": "boolean"}),
        FieldType::Catalog {
            catalog, multiple, ..
        } => {
            let mut s = if multiple {
                json!({"type": "array", "items": {"type": "string"}})
            } else {
                json!({"type": "string"})
            };
            s["x-catalog"] = json!(catalog);
            s
        }
        FieldType::Reference {
            form,
            folio_key,
            multiple,
        } => {
            let mut s = if multiple {
                json!({"type": "array", "items": uuid_schema()})
            } else {
                uuid_schema()
            };
            s["x-reference"] = json!(form);
            s["x-folio-key"] = json!(folio_key);
            s
        }
        FieldType::Curp => json!({"type": "string", "pattern": CURP_PATTERN}),
        FieldType::Choice { options } => {
            let mut codes: Vec<Value> = options.iter().map(|o| json!(o.code)).collect();
            if !field.required {
                codes.push(Value::Null);
            }
            json!({"type": "string", "enum": codes})
        }
        FieldType::Uuid => uuid_schema(),
    };
    for rule in field.rules {
        match rule {
            Rule::Username => schema["pattern"] = json!(USERNAME_PATTERN),
            Rule::Code => schema["pattern"] = json!(CODE_PATTERN),
            Rule::MissingReportFolio => schema["pattern"] = json!(crate::missing_report::PATTERN),
            Rule::Email => schema["format"] = json!("email"),
            Rule::NotFuture | Rule::NotBefore(_) | Rule::ParentItem(_) => {}
        }
    }
    if let FieldType::Catalog {
        parent_field: Some(parent),
        ..
    } = field.ty
    {
        schema["x-parent-field"] = json!(parent);
    }
    if !field.required {
        let ty = schema["type"].clone();
        schema["type"] = json!([ty, "null"]);
    }
    schema["title"] = json!(field.label.es);
    schema["description"] = json!(field.help.es);
    if field.personal {
        schema["x-personal"] = json!(true);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forms::{spec, FormKey};

    #[test]
    fn types_map_to_schemas() {
        let s = spec(FormKey::Victim).json_schema();
        assert_eq!(s["additionalProperties"], false);
        let p = &s["properties"];
        assert_eq!(p["first_surname"]["type"], json!(["string", "null"]));
        assert_eq!(p["first_surname"]["maxLength"], 100);
        assert_eq!(p["first_surname"]["x-personal"], true);
        assert_eq!(p["sex"]["type"], "string");
        assert_eq!(p["sex"]["x-catalog"], "sex");
        assert_eq!(p["detection_date"]["format"], "date");
        assert_eq!(p["age_at_detection"]["maximum"], 120);
        assert_eq!(p["exploitation_forms"]["type"], json!(["array", "null"]));
        assert_eq!(p["curp"]["pattern"], CURP_PATTERN);
        assert_eq!(p["consent_to_share"]["type"], json!(["boolean", "null"]));

        let s = spec(FormKey::Attention).json_schema();
        assert_eq!(s["properties"]["victim_id"]["format"], "uuid");
        assert_eq!(s["properties"]["victim_id"]["x-folio-key"], "victim_folio");

        let s = spec(FormKey::User).json_schema();
        let roles = s["properties"]["role"]["enum"].as_array().unwrap();
        assert!(roles.contains(&json!("operator")));
        assert!(!roles.contains(&Value::Null));
        assert_eq!(s["properties"]["email"]["format"], "email");

        let s = spec(FormKey::Sentence).json_schema();
        assert_eq!(
            s["properties"]["reparation_amount"]["type"],
            json!(["number", "null"])
        );
    }
}
