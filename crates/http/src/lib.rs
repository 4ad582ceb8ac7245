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
use actix_web::dev::HttpServiceFactory;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpResponse};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::{scope, AppExt, OpenApiFactory, UtoipaApp};
use utoipa_swagger_ui::SwaggerUi;

pub use state::AppState;

use policy::{Route, RouteRule};

pub use sintra_services::clock::today;

/// The prefix of the API's routes.
const API: &str = "/api/v1";
/// Routes served outside the spec (all public): the metrics, the spec
/// itself, the docs UI and its bare path.
const METRICS_PATH: &str = "/metrics";
const SPEC_PATH: &str = "/api/v1/openapi.json";
const DOCS_PATH: &str = "/docs/{_:.*}";
const DOCS_ROOT: &str = "/docs";

/// Writes down the rule of a handler's routes (its method and path as its
/// `#[utoipa::path]` names them) in `table`, and hands the handler back to
/// be registered.
fn ruled<F: OpenApiFactory>(
    table: &mut Vec<Route>,
    prefix: &str,
    rule: RouteRule,
    handler: F,
) -> F {
    for (path, item) in handler.paths().paths {
        let operations = [
            (Method::GET, item.get.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::DELETE, item.delete.is_some()),
            (Method::OPTIONS, item.options.is_some()),
            (Method::HEAD, item.head.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::TRACE, item.trace.is_some()),
        ];
        for (method, served) in operations {
            if served {
                table.push(Route {
                    method,
                    pattern: format!("{prefix}{path}"),
                    rule,
                });
            }
        }
    }
    handler
}

/// The `/api/v1` scope being registered, with the table its rules go to.
struct Api<'a, T> {
    scope: utoipa_actix_web::scope::Scope<T>,
    table: &'a mut Vec<Route>,
}

impl<T> Api<'_, T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    /// Registers `handler` under the rule the guard applies to its routes.
    fn add<F>(self, rule: RouteRule, handler: F) -> Self
    where
        F: HttpServiceFactory + OpenApiFactory + 'static,
    {
        let handler = ruled(self.table, API, rule, handler);
        Api {
            scope: self.scope.service(handler),
            table: self.table,
        }
    }
}

