//! SINTRA's HTTP API: the actix-web application, authentication, handlers
//! and the OpenAPI document. `main.rs` is the `sintra` binary around it.

pub mod auth;
pub mod bootstrap;
pub mod boundary;
pub mod config;
pub mod cors;
pub mod demo;
pub mod error;
pub mod extractors;
pub mod headers;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod policy;
pub mod proxies;
pub mod records;
pub mod routes;
pub mod state;
pub mod telemetry;

/// The allocator the server runs with (set by the `sintra` binary and the
/// benchmarks): an import or an export allocates millions of small values,
/// and mimalloc frees them across threads at a fraction of glibc's cost
/// (an import of 100,000 rows spent a fifth of its time in glibc's malloc).
pub use mimalloc::MiMalloc as Allocator;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpResponse};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::{scope, AppExt, UtoipaApp};
use utoipa_swagger_ui::SwaggerUi;

pub use state::AppState;

pub use sintra_services::clock::today;

/// Registers every route; shared by the server and by [`openapi`], so the
/// spec is generated from exactly what is served.
fn routes<T>(app: UtoipaApp<T>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    use routes::*;
    app.service(health::live).service(health::ready).service(
        scope::scope("/api/v1")
            .service(auth::token)
            .service(auth::logout)
            .service(auth::change_password)
            .service(auth::me)
            .service(org::list_entities)
            .service(catalogs::list_catalogs)
            .service(catalogs::list_items)
            .service(catalogs::create_item)
            .service(catalogs::get_item)
            .service(catalogs::update_item)
            .service(forms::list_forms)
            .service(forms::get_form)
            .service(forms::list_labels)
            .service(forms::set_label)
            .service(forms::reset_label)
            .service(commissions::commissions::list)
            .service(commissions::commissions::create)
            .service(commissions::commissions::read)
            .service(commissions::commissions::update)
            .service(commissions::commissions::upsert)
            .service(commissions::sessions::list)
            .service(commissions::sessions::create)
            .service(commissions::sessions::read)
            .service(commissions::sessions::update)
            .service(commissions::sessions::upsert)
            .service(commissions::agreements::list)
            .service(commissions::agreements::create)
            .service(commissions::agreements::read)
            .service(commissions::agreements::update)
            .service(commissions::agreements::upsert)
            .service(commissions::follow_ups::list)
            .service(commissions::follow_ups::create)
            .service(excel::templates::get_template)
            // The jobs' `{id}` (a UUID, by regex) before `{form}`: actix
            // names a request's route by its path alone, first match first.
            .service(excel::imports::list_imports)
            .service(excel::imports::read_import)
            .service(excel::imports::cancel_import)
            .service(excel::imports::commit_import)
            .service(excel::imports::import)
            .service(excel::imports::annotated)
            .service(excel::exports::export_all)
            .service(excel::exports::export_form)
            // victims: routes of the victim-attention module
            .service(victims::duplicate_check)
            .service(victims::victims::list)
            .service(victims::victims::create)
            .service(victims::victims::read)
            .service(victims::victims::update)
            .service(victims::victims::upsert)
            // After the upsert: a folio "person" still reaches it.
            .service(victims::read_person)
            .service(victims::attentions::list)
            .service(victims::attentions::create)
            .service(victims::attentions::read)
            .service(victims::attentions::update)
            .service(victims::attentions::upsert)
            .service(victims::list_pairs)
            .service(victims::dismiss_pair)
            .service(victims::confirm_pair)
            .service(victims::undo_pair)
            // judicialization: routes of the judicialization module
            .service(judicialization::investigations::list)
            .service(judicialization::investigations::create)
            .service(judicialization::investigations::read)
            .service(judicialization::investigations::update)
            .service(judicialization::investigations::upsert)
            .service(judicialization::criminal_cases::list)
            .service(judicialization::criminal_cases::create)
            .service(judicialization::criminal_cases::read)
            .service(judicialization::criminal_cases::update)
            .service(judicialization::criminal_cases::upsert)
            .service(judicialization::events::list)
            .service(judicialization::events::create)
            .service(judicialization::defendants::list)
            .service(judicialization::defendants::create)
            .service(judicialization::defendants::read)
            .service(judicialization::defendants::update)
            .service(judicialization::defendants::upsert)
            .service(judicialization::sentences::list)
            .service(judicialization::sentences::create)
            .service(judicialization::sentences::read)
            .service(judicialization::sentences::update)
            .service(judicialization::sentences::upsert)
            .service(judicialization::counts)
            .service(dashboards::list_dashboards)
            .service(dashboards::get_dashboard)
            .service(org::list_institutions)
            .service(org::create_institution)
            .service(org::get_institution)
            .service(org::update_institution)
            .service(users::list_users)
            .service(users::create_user)
            .service(users::get_user)
            .service(users::update_user)
            .service(users::deactivate_user)
            .service(users::reactivate_user)
            .service(users::reset_password)
            .service(users::list_service_accounts)
            .service(users::create_service_account)
            .service(users::rotate_secret)
            .service(audit::list_events)
            .service(audit::verify)
            .service(audit::signed_checkpoint)
            // periods: quarterly periods and their locking
            .service(periods::list)
            .service(periods::submit)
            .service(periods::close)
            .service(periods::reopen)
            .service(periods::close_all)
            .service(cuts::take)
            .service(cuts::list)
            // Before `/cuts/{id}`, whose `{id}` would take `….xlsx` too.
            .service(cuts::workbook)
            .service(cuts::read)
            .service(cuts::diff)
            // sync: the changes feed
            .service(changes::list),
    )
}

