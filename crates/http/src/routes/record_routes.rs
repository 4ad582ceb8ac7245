//! The five routes of a record resource, generated per form: each handler
//! is a thin, documented wrapper around [`crate::records`], so that every
//! route reaches the OpenAPI spec with its own path and tag.

/// `record_routes!(module, FormKey::X, "tag", "/things", "Thing")` defines
/// `module::{list, create, read, update, upsert}` for `/things`,
/// `/things/{id}` and `/things/by-folio/{external_folio}`.
#[macro_export]
macro_rules! record_routes {
    ($module:ident, $form:expr, $tag:literal, $path:literal, $item:literal, $folio:literal, $what:literal) => {
        pub mod $module {
            use std::collections::HashMap;

            use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
            use serde_json::{Map, Value};
            use uuid::Uuid;

            use $crate::auth::Authenticated;
            use $crate::error::{ApiResult, Problem};
            use sintra_services::records::{self as service, CreateOptions, ListPage};

            use $crate::pagination::if_match;
            use $crate::records::{expected, idempotency_key, listed, rejects_duplicates, shown, take_page, written, written_at};
            use $crate::state::AppState;

            #[doc = concat!("List ", $what, " in the caller's scope, in creation order, filtered by any non-personal field of the form (`<field>=value`, dates by `<field>_from`/`<field>_to`), `entity_code` and `institution_id`; paged by `limit` and `cursor`.")]
            #[utoipa::path(
                operation_id = $crate::openapi::operation_id($path, $crate::openapi::Action::List),
                tag = $tag,
                security(("bearer" = [])),
                params(
                    ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
                    ("cursor" = Option<String>, Query, description = "next_cursor of the previous page")
                ),
                responses(
                    (status = 200, description = "A page of records: {items, next_cursor}", body = Object),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json"),
                    (status = 422, description = "Unknown filter", body = Problem, content_type = "application/problem+json")
                )
            )]
            #[get($path)]
            pub async fn list(
                state: web::Data<AppState>,
                auth: Authenticated,
                query: web::Query<HashMap<String, String>>,
            ) -> ApiResult<HttpResponse> {
                let mut query = query.into_inner();
                let (limit, after) = take_page(&mut query)?;
                let page = ListPage { limit, after, parent: None };
                Ok(listed(service::list(&state.pool, &auth, $form, query, page).await?))
            }

            #[doc = concat!("Register ", $what, ". The body follows the form spec (`GET /api/v1/forms/{form}`); a parent may be named by id or by its folio. State systems send `Idempotency-Key` (or write by folio with `PUT …/by-folio/{external_folio}`): an answer can be lost after the commit went through (a 503 or a cut connection), and a retry with the same key replays the first answer instead of creating a second record.")]
            #[utoipa::path(
                operation_id = $crate::openapi::operation_id($path, $crate::openapi::Action::Create),
                tag = $tag,
                security(("bearer" = [])),
                params(("Idempotency-Key" = Option<String>, Header, description = "Same key and body: the first answer is replayed. State systems send one on every create: a 503 or a lost answer does not say whether the commit went through, and only a retry with the same key is safe")),
                request_body(content = Object, description = "The form's fields"),
                responses(
                    (status = 201, description = "The created record", body = Object),
                    (status = 403, body = Problem, content_type = "application/problem+json"),
                    (status = 409, description = "Folio taken, or Idempotency-Key reused with another body", body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json"),
                    (status = 503, description = "The database is unavailable; retry after `Retry-After` seconds with the same Idempotency-Key", body = Problem, content_type = "application/problem+json")
                )
            )]
            #[post($path)]
            pub async fn create(
                state: web::Data<AppState>,
                auth: Authenticated,
                req: HttpRequest,
                body: web::Json<Map<String, Value>>,
            ) -> ApiResult<HttpResponse> {
                let options = CreateOptions {
                    parent: None,
                    idempotency_key: idempotency_key(&req),
                    reject_duplicates: rejects_duplicates(&req),
                };
                Ok(written_at(service::create(&state.pool, &auth, $form, body.into_inner(), options).await?, $path))
            }

            #[doc = concat!("One of ", $what, ", if it lies in the caller's scope (404 otherwise, as if missing). The ETag is its version.")]
            #[utoipa::path(
                operation_id = $crate::openapi::operation_id($path, $crate::openapi::Action::Read),
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = Uuid, Path)),
                responses(
                    (status = 200, description = "The record", body = Object),
                    (status = 404, body = Problem, content_type = "application/problem+json")
                )
            )]
            #[get($item)]
            pub async fn read(
                state: web::Data<AppState>,
                auth: Authenticated,
                id: web::Path<Uuid>,
            ) -> ApiResult<HttpResponse> {
                Ok(shown(service::read(&state.pool, &auth, $form, id.into_inner()).await?))
            }

            #[doc = concat!("Change fields of one of ", $what, ". Requires `If-Match` with the current version (412 when stale); the record as it would stand is validated whole.")]
            #[utoipa::path(
                operation_id = $crate::openapi::operation_id($path, $crate::openapi::Action::Update),
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = Uuid, Path), ("If-Match" = String, Header, description = "The record's current version")),
                request_body(content = Object, description = "The fields to change"),
                responses(
                    (status = 200, description = "The updated record", body = Object),
                    (status = 404, body = Problem, content_type = "application/problem+json"),
                    (status = 412, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json"),
                    (status = 428, body = Problem, content_type = "application/problem+json")
                )
            )]
            #[patch($item)]
            pub async fn update(
                state: web::Data<AppState>,
                auth: Authenticated,
                req: HttpRequest,
                id: web::Path<Uuid>,
                body: web::Json<Map<String, Value>>,
            ) -> ApiResult<HttpResponse> {
                let version = if_match(&req)?;
                let reject = rejects_duplicates(&req);
                Ok(written(service::update(&state.pool, &auth, $form, id.into_inner(), version, body.into_inner(), reject).await?))
            }

            #[doc = concat!("Create or replace one of ", $what, " by the caller's institution's own folio (for state systems): 201 when created, 200 when replaced.")]
            #[utoipa::path(
                operation_id = $crate::openapi::operation_id($path, $crate::openapi::Action::Upsert),
                tag = $tag,
                security(("bearer" = [])),
                params(("external_folio" = String, Path)),
                request_body(content = Object, description = "The form's fields"),
                responses(
                    (status = 200, description = "Replaced", body = Object),
                    (status = 201, description = "Created", body = Object),
                    (status = 412, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json")
                )
            )]
            #[put($folio)]
            pub async fn upsert(
                state: web::Data<AppState>,
                auth: Authenticated,
                req: HttpRequest,
                folio: web::Path<String>,
                body: web::Json<Map<String, Value>>,
            ) -> ApiResult<HttpResponse> {
                let (expected, reject) = (expected(&req), rejects_duplicates(&req));
                Ok(written_at(service::upsert_by_folio(&state.pool, &auth, $form, folio.into_inner(), body.into_inner(), expected, reject).await?, $path))
            }
        }
    };
}

