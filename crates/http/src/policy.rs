//! Which permission each route needs. Deny by default: a route that is
//! served but not listed here answers 403 to everyone, so a new handler
//! cannot be reachable before someone writes down who may call it. The
//! roles behind each permission are decided in
//! [`sintra_domain::access::Role::allows`].

use actix_web::http::Method;
use sintra_domain::access::Permission;
use sintra_domain::forms::FormKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteRule {
    /// No token needed (health, metrics, docs, the token endpoint).
    Public,
    /// A valid token whose role has this permission.
    Requires(Permission),
}

use Permission::*;
use RouteRule::*;

/// (method, actix match pattern, rule). `*` matches any method.
pub const ROUTES: &[(&str, &str, RouteRule)] = &[
    ("GET", "/health/live", Public),
    ("GET", "/health/ready", Public),
    ("GET", "/metrics", Public),
    ("GET", "/api/v1/openapi.json", Public),
    ("GET", "/docs/{_:.*}", Public),
    ("GET", "/docs", Public),
    ("POST", "/api/v1/auth/token", Public),
    ("POST", "/api/v1/auth/logout", Requires(ReadOwnAccount)),
    ("POST", "/api/v1/auth/password", Requires(ReadOwnAccount)),
    ("GET", "/api/v1/auth/me", Requires(ReadOwnAccount)),
    ("GET", "/api/v1/entities", Requires(ReadCatalogs)),
    ("GET", "/api/v1/catalogs", Requires(ReadCatalogs)),
    (
        "GET",
        "/api/v1/catalogs/{catalog}/items",
        Requires(ReadCatalogs),
    ),
    (
        "POST",
        "/api/v1/catalogs/{catalog}/items",
        Requires(ManageCatalogs),
    ),
    (
        "GET",
        "/api/v1/catalogs/{catalog}/items/{code}",
        Requires(ReadCatalogs),
    ),
    (
        "PATCH",
        "/api/v1/catalogs/{catalog}/items/{code}",
        Requires(ManageCatalogs),
    ),
    ("GET", "/api/v1/forms", Requires(ReadForms)),
    ("GET", "/api/v1/forms/{form}", Requires(ReadForms)),
    ("GET", "/api/v1/forms/{form}/labels", Requires(ManageLabels)),
    (
        "PUT",
        "/api/v1/forms/{form}/fields/{field}/label",
        Requires(ManageLabels),
    ),
    (
        "DELETE",
        "/api/v1/forms/{form}/fields/{field}/label",
        Requires(ManageLabels),
    ),
    ("GET", "/api/v1/commissions", Requires(ReadRecords)),
    ("POST", "/api/v1/commissions", Requires(WriteRecords)),
    ("GET", "/api/v1/commissions/{id}", Requires(ReadRecords)),
    ("PATCH", "/api/v1/commissions/{id}", Requires(WriteRecords)),
    (
        "PUT",
        "/api/v1/commissions/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/sessions", Requires(ReadRecords)),
    ("POST", "/api/v1/sessions", Requires(WriteRecords)),
    ("GET", "/api/v1/sessions/{id}", Requires(ReadRecords)),
    ("PATCH", "/api/v1/sessions/{id}", Requires(WriteRecords)),
    (
        "PUT",
        "/api/v1/sessions/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/agreements", Requires(ReadRecords)),
    ("POST", "/api/v1/agreements", Requires(WriteRecords)),
    ("GET", "/api/v1/agreements/{id}", Requires(ReadRecords)),
    ("PATCH", "/api/v1/agreements/{id}", Requires(WriteRecords)),
    (
        "PUT",
        "/api/v1/agreements/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    (
        "GET",
        "/api/v1/agreements/{id}/follow-ups",
        Requires(ReadRecords),
    ),
    (
        "POST",
        "/api/v1/agreements/{id}/follow-ups",
        Requires(WriteRecords),
    ),
    (
        "GET",
        "/api/v1/excel/templates/{form}",
        Requires(ImportExcel),
    ),
    (
        "POST",
        "/api/v1/excel/imports/{form}",
        Requires(ImportExcel),
    ),
    (
        "GET",
        "/api/v1/excel/imports/{id}/annotated.xlsx",
        Requires(ImportExcel),
    ),
    // Import jobs: the caller's institution's only (others read as missing).
    ("GET", "/api/v1/excel/imports", Requires(ImportExcel)),
    ("GET", "/api/v1/excel/imports/{id}", Requires(ImportExcel)),
    (
        "DELETE",
        "/api/v1/excel/imports/{id}",
        Requires(ImportExcel),
    ),
    (
        "POST",
        "/api/v1/excel/imports/{id}/commit",
        Requires(ImportExcel),
    ),
    ("GET", "/api/v1/excel/exports", Requires(ExportExcel)),
    ("GET", "/api/v1/excel/exports/{form}", Requires(ExportExcel)),
    // victims: rules of the victim-attention module
    (
        "POST",
        "/api/v1/victims/duplicate-check",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/victims", Requires(ReadRecords)),
    ("POST", "/api/v1/victims", Requires(WriteRecords)),
    ("GET", "/api/v1/victims/{id}", Requires(ReadRecords)),
    ("GET", "/api/v1/victims/{id}/person", Requires(ReadRecords)),
    ("PATCH", "/api/v1/victims/{id}", Requires(WriteRecords)),
    (
        "PUT",
        "/api/v1/victims/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/attentions", Requires(ReadRecords)),
    ("POST", "/api/v1/attentions", Requires(WriteRecords)),
    ("GET", "/api/v1/attentions/{id}", Requires(ReadRecords)),
    ("PATCH", "/api/v1/attentions/{id}", Requires(WriteRecords)),
    (
        "PUT",
        "/api/v1/attentions/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/duplicates", Requires(ReadRecords)),
    (
        "POST",
        "/api/v1/duplicates/{id}/dismiss",
        Requires(WriteRecords),
    ),
    (
        "POST",
        "/api/v1/duplicates/{id}/confirm",
        Requires(WriteRecords),
    ),
    // Undoing a confirmation is a decision like confirming it.
    (
        "POST",
        "/api/v1/duplicates/{id}/undo",
        Requires(WriteRecords),
    ),
    // judicialization: rules of the judicialization module
    ("GET", "/api/v1/investigations", Requires(ReadRecords)),
    ("POST", "/api/v1/investigations", Requires(WriteRecords)),
    ("GET", "/api/v1/investigations/{id}", Requires(ReadRecords)),
    (
        "PATCH",
        "/api/v1/investigations/{id}",
        Requires(WriteRecords),
    ),
    (
        "PUT",
        "/api/v1/investigations/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/criminal-cases", Requires(ReadRecords)),
    ("POST", "/api/v1/criminal-cases", Requires(WriteRecords)),
    ("GET", "/api/v1/criminal-cases/{id}", Requires(ReadRecords)),
    (
        "PATCH",
        "/api/v1/criminal-cases/{id}",
        Requires(WriteRecords),
    ),
    (
        "PUT",
        "/api/v1/criminal-cases/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    (
        "GET",
        "/api/v1/criminal-cases/{id}/events",
        Requires(ReadRecords),
    ),
    (
        "POST",
        "/api/v1/criminal-cases/{id}/events",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/defendants", Requires(ReadRecords)),
    ("POST", "/api/v1/defendants", Requires(WriteRecords)),
    ("GET", "/api/v1/defendants/{id}", Requires(ReadRecords)),
    ("PATCH", "/api/v1/defendants/{id}", Requires(WriteRecords)),
    (
        "PUT",
        "/api/v1/defendants/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    ("GET", "/api/v1/sentences", Requires(ReadRecords)),
    ("POST", "/api/v1/sentences", Requires(WriteRecords)),
    ("GET", "/api/v1/sentences/{id}", Requires(ReadRecords)),
    ("PATCH", "/api/v1/sentences/{id}", Requires(WriteRecords)),
    (
        "PUT",
        "/api/v1/sentences/by-folio/{external_folio}",
        Requires(WriteRecords),
    ),
    (
        "GET",
        "/api/v1/judicialization/counts",
        Requires(ReadAggregates),
    ),
    ("GET", "/api/v1/dashboards", Requires(ReadAggregates)),
    ("GET", "/api/v1/dashboards/{name}", Requires(ReadAggregates)),
    ("GET", "/api/v1/institutions", Requires(ReadInstitutions)),
    ("POST", "/api/v1/institutions", Requires(ManageInstitutions)),
    (
        "GET",
        "/api/v1/institutions/{id}",
        Requires(ReadInstitutions),
    ),
    (
        "PATCH",
        "/api/v1/institutions/{id}",
        Requires(ManageInstitutions),
    ),
    ("GET", "/api/v1/users", Requires(ReadUsers)),
    ("POST", "/api/v1/users", Requires(ManageUsers)),
    ("GET", "/api/v1/users/{id}", Requires(ReadUsers)),
    ("PATCH", "/api/v1/users/{id}", Requires(ManageUsers)),
    (
        "POST",
        "/api/v1/users/{id}/deactivate",
        Requires(ManageUsers),
    ),
    (
        "POST",
        "/api/v1/users/{id}/reactivate",
        Requires(ManageUsers),
    ),
    (
        "POST",
        "/api/v1/users/{id}/reset-password",
        Requires(ManageUsers),
    ),
    (
        "GET",
        "/api/v1/service-accounts",
        Requires(ManageServiceAccounts),
    ),
    (
        "POST",
        "/api/v1/service-accounts",
        Requires(ManageServiceAccounts),
    ),
    (
        "POST",
        "/api/v1/service-accounts/{id}/rotate-secret",
        Requires(ManageServiceAccounts),
    ),
    ("GET", "/api/v1/audit/events", Requires(ReadAudit)),
    ("GET", "/api/v1/audit/verify", Requires(ReadAudit)),
    ("GET", "/api/v1/audit/checkpoints", Requires(ReadAudit)),
    // periods: who takes which step is `sintra_domain::periods::PeriodAction::allowed`
    ("GET", "/api/v1/periods", Requires(ReadPeriods)),
    (
        "POST",
        "/api/v1/periods/{entity_code}/{year}/{quarter}/submit",
        Requires(ManagePeriods),
    ),
    (
        "POST",
        "/api/v1/periods/{entity_code}/{year}/{quarter}/close",
        Requires(ManagePeriods),
    ),
    (
        "POST",
        "/api/v1/periods/{entity_code}/{year}/{quarter}/reopen",
        Requires(ManagePeriods),
    ),
    (
        "POST",
        "/api/v1/periods/{year}/{quarter}/close",
        Requires(ManagePeriods),
    ),
    ("POST", "/api/v1/cuts", Requires(ManageCuts)),
    ("GET", "/api/v1/cuts", Requires(ReadCuts)),
    ("GET", "/api/v1/cuts/{id}.xlsx", Requires(ReadCuts)),
    ("GET", "/api/v1/cuts/{id}", Requires(ReadCuts)),
    ("GET", "/api/v1/cuts/{id}/diff", Requires(ReadCuts)),
    // sync: the changes feed names records (never their fields) in the
    // caller's scope: whoever lists records may follow it.
    ("GET", "/api/v1/changes", Requires(ReadRecords)),
];

/// A route pattern without the regular expressions of its segments
/// (`/excel/imports/{id:[0-9a-f-]+}` → `/excel/imports/{id}`): actix
/// matches with them, the spec and these rules name the segment alone.
pub fn without_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut skipping = false;
    let mut depth = 0;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if !skipping {
                    out.push(c);
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    skipping = false;
                    out.push(c);
                }
            }
            ':' if depth == 1 => skipping = true,
            _ if !skipping => out.push(c),
            _ => {}
        }
    }
    out
}