/// Registers every route with the rule the guard applies to it, the one
/// place either is written: shared by the server, by [`openapi`] and by
/// [`route_table`], so the spec and the guard's table both come from
/// exactly what is served. Deny by default: a route is only reachable
/// through a rule.
fn routes<T>(app: UtoipaApp<T>, table: &mut Vec<Route>) -> UtoipaApp<T>
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    use routes::*;
    use sintra_domain::access::Permission::*;
    use RouteRule::*;
    let app = app
        .service(ruled(table, "", Public, health::live))
        .service(ruled(table, "", Public, health::ready));
    let api = Api {
        scope: scope::scope(API),
        table,
    };
    app.service(
        api.add(Public, auth::token)
            .add(Requires(ReadOwnAccount), auth::logout)
            .add(Requires(ReadOwnAccount), auth::change_password)
            .add(Requires(ReadOwnAccount), auth::me)
            .add(Requires(ReadCatalogs), org::list_entities)
            .add(Requires(ReadCatalogs), catalogs::list_catalogs)
            .add(Requires(ReadCatalogs), catalogs::list_items)
            .add(Requires(ManageCatalogs), catalogs::create_item)
            .add(Requires(ReadCatalogs), catalogs::get_item)
            .add(Requires(ManageCatalogs), catalogs::update_item)
            .add(Requires(ReadForms), forms::list_forms)
            .add(Requires(ReadForms), forms::get_form)
            .add(Requires(ManageLabels), forms::list_labels)
            .add(Requires(ManageLabels), forms::set_label)
            .add(Requires(ManageLabels), forms::reset_label)
            .add(Requires(ReadRecords), commissions::list_commissions)
            .add(Requires(WriteRecords), commissions::create_commission)
            .add(Requires(ReadRecords), commissions::read_commission)
            .add(Requires(WriteRecords), commissions::update_commission)
            .add(Requires(WriteRecords), commissions::upsert_commission)
            .add(Requires(ReadRecords), commissions::list_sessions)
            .add(Requires(WriteRecords), commissions::create_session)
            .add(Requires(ReadRecords), commissions::read_session)
            .add(Requires(WriteRecords), commissions::update_session)
            .add(Requires(WriteRecords), commissions::upsert_session)
            .add(Requires(ReadRecords), commissions::list_agreements)
            .add(Requires(WriteRecords), commissions::create_agreement)
            .add(Requires(ReadRecords), commissions::read_agreement)
            .add(Requires(WriteRecords), commissions::update_agreement)
            .add(Requires(WriteRecords), commissions::upsert_agreement)
            .add(Requires(ReadRecords), commissions::list_follow_ups)
            .add(Requires(WriteRecords), commissions::create_follow_up)
            .add(Requires(ImportExcel), excel::templates::get_template)
            // The jobs' `{id}` (a UUID, by regex) before `{form}`: actix
            // names a request's route by its path alone, first match first.
            .add(Requires(ImportExcel), excel::imports::list_imports)
            .add(Requires(ImportExcel), excel::imports::read_import)
            .add(Requires(ImportExcel), excel::imports::cancel_import)
            .add(Requires(ImportExcel), excel::imports::commit_import)
            .add(Requires(ImportExcel), excel::imports::import)
            .add(Requires(ImportExcel), excel::imports::annotated)
            .add(Requires(ExportExcel), excel::exports::export_all)
            .add(Requires(ExportExcel), excel::exports::export_form)
            // victims: routes of the victim-attention module
            .add(Requires(WriteRecords), victims::duplicate_check)
            .add(Requires(ReadRecords), victims::list_victims)
            .add(Requires(WriteRecords), victims::create_victim)
            .add(Requires(ReadRecords), victims::read_victim)
            .add(Requires(WriteRecords), victims::update_victim)
            .add(Requires(WriteRecords), victims::upsert_victim)
            // After the upsert: a folio "person" still reaches it.
            .add(Requires(ReadRecords), victims::read_person)
            .add(Requires(ReadRecords), victims::list_attentions)
            .add(Requires(WriteRecords), victims::create_attention)
            .add(Requires(ReadRecords), victims::read_attention)
            .add(Requires(WriteRecords), victims::update_attention)
            .add(Requires(WriteRecords), victims::upsert_attention)
            .add(Requires(ReadRecords), victims::list_pairs)
            .add(Requires(WriteRecords), victims::dismiss_pair)
            .add(Requires(WriteRecords), victims::confirm_pair)
            .add(Requires(WriteRecords), victims::undo_pair)
            // judicialization: routes of the judicialization module
            .add(Requires(ReadRecords), judicialization::list_investigations)
            .add(
                Requires(WriteRecords),
                judicialization::create_investigation,
            )
            .add(Requires(ReadRecords), judicialization::read_investigation)
            .add(
                Requires(WriteRecords),
                judicialization::update_investigation,
            )
            .add(
                Requires(WriteRecords),
                judicialization::upsert_investigation,
            )
            .add(Requires(ReadRecords), judicialization::list_criminal_cases)
            .add(
                Requires(WriteRecords),
                judicialization::create_criminal_case,
            )
            .add(Requires(ReadRecords), judicialization::read_criminal_case)
            .add(
                Requires(WriteRecords),
                judicialization::update_criminal_case,
            )
            .add(
                Requires(WriteRecords),
                judicialization::upsert_criminal_case,
            )
            .add(Requires(ReadRecords), judicialization::list_events)
            .add(Requires(WriteRecords), judicialization::create_event)
            .add(Requires(ReadRecords), judicialization::list_defendants)
            .add(Requires(WriteRecords), judicialization::create_defendant)
            .add(Requires(ReadRecords), judicialization::read_defendant)
            .add(Requires(WriteRecords), judicialization::update_defendant)
            .add(Requires(WriteRecords), judicialization::upsert_defendant)
            .add(Requires(ReadRecords), judicialization::list_sentences)
            .add(Requires(WriteRecords), judicialization::create_sentence)
            .add(Requires(ReadRecords), judicialization::read_sentence)
            .add(Requires(WriteRecords), judicialization::update_sentence)
            .add(Requires(WriteRecords), judicialization::upsert_sentence)
            .add(Requires(ReadAggregates), judicialization::counts)
            .add(Requires(ReadAggregates), dashboards::list_dashboards)
            .add(Requires(ReadAggregates), dashboards::get_dashboard)
            .add(Requires(ReadInstitutions), org::list_institutions)
            .add(Requires(ManageInstitutions), org::create_institution)
            .add(Requires(ReadInstitutions), org::get_institution)
            .add(Requires(ManageInstitutions), org::update_institution)
            .add(Requires(ReadUsers), users::list_users)
            .add(Requires(ManageUsers), users::create_user)
            .add(Requires(ReadUsers), users::get_user)
            .add(Requires(ManageUsers), users::update_user)
            .add(Requires(ManageUsers), users::deactivate_user)
            .add(Requires(ManageUsers), users::reactivate_user)
            .add(Requires(ManageUsers), users::reset_password)
            .add(
                Requires(ManageServiceAccounts),
                users::list_service_accounts,
            )
            .add(
                Requires(ManageServiceAccounts),
                users::create_service_account,
            )
            .add(Requires(ManageServiceAccounts), users::rotate_secret)
            .add(Requires(ReadAudit), audit::list_events)
            .add(Requires(ReadAudit), audit::verify)
            .add(Requires(ReadAudit), audit::signed_checkpoint)
            // periods: quarterly periods and their locking
            .add(Requires(ReadPeriods), periods::list)
            .add(Requires(ManagePeriods), periods::submit)
            .add(Requires(ManagePeriods), periods::close)
            .add(Requires(ManagePeriods), periods::reopen)
            .add(Requires(ManagePeriods), periods::close_all)
            .add(Requires(ManageCuts), cuts::take)
            .add(Requires(ReadCuts), cuts::list)
            // Before `/cuts/{id}`, whose `{id}` would take `….xlsx` too.
            .add(Requires(ReadCuts), cuts::workbook)
            .add(Requires(ReadCuts), cuts::read)
            .add(Requires(ReadCuts), cuts::diff)
            // sync: the changes feed
            .add(Requires(ReadRecords), changes::list)
            .scope,
    )
}