/// `child_routes!(module, Parent, Child, "tag", "/parents/{id}/children", "list doc", "create doc")`
/// defines `module::{list, create}` for records that only exist under a
/// parent (an agreement's follow-ups, a case's procedural events): the
/// parent must lie in the caller's scope (404 otherwise).
#[macro_export]
macro_rules! child_routes {
    ($module:ident, $parent:expr, $child:expr, $tag:literal, $path:literal, $list_doc:literal, $create_doc:literal) => {
        pub mod $module {
            use std::collections::HashMap;

            use actix_web::{get, post, web, HttpRequest, HttpResponse};
            use serde_json::{Map, Value};
            use uuid::Uuid;

            use $crate::auth::Authenticated;
            use $crate::error::{ApiResult, Problem};
            use sintra_services::records::{self as service, CreateOptions, ListPage};

            use $crate::records::{idempotency_key, listed, rejects_duplicates, take_page, written};
            use $crate::state::AppState;

            #[doc = $list_doc]
            #[utoipa::path(
                operation_id = $crate::openapi::operation_id($path, $crate::openapi::Action::List),
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = Uuid, Path), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
                responses(
                    (status = 200, description = "A page of records: {items, next_cursor}", body = Object),
                    (status = 404, body = Problem, content_type = "application/problem+json")
                )
            )]
            #[get($path)]
            pub async fn list(
                state: web::Data<AppState>,
                auth: Authenticated,
                id: web::Path<Uuid>,
                query: web::Query<HashMap<String, String>>,
            ) -> ApiResult<HttpResponse> {
                let parent = service::parent_in_scope(&state.pool, &auth, $parent, id.into_inner()).await?;
                let mut query = query.into_inner();
                let (limit, after) = take_page(&mut query)?;
                let page = ListPage { limit, after, parent: Some(parent.id) };
                Ok(listed(service::list(&state.pool, &auth, $child, query, page).await?))
            }

            #[doc = $create_doc]
            #[utoipa::path(
                operation_id = $crate::openapi::operation_id($path, $crate::openapi::Action::Create),
                tag = $tag,
                security(("bearer" = [])),
                params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header)),
                request_body(content = Object, description = "The form's fields (the parent comes from the path)"),
                responses(
                    (status = 201, description = "The created record", body = Object),
                    (status = 404, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json")
                )
            )]
            #[post($path)]
            pub async fn create(
                state: web::Data<AppState>,
                auth: Authenticated,
                req: HttpRequest,
                id: web::Path<Uuid>,
                body: web::Json<Map<String, Value>>,
            ) -> ApiResult<HttpResponse> {
                let parent = service::parent_in_scope(&state.pool, &auth, $parent, id.into_inner()).await?;
                let options = CreateOptions {
                    parent: Some(parent.id),
                    idempotency_key: idempotency_key(&req),
                    reject_duplicates: rejects_duplicates(&req),
                };
                Ok(written(service::create(&state.pool, &auth, $child, body.into_inner(), options).await?))
            }
        }
    };
}