fn same_route(rule: &str, pattern: &str) -> bool {
    rule == pattern || without_regex(rule) == without_regex(pattern)
}

/// A pattern with its parameters' names left out: `/excel/imports/{}`.
fn shape(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0;
    for c in pattern.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push('{');
                }
                depth += 1;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    out.push('}');
                }
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The rule for a matched route, if any.
pub fn rule_for(method: &Method, pattern: &str) -> Option<RouteRule> {
    ROUTES
        .iter()
        .find(|(m, p, _)| {
            (*p == pattern || without_regex(p) == without_regex(pattern))
                && (*m == "*" || *m == method.as_str())
        })
        .map(|(_, _, rule)| *rule)
}

/// The rule for a request whose matched pattern has none for its method.
///
/// `match_pattern()` names the first registered route whose path matches,
/// whatever its method, while the router skips routes whose method guard
/// refuses and serves the next one: `POST /excel/imports/victim` is matched
/// as `/excel/imports/{id}` (GET, DELETE) and served by
/// `/excel/imports/{form}` (POST). So a request without a rule under its
/// matched pattern takes the rule of the one other pattern of its method
/// that matches its path. Two or more such patterns: none (405), so the
/// guard never lends one route's rule to another route's handler.
pub fn rule_for_request(method: &Method, pattern: &str, path: &str) -> Option<RouteRule> {
    rule_for(method, pattern).or_else(|| {
        let mut candidates = ROUTES.iter().filter(|(m, p, _)| {
            *m == method.as_str()
                && !same_route(p, pattern)
                && actix_web::dev::ResourceDef::new(*p).is_match(path)
        });
        match (candidates.next(), candidates.next()) {
            (Some((_, _, rule)), None) => Some(*rule),
            _ => None,
        }
    })
}

