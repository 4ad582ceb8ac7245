//! One error type for the whole API, mapped once to RFC 9457
//! `application/problem+json`. The Spanish text is rendered here; the
//! [`problem_middleware`](crate::middleware) re-renders it in English when the
//! caller asks, and adds the request id. Nothing here echoes submitted values.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use sintra_domain::error_code::ErrorCode;
use sintra_domain::i18n::{Lang, Message};
use sintra_domain::validation::FieldCode;
use sintra_domain::validation::FieldError;
use sintra_persistence::StoreError;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// What a 503 tells a client to wait before retrying: long enough for a
/// restarting database or a failover, short for a person.
pub const RETRY_UNAVAILABLE_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read (bad JSON, bad query, bad header).
    #[error("malformed request")]
    Malformed { code: ErrorCode, detail: Message },
    /// A string from outside (body, query, path, header, multipart field)
    /// holds control characters; `field` names where.
    #[error("control characters")]
    ControlCharacters { field: String },
    #[error("unauthenticated")]
    Unauthenticated,
    #[error("invalid grant")]
    InvalidGrant,
    #[error("forbidden")]
    Forbidden { detail: Option<Message> },
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict")]
    Conflict { code: ErrorCode, detail: Message },
    #[error("stale version")]
    StaleVersion,
    /// The caller asked to refuse duplicates (`on_duplicate=reject`) and
    /// the person has exact or probable ones.
    #[error("duplicate refused")]
    Duplicate { candidates: serde_json::Value },
    /// A workbook committed with errors: nothing was written; the report
    /// says what to fix.
    #[error("import rejected")]
    ImportRejected { report: serde_json::Value },
    #[error("if-match required")]
    PreconditionRequired,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    /// Too much under way (imports): 429 with its own code and `Retry-After`.
    #[error("busy")]
    Busy {
        code: ErrorCode,
        detail: Message,
        retry_after_secs: u64,
    },
    #[error("database unavailable")]
    Unavailable,
    /// A refusal with its own status and code (a hostile or unreadable
    /// workbook, a repeated import).
    #[error("refused")]
    Refused {
        status: u16,
        code: ErrorCode,
        detail: Message,
    },
    /// A failure that is nobody's input. The cause is kept for the log
    /// (written once, when the response is built) and never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The problem document (RFC 9457) every error answers with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short, human-readable summary of the kind of problem.
    pub title: String,
    pub status: u16,
    /// Machine-readable code, stable across languages.
    pub code: String,
    /// Explanation of this occurrence, in the caller's language.
    pub detail: String,
    /// Per-field errors, for invalid data.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
    /// The possible duplicates behind a refused write (409), as the caller
    /// may see them.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub candidates: Option<serde_json::Value>,
    /// The import report behind a refused commit (422): rows read and
    /// valid, and each error by Excel row and column.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    /// The request id, also in the `X-Request-Id` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub code: String,
    pub message: String,
}

/// What a response carries so the middleware can render it in either language.
#[derive(Debug, Clone)]
pub struct ProblemSource {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub title: Message,
    pub detail: Message,
    pub errors: Vec<FieldError>,
    pub candidates: Option<serde_json::Value>,
    pub report: Option<serde_json::Value>,
}

impl ProblemSource {
    pub fn render(&self, lang: Lang, request_id: Option<String>) -> Problem {
        Problem {
            type_: format!(
                "https://sintra.example/problems/{}",
                self.code.as_str().replace('_', "-")
            ),
            title: self.title.get(lang).to_string(),
            status: self.status.as_u16(),
            code: self.code.to_string(),
            detail: self.detail.get(lang).to_string(),
            errors: self
                .errors
                .iter()
                .map(|e| ProblemField {
                    field: e.field.clone(),
                    code: e.code.to_string(),
                    message: e.message.get(lang).to_string(),
                })
                .collect(),
            candidates: self.candidates.clone(),
            report: self.report.clone(),
            request_id,
        }
    }