/// The guard's table ([`policy::ROUTES`]): the public routes served outside
/// the spec, then every route [`routes`] registers, with its rule.
pub(crate) fn route_table() -> Vec<Route> {
    let mut table: Vec<Route> = [METRICS_PATH, SPEC_PATH, DOCS_PATH, DOCS_ROOT]
        .into_iter()
        .map(|pattern| Route {
            method: Method::GET,
            pattern: pattern.to_string(),
            rule: RouteRule::Public,
        })
        .collect();
    let _ = routes(App::new().into_utoipa_app(), &mut table);
    table
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
        &mut Vec::new(),
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
        .endpoint(METRICS_PATH)
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
            .route(SPEC_PATH, web::get().to(serve_spec))
            .app_data(web::Data::new(state))
            .app_data(extractors::json_config(body_limit))
            .app_data(web::PayloadConfig::new(body_limit))
            .app_data(extractors::query_config())
            .app_data(extractors::path_config()),
        &mut Vec::new(),
    )
    .split_for_parts();
    let docs = SwaggerUi::new(DOCS_PATH)
        // "none": Swagger UI would otherwise send the spec to an outside
        // validator (and the CSP would block it).
        .config(utoipa_swagger_ui::Config::from(SPEC_PATH).validator_url("none"));
    app.route(
        DOCS_ROOT,
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
