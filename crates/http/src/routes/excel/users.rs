//! What an export of user accounts reads from its query and the accounts
//! it carries. (Their import is `sintra_services::imports::users`.)

use std::collections::HashMap;

use diesel_async::AsyncPgConnection;
use sintra_domain::access::{AccountKind, Role};
use sintra_persistence::users::{self, User, UserFilter};
use sintra_services::records::{invalid_filter, unknown_filter};

use crate::auth::Authenticated;
use crate::error::ApiResult;

/// The filter an export of users takes from its query: `institution_id`,
/// `entity_code`, `role` and `active`. Only people's accounts: service
/// accounts are administered apart.
pub(super) fn export_filter(query: &HashMap<String, String>) -> ApiResult<UserFilter> {
    let mut filter = UserFilter {
        kind: Some(AccountKind::Person),
        ..Default::default()
    };
    let mut errors = vec![];
    for (k, v) in query {
        match k.as_str() {
            "institution_id" => match v.parse() {
                Ok(id) => filter.institution_id = Some(id),
                Err(_) => errors.push(invalid_filter(k)),
            },
            "entity_code" => filter.entity_code = Some(v.clone()),
            "role" if v.parse::<Role>().is_ok() => filter.role = Some(v.clone()),
            "role" => errors.push(invalid_filter(k)),
            "active" => match super::parse_bool("active", v) {
                Ok(b) => filter.active = Some(b),
                Err(e) => errors.push(e),
            },
            other => errors.push(unknown_filter(other)),
        }
    }
    super::refuse_errors(errors)?;
    Ok(filter)
}

/// Every account of the caller's scope the filter names, a page of a
/// thousand at a time.
pub(super) async fn accounts(
    conn: &mut AsyncPgConnection,
    auth: &Authenticated,
    filter: &UserFilter,
) -> ApiResult<Vec<User>> {
    let scope = auth.actor.scope();
    let mut filter = filter.clone();
    let mut out: Vec<User> = vec![];
    loop {
        let page = users::list(conn, &scope, &filter, 1_000).await?;
        let last = page.last().map(|u| u.row.id);
        let full = page.len() == 1_000;
        out.extend(page);
        match last {
            Some(id) if full => filter.after_id = Some(id),
            _ => return Ok(out),
        }
    }
}
