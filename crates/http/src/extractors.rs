//! actix's extractor errors, answered as problem+json without echoing the
//! submitted values (serde's messages quote them, and they may be personal
//! data).

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{web, HttpRequest};
use sintra_domain::error_code::ErrorCode;

use crate::error::ApiError;
use sintra_domain::validation::FieldCode;

pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req: &HttpRequest| json_error(&err).into())
}

pub fn json_error(err: &JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::PayloadTooLarge
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) => serde_error(e),
        _ => ApiError::malformed(
            ErrorCode::MalformedJson,
            "No se pudo leer el cuerpo de la solicitud.",
            "The request body could not be read.",
        ),
    }
}

/// Describes a JSON error by its position and kind only. An unknown field
/// is named when its name looks like a field name.
pub fn serde_error(e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let text = e.to_string();
    if let Some(name) = text
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .filter(|n| n.len() <= 64 && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return ApiError::invalid(
            name,
            FieldCode::UnknownField,
            format!("El campo «{name}» no existe en este formulario."),
            format!("The field «{name}» does not exist in this form."),
        );
    }
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        Category::Data => ApiError::Validation(vec![sintra_domain::validation::FieldError {
            field: missing_field(&text).unwrap_or_default(),
            code: if text.starts_with("missing field") {
                FieldCode::Required
            } else {
                FieldCode::WrongType
            },
            message: sintra_domain::i18n::Message::new(
                format!(
                    "Un valor no tiene el tipo esperado o falta (línea {line}, columna {column})."
                ),
                format!("A value has the wrong type or is missing (line {line}, column {column})."),
            ),
        }]),
        _ => ApiError::malformed(
            ErrorCode::MalformedJson,
            format!("El cuerpo no es JSON válido (línea {line}, columna {column})."),
            format!("The body is not valid JSON (line {line}, column {column})."),
        ),
    }
}

fn missing_field(text: &str) -> Option<String> {
    text.strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_string)
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let _ = matches!(err, QueryPayloadError::Deserialize(_));
        ApiError::malformed(
            ErrorCode::MalformedQuery,
            "Los parámetros de la consulta no son válidos.",
            "The query parameters are not valid.",
        )
        .into()
    })
}

/// A path parameter of the wrong shape (an id that is not a UUID) names no
/// resource: 404, as for any id that does not exist.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err: PathError, _req| ApiError::NotFound.into())
}