/// Starts the server's import workers (`SINTRA_IMPORT_WORKERS`), which
/// run the import jobs of every instance from the database: called by the
/// `sintra` binary and by the test harness, on their Tokio runtime.
pub fn spawn_workers(state: &AppState) -> Vec<tokio::task::JoinHandle<()>> {
    sintra_services::imports::jobs::spawn_workers(state.imports.clone(), state.pool.clone())
}

/// The OpenAPI document of the API, as `sintra openapi` prints it: what
/// utoipa generates from the routes, finished by [`openapi::finish`].
// utoipa's document is plain data (string keys only), so it always becomes
// a JSON value; the `openapi` test generates it on every run.
#[allow(clippy::expect_used)]
pub fn openapi() -> serde_json::Value {
    let generated = routes(
        App::new()
            .into_utoipa_app()
            .openapi(openapi::ApiDoc::openapi()),
    )
    .split_for_parts()
    .1;
    openapi::finish::finish(
        serde_json::to_value(generated).expect("the generated document is JSON"),
    )
}

async fn serve_spec(spec: web::Data<serde_json::Value>) -> HttpResponse {
    HttpResponse::Ok().json(spec.get_ref())
}

/// Request counts and latencies per route pattern and status, served at
/// `/metrics`. Build it once per process and share it between workers.
// Building fails only when a metric's name is registered twice in the
// builder's own fresh registry, which these constant names never are.
#[allow(clippy::expect_used)]
pub fn metrics() -> PrometheusMetrics {
    PrometheusMetricsBuilder::new("sintra")
        .endpoint("/metrics")
        .mask_unmatched_patterns("UNMATCHED")
        .build()
        .expect("metrics registry builds")
}

/// The whole application, for the server and for in-process tests.
pub fn build_app(
    state: AppState,
    metrics: PrometheusMetrics,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let body_limit = state.config.max_body_bytes;
    // CORS only for configured origins: without any, no layer at all.
    let origins = &state.config.cors_origins;
    let cors_layer = Condition::new(!origins.is_empty(), cors::layer(origins));
    // The spec is served before the `/api/v1` scope is registered: a scope
    // answers every path under its prefix, so it would shadow it.
    let spec = web::Data::new(openapi());
    let (app, _) = routes(
        App::new()
            .into_utoipa_app()
            .openapi(openapi::ApiDoc::openapi())
            .app_data(spec)
            .route("/api/v1/openapi.json", web::get().to(serve_spec))
            .app_data(web::Data::new(state))
            .app_data(extractors::json_config(body_limit))
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(extractors::query_config())
            .app_data(extractors::path_config()),
    )
    .split_for_parts();
    let docs = SwaggerUi::new("/docs/{_:.*}")
        // "none": Swagger UI would otherwise send the spec to an outside
        // validator (and the CSP would block it).
        .config(utoipa_swagger_ui::Config::from("/api/v1/openapi.json").validator_url("none"));
    app.route(
        "/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header(("Location", "/docs/"))
                .finish()
        }),
    )
    .service(docs)
    .default_service(web::to(middleware::not_found))
    .wrap(from_fn(middleware::guard))
    // Before authentication: a token lookup is a query too.
    .wrap(from_fn(boundary::refuse_control_characters))
    .wrap(from_fn(middleware::audit_denials))
    // Preflights are answered here, before the denials' audit, the input
    // checks and the guard (they carry no token); a refused one becomes a
    // problem document below.
    .wrap(cors_layer)
    .wrap(from_fn(cors::only_for_allowed_origins))
    .wrap(from_fn(middleware::problems))
    .wrap(metrics)
    .wrap(from_fn(headers::security_headers))
    .wrap(from_fn(middleware::request_meta))
    .wrap(TracingLogger::<telemetry::RootSpan>::new())
}
