//! The OpenAPI document: the routes register themselves through
//! utoipa-actix-web; this adds the metadata and the bearer scheme, and
//! [`finish`] turns the result into the published contract.

pub mod finish;
pub mod resources;
pub mod schemas;

pub use resources::{Action, RecordResource, CHILD_RESOURCES, RECORD_RESOURCES};

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "SINTRA API",
        description = "Sistema Nacional de Información de Víctimas de Trata de Personas — API de la fase dos.\n\n\
            Errors are RFC 9457 problem documents (`application/problem+json`) in Spanish, or English with \
            `Accept-Language: en`. Records outside the caller's scope answer 404 exactly like missing ones.\n\n\
            Any database failure answers 503 `database_unavailable` with `Retry-After`. A write may have \
            committed before its answer was lost, so state systems send an `Idempotency-Key` on every create \
            (or write by folio with `PUT …/by-folio/{external_folio}`) and retry with the same key: the \
            first answer is replayed, never a second record.",
        version = "1.0.0"
    ),
    modifiers(&BearerScheme, &FormSchemas),
    components(schemas(crate::error::Problem, crate::error::ProblemField)),
    tags(
        (name = "operations", description = "Health and metrics"),
        (name = "auth", description = "Tokens and sessions"),
        (name = "organization", description = "Entities and institutions"),
        (name = "users", description = "User and service-account administration"),
        (name = "catalogs", description = "Catalogs and their administration"),
        (name = "forms", description = "The published form specs"),
        (name = "commissions", description = "Commissions, sessions, agreements and follow-ups"),
        (name = "victims", description = "Victims, attentions and duplicate warnings"),
        (name = "excel", description = "Templates, imports and exports"),
        (name = "judicialization", description = "Investigations, criminal cases and their events, defendants, sentences, and SESNSP-comparable counts"),
        (name = "audit", description = "The audit log (bitácora)"),
        (name = "periods", description = "Quarterly periods per entity: submit, close, reopen; records dated in a closed quarter are locked"),
        (name = "dashboards", description = "Dashboards (tableros de control) and the SESNSP and GLOTIP breakdowns, as JSON, .xlsx or CSV"),
        (name = "sync", description = "The changes feed: what changed in the caller's scope since a cursor")
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The JSON Schema of every form's body, generated from its form spec and
/// published as `<form>_input` (e.g. `victim_input`): frontends validate
/// against exactly what the server validates.
struct FormSchemas;

/// The component name of a form's input schema.
pub fn form_schema_name(form: sintra_domain::forms::FormKey) -> String {
    format!("{}_input", form.as_str())
}

impl Modify for FormSchemas {
    // Each form spec's JSON schema is checked against its form by the
    // domain's spec tests, and the `openapi` test builds this on every run.
    #[allow(clippy::expect_used)]
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for spec in sintra_domain::forms::all_specs() {
            let schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> =
                serde_json::from_value(spec.json_schema())
                    .expect("form specs produce schemas OpenAPI can hold");
            components
                .schemas
                .insert(form_schema_name(spec.key), schema);
        }
    }
}
