//! Which permission each route needs. Each rule is written beside its
//! route's registration (`fn routes` in `lib.rs`: `.add(Requires(ReadRecords),
//! victims::victims::read)`), and [`ROUTES`] is read from that
//! registration. Deny by default: a request no route's rule covers answers
//! 403 to everyone (the guard, `middleware::guard`). The roles behind each
//! permission are decided in [`sintra_domain::access::Role::allows`].

use std::sync::LazyLock;

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

/// A served route and the rule the guard applies to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// The path as the spec names it (the docs UI's keeps its `{_:.*}`).
    pub pattern: String,
    pub rule: RouteRule,
}

/// Every route with its rule. The rules are written once, beside each
/// route's registration (`fn routes` in `lib.rs`, `Api::add`); this table is
/// read from that registration, so the router and the guard cannot list
/// different routes.
pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(crate::route_table);

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
        .find(|r| same_route(&r.pattern, pattern) && r.method == method)
        .map(|r| r.rule)
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
        let mut candidates = ROUTES.iter().filter(|r| {
            r.method == method
                && !same_route(&r.pattern, pattern)
                && actix_web::dev::ResourceDef::new(r.pattern.as_str()).is_match(path)
        });
        match (candidates.next(), candidates.next()) {
            (Some(r), None) => Some(r.rule),
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
            .find(|r| shape(&r.pattern) == shape(path) && r.method == method)
            .map(|r| r.rule)
    })
}

/// The methods a pattern serves, for `Allow` (405 answers).
pub fn allowed_methods(pattern: &str) -> Vec<String> {
    let mut methods: Vec<String> = ROUTES
        .iter()
        .filter(|r| same_route(&r.pattern, pattern))
        .map(|r| r.method.to_string())
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

/// Whether the pattern has a rule for some method.
pub fn has_any_rule(pattern: &str) -> bool {
    ROUTES.iter().any(|r| same_route(&r.pattern, pattern))
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