    /// The generic problem for a status that no handler described (actix's
    /// own routing errors, for instance).
    pub fn for_status(status: StatusCode) -> ProblemSource {
        let err = match status.as_u16() {
            400 => ApiError::Malformed {
                code: ErrorCode::MalformedRequest,
                detail: Message::new(
                    "La solicitud está mal formada.",
                    "The request is malformed.",
                ),
            },
            401 => ApiError::Unauthenticated,
            403 => ApiError::Forbidden { detail: None },
            404 => ApiError::NotFound,
            405 => ApiError::MethodNotAllowed,
            412 => ApiError::StaleVersion,
            413 => ApiError::PayloadTooLarge,
            415 => ApiError::UnsupportedMediaType,
            429 => ApiError::TooManyRequests {
                retry_after_secs: 60,
            },
            503 => ApiError::Unavailable,
            _ => ApiError::Internal(format!("status {status}")),
        };
        let mut source = err.source();
        source.status = status;
        source
    }
}

fn title(status: StatusCode) -> Message {
    let (es, en) = match status.as_u16() {
        400 => ("Solicitud mal formada", "Malformed request"),
        401 => ("No autenticado", "Unauthenticated"),
        403 => ("Acceso denegado", "Forbidden"),
        404 => ("No encontrado", "Not found"),
        405 => ("Método no permitido", "Method not allowed"),
        409 => ("Conflicto", "Conflict"),
        412 => ("Versión desactualizada", "Stale version"),
        413 => ("Solicitud demasiado grande", "Payload too large"),
        415 => ("Tipo de contenido no admitido", "Unsupported media type"),
        422 => ("Datos inválidos", "Invalid data"),
        428 => ("Falta If-Match", "Precondition required"),
        429 => ("Demasiadas solicitudes", "Too many requests"),
        503 => ("Servicio no disponible", "Service unavailable"),
        _ => ("Error interno", "Internal error"),
    };
    Message::new(es, en)
}