/// The rule for a path as the published spec names it: by the route's own
/// pattern, else by its shape (the spec merges paths OpenAPI cannot tell
/// apart under one parameter name, `{form_or_id}`, and refuses two
/// operations of one method on such paths, so method and shape name one
/// route). For checking the spec against the rules, never for requests.
pub fn rule_for_spec_path(method: &Method, path: &str) -> Option<RouteRule> {
    rule_for(method, path).or_else(|| {
        ROUTES
            .iter()
            .find(|(m, p, _)| shape(p) == shape(path) && (*m == "*" || *m == method.as_str()))
            .map(|(_, _, rule)| *rule)
    })
}

/// The methods a pattern serves, for `Allow` (405 answers).
pub fn allowed_methods(pattern: &str) -> Vec<&'static str> {
    let mut methods: Vec<&'static str> = ROUTES
        .iter()
        .filter(|(_, p, _)| same_route(p, pattern))
        .map(|(m, _, _)| *m)
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// Whether the pattern has a rule for some method.
pub fn has_any_rule(pattern: &str) -> bool {
    ROUTES.iter().any(|(_, p, _)| same_route(p, pattern))
}

/// What a caller does with a form through Excel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExcelUse {
    /// Download its template or import a workbook of it.
    Import,
    /// Export its rows.
    Export,
}

/// The permission a form's Excel routes need beyond the route's own rule:
/// the same as the form's own API. A workbook of users is a batch of user
/// administration, one of catalog items a batch of catalog administration;
/// records need nothing more than the route already asked for.
pub fn excel_form_permission(form: FormKey, use_: ExcelUse) -> Permission {
    match (form, use_) {
        (FormKey::CatalogItem, ExcelUse::Import) => ManageCatalogs,
        (FormKey::CatalogItem, ExcelUse::Export) => ReadCatalogs,
        (FormKey::User, ExcelUse::Import) => ManageUsers,
        (FormKey::User, ExcelUse::Export) => ReadUsers,
        (_, ExcelUse::Import) => ImportExcel,
        (_, ExcelUse::Export) => ExportExcel,
    }
}

#[cfg(test)]
mod regex_tests {
    use super::*;

    #[test]
    fn patterns_compare_without_their_regular_expressions() {
        assert_eq!(
            without_regex("/api/v1/excel/imports/{id:[0-9a-fA-F]+-[0-9a-fA-F-]+}/commit"),
            "/api/v1/excel/imports/{id}/commit"
        );
        assert_eq!(without_regex("/docs/{_:.*}"), "/docs/{_}");
        assert_eq!(without_regex("/cuts/{id}.xlsx"), "/cuts/{id}.xlsx");
        let get = Method::GET;
        assert!(rule_for(&get, "/api/v1/excel/imports/{id}").is_some());
        assert!(rule_for(&Method::POST, "/api/v1/excel/imports/{id}").is_none());
    }

    #[test]
    fn a_request_takes_the_rule_of_the_route_its_method_reaches() {
        let upload = "/api/v1/excel/imports/victim";
        // Matched as the job's path (GET, DELETE), served by the upload's.
        assert!(matches!(
            rule_for_request(&Method::POST, "/api/v1/excel/imports/{id}", upload),
            Some(RouteRule::Requires(Permission::ImportExcel))
        ));
        // No route of PUT there: still refused.
        assert!(rule_for_request(&Method::PUT, "/api/v1/excel/imports/{id}", upload).is_none());
        // The matched pattern's own rule comes first.
        assert!(matches!(
            rule_for_request(&Method::GET, "/api/v1/excel/imports/{id}", upload),
            Some(RouteRule::Requires(Permission::ImportExcel))
        ));
    }
}