impl ApiError {
    /// An internal error with what caused it, for the log.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(cause.to_string())
    }

    pub fn forbidden() -> ApiError {
        ApiError::Forbidden { detail: None }
    }

    pub fn forbidden_because(es: &str, en: &str) -> ApiError {
        ApiError::Forbidden {
            detail: Some(Message::new(es, en)),
        }
    }

    /// A session of a one-time password asked for anything but changing it.
    pub fn password_change_required() -> ApiError {
        ApiError::Refused {
            status: 403,
            code: ErrorCode::PasswordChangeRequired,
            detail: Message::new(
                "Su contraseña es de un solo uso: cámbiela con POST /api/v1/auth/password antes de continuar.",
                "Your password is one-time: change it with POST /api/v1/auth/password before going on.",
            ),
        }
    }

    pub fn malformed(code: ErrorCode, es: impl Into<String>, en: impl Into<String>) -> ApiError {
        ApiError::Malformed {
            code,
            detail: Message::new(es, en),
        }
    }

    pub fn invalid(
        field: &str,
        code: FieldCode,
        es: impl Into<String>,
        en: impl Into<String>,
    ) -> ApiError {
        ApiError::Validation(vec![FieldError {
            field: field.to_string(),
            code,
            message: Message::new(es, en),
        }])
    }

    pub fn source(&self) -> ProblemSource {
        let status = self.status_code();
        let (code, detail, errors) = match self {
            ApiError::Malformed { code, detail } => (*code, detail.clone(), vec![]),
            ApiError::ControlCharacters { field } => (
                ErrorCode::ControlCharacters,
                Message::new(
                    format!("«{field}» contiene caracteres de control (como NUL); no se procesó la solicitud."),
                    format!("«{field}» contains control characters (such as NUL); the request was not processed."),
                ),
                vec![FieldError {
                    field: field.clone(),
                    code: FieldCode::ControlCharacters,
                    message: Message::new(
                        "contiene caracteres de control",
                        "it contains control characters",
                    ),
                }],
            ),
            ApiError::Unauthenticated => (
                ErrorCode::Unauthenticated,
                Message::new(
                    "Falta un token de acceso válido, o expiró o fue revocado.",
                    "A valid access token is missing, expired or revoked.",
                ),
                vec![],
            ),
            ApiError::InvalidGrant => (
                ErrorCode::InvalidGrant,
                Message::new(
                    "Usuario o contraseña incorrectos, o credencial vencida.",
                    "Wrong username or password, or an expired credential.",
                ),
                vec![],
            ),
            ApiError::Forbidden { detail } => (
                ErrorCode::Forbidden,
                detail.clone().unwrap_or_else(|| {
                    Message::new(
                        "Su rol no permite esta operación.",
                        "Your role does not allow this operation.",
                    )
                }),
                vec![],
            ),
            ApiError::NotFound => (
                ErrorCode::NotFound,
                Message::new(
                    "El recurso no existe o no está a su alcance.",
                    "The resource does not exist or is outside your scope.",
                ),
                vec![],
            ),
            ApiError::MethodNotAllowed => (
                ErrorCode::MethodNotAllowed,
                Message::new(
                    "El método HTTP no se admite en esta ruta.",
                    "The HTTP method is not supported on this route.",
                ),
                vec![],
            ),
            ApiError::Conflict { code, detail } => (*code, detail.clone(), vec![]),
            ApiError::Duplicate { .. } => (
                ErrorCode::DuplicateRefused,
                Message::new(
                    "La persona coincide con registros existentes y se pidió rechazar duplicados; revise los candidatos.",
                    "The person matches existing records and duplicates were to be refused; review the candidates.",
                ),
                vec![],
            ),
            ApiError::StaleVersion => (
                ErrorCode::StaleVersion,
                Message::new(
                    "El registro cambió desde que lo leyó; vuelva a leerlo y reintente con su versión actual.",
                    "The record changed since you read it; read it again and retry with its current version.",
                ),
                vec![],
            ),
            ApiError::PreconditionRequired => (
                ErrorCode::IfMatchRequired,
                Message::new(
                    "Las actualizaciones requieren el encabezado If-Match con la versión del registro.",
                    "Updates require an If-Match header with the record's version.",
                ),
                vec![],
            ),
            ApiError::PayloadTooLarge => (
                ErrorCode::PayloadTooLarge,
                Message::new(
                    "El cuerpo de la solicitud excede el tamaño permitido.",
                    "The request body exceeds the allowed size.",
                ),
                vec![],
            ),
            ApiError::UnsupportedMediaType => (
                ErrorCode::UnsupportedMediaType,
                Message::new(
                    "Tipo de contenido no admitido: envíe application/json.",
                    "Unsupported content type: send application/json.",
                ),
                vec![],
            ),
            ApiError::Validation(errors) => (
                ErrorCode::ValidationFailed,
                Message::new(
                    format!(
                        "El registro tiene {} error{}.",
                        errors.len(),
                        if errors.len() == 1 { "" } else { "es" }
                    ),
                    format!(
                        "The record has {} error{}.",
                        errors.len(),
                        if errors.len() == 1 { "" } else { "s" }
                    ),
                ),
                errors.clone(),
            ),
            ApiError::TooManyRequests { retry_after_secs } => (
                ErrorCode::TooManyRequests,
                Message::new(
                    format!("Demasiados intentos; espere {retry_after_secs} segundos."),
                    format!("Too many attempts; wait {retry_after_secs} seconds."),
                ),
                vec![],
            ),
            ApiError::Refused { code, detail, .. } => (*code, detail.clone(), vec![]),
            ApiError::Busy { code, detail, .. } => (*code, detail.clone(), vec![]),
            ApiError::ImportRejected { report } => {
                let n = report["errors"].as_array().map_or(0, Vec::len);
                (
                    ErrorCode::ImportRejected,
                    Message::new(
                        format!("El libro tiene {n} errores; no se guardó ninguna fila. Corrija y vuelva a subirlo."),
                        format!("The workbook has {n} errors; no row was saved. Fix them and upload it again."),
                    ),
                    vec![],
                )
            }
            ApiError::Unavailable => (
                ErrorCode::DatabaseUnavailable,
                Message::new(
                    "La base de datos no está disponible; intente más tarde.",
                    "The database is unavailable; try again later.",
                ),
                vec![],
            ),
            ApiError::Internal(_) => (
                ErrorCode::InternalError,
                Message::new(
                    "Ocurrió un error interno; se registró para su revisión.",
                    "An internal error occurred; it was logged for review.",
                ),
                vec![],
            ),
        };
        ProblemSource {
            status,
            code,
            title: title(status),
            detail,
            errors,
            candidates: match self {
                ApiError::Duplicate { candidates } => Some(candidates.clone()),
                _ => None,
            },
            report: match self {
                ApiError::ImportRejected { report } => Some(report.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Malformed { .. }
            | ApiError::ControlCharacters { .. }
            | ApiError::InvalidGrant => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } | ApiError::Duplicate { .. } => StatusCode::CONFLICT,
            ApiError::StaleVersion => StatusCode::PRECONDITION_FAILED,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::ImportRejected { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::TooManyRequests { .. } | ApiError::Busy { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Refused { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY)
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        let source = self.source();
        let mut builder = HttpResponse::build(source.status);
        builder.content_type(PROBLEM_JSON);
        match self {
            ApiError::Unauthenticated => {
                builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Busy {
                retry_after_secs, ..
            } => {
                builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable => {
                builder.insert_header((header::RETRY_AFTER, RETRY_UNAVAILABLE_SECS.to_string()));
            }
            _ => {}
        }
        let mut response = builder.json(source.render(Lang::Es, None));
        response.extensions_mut().insert(source);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::StaleVersion => ApiError::StaleVersion,
            StoreError::Conflict { constraint } => ApiError::Conflict {
                code: ErrorCode::Conflict,
                detail: Message::new(
                    format!("Ya existe un registro con esos datos únicos ({constraint})."),
                    format!("A record with those unique values already exists ({constraint})."),
                ),
            },
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                ApiError::Unavailable
            }
            StoreError::Database(e) => {
                // Diesel's message names the query's failure, never bound
                // values. Whatever it is, the client's request did not get
                // through and may be retried (with its Idempotency-Key):
                // 503, never a 500 that reads as "your request broke us".
                tracing::error!(error = %e, "database error");
                ApiError::Unavailable
            }
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> ApiError {
        StoreError::from(e).into()
    }
}

impl From<sintra_services::error::ServiceError> for ApiError {
    fn from(e: sintra_services::error::ServiceError) -> ApiError {
        use sintra_services::error::ServiceError as S;
        match e {
            S::NotFound => ApiError::NotFound,
            S::Forbidden { detail } => ApiError::Forbidden { detail },
            S::StaleVersion => ApiError::StaleVersion,
            S::Malformed { code, detail } => ApiError::Malformed { code, detail },
            S::Validation(errors) => ApiError::Validation(errors),
            S::Conflict { code, detail } => ApiError::Conflict { code, detail },
            S::Duplicate { candidates } => ApiError::Duplicate { candidates },
            S::ImportRejected { report } => ApiError::ImportRejected { report },
            S::PayloadTooLarge => ApiError::PayloadTooLarge,
            S::Refused {
                status,
                code,
                detail,
            } => ApiError::Refused {
                status,
                code,
                detail,
            },
            S::Busy {
                code,
                detail,
                retry_after_secs,
            } => ApiError::Busy {
                code,
                detail,
                retry_after_secs,
            },
            S::Store(e) => e.into(),
            S::Internal(cause) => ApiError::Internal(cause),
        }
    }
}
