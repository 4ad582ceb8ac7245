//! Which form each record resource serves and what its operations are
//! called. The record handlers (`routes/victims.rs`, …) take their
//! `operation_id` and their form from here, and the finishing pass takes
//! the schemas of each operation from the same rows, so a name and its
//! bodies cannot disagree.

use sintra_domain::forms::FormKey;

/// A record resource: list, create, read, update and upsert by folio (a
/// child resource: list and create under its parent).
#[derive(Debug, Clone, Copy)]
pub struct RecordResource {
    /// The collection path under `/api/v1`, as its handlers are registered
    /// (the `Location` of a creation is built from it).
    pub path: &'static str,
    pub form: FormKey,
    /// The operation name of one record (`Victim`).
    pub one: &'static str,
    /// The operation name of the collection (`Victims`).
    pub many: &'static str,
}

/// The resource of the handlers in `routes/commissions.rs`.
pub const COMMISSIONS: RecordResource = RecordResource {
    path: "/commissions",
    form: FormKey::Commission,
    one: "Commission",
    many: "Commissions",
};
pub const SESSIONS: RecordResource = RecordResource {
    path: "/sessions",
    form: FormKey::Session,
    one: "Session",
    many: "Sessions",
};
pub const AGREEMENTS: RecordResource = RecordResource {
    path: "/agreements",
    form: FormKey::Agreement,
    one: "Agreement",
    many: "Agreements",
};
/// The resource of the handlers in `routes/victims.rs`.
pub const VICTIMS: RecordResource = RecordResource {
    path: "/victims",
    form: FormKey::Victim,
    one: "Victim",
    many: "Victims",
};
pub const ATTENTIONS: RecordResource = RecordResource {
    path: "/attentions",
    form: FormKey::Attention,
    one: "Attention",
    many: "Attentions",
};
/// The resource of the handlers in `routes/judicialization.rs`.
pub const INVESTIGATIONS: RecordResource = RecordResource {
    path: "/investigations",
    form: FormKey::Investigation,
    one: "Investigation",
    many: "Investigations",
};
pub const CRIMINAL_CASES: RecordResource = RecordResource {
    path: "/criminal-cases",
    form: FormKey::CriminalCase,
    one: "CriminalCase",
    many: "CriminalCases",
};
pub const DEFENDANTS: RecordResource = RecordResource {
    path: "/defendants",
    form: FormKey::Defendant,
    one: "Defendant",
    many: "Defendants",
};
pub const SENTENCES: RecordResource = RecordResource {
    path: "/sentences",
    form: FormKey::Sentence,
    one: "Sentence",
    many: "Sentences",
};

/// Children: `path` is the full child path with the parent's `{id}`.
pub const AGREEMENT_FOLLOW_UPS: RecordResource = RecordResource {
    path: "/agreements/{id}/follow-ups",
    form: FormKey::AgreementFollowUp,
    one: "AgreementFollowUp",
    many: "AgreementFollowUps",
};
pub const PROCEDURAL_EVENTS: RecordResource = RecordResource {
    path: "/criminal-cases/{id}/events",
    form: FormKey::ProceduralEvent,
    one: "ProceduralEvent",
    many: "ProceduralEvents",
};

/// Every record resource (list, create, read, update, upsert by folio).
pub const RECORD_RESOURCES: &[RecordResource] = &[
    COMMISSIONS,
    SESSIONS,
    AGREEMENTS,
    VICTIMS,
    ATTENTIONS,
    INVESTIGATIONS,
    CRIMINAL_CASES,
    DEFENDANTS,
    SENTENCES,
];

/// Every child resource (list and create under a parent).
pub const CHILD_RESOURCES: &[RecordResource] = &[AGREEMENT_FOLLOW_UPS, PROCEDURAL_EVENTS];

/// The operations of a record resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    List,
    Create,
    Read,
    Update,
    Upsert,
}

impl Action {
    /// The operation's name for a resource (`listVictims`, `createVictim`,
    /// `upsertVictimByFolio`, …).
    pub fn name(self, r: &RecordResource) -> String {
        match self {
            Action::List => format!("list{}", r.many),
            Action::Create => format!("create{}", r.one),
            Action::Read => format!("read{}", r.one),
            Action::Update => format!("update{}", r.one),
            Action::Upsert => format!("upsert{}ByFolio", r.one),
        }
    }

    /// A one-line summary of the operation.
    pub fn summary(self, r: &RecordResource) -> String {
        let what = words(r.one);
        match self {
            Action::List => format!("List {}", words(r.many)),
            Action::Create => format!("Create a {what}"),
            Action::Read => format!("Read a {what}"),
            Action::Update => format!("Update a {what}"),
            Action::Upsert => format!("Create or replace a {what} by folio"),
        }
    }

    const ALL: [Action; 5] = [
        Action::List,
        Action::Create,
        Action::Read,
        Action::Update,
        Action::Upsert,
    ];

    /// The action an operation id names, with its resource.
    pub fn of_operation(id: &str) -> Option<(Action, &'static RecordResource)> {
        RECORD_RESOURCES
            .iter()
            .chain(CHILD_RESOURCES)
            .flat_map(|r| Action::ALL.into_iter().map(move |a| (a, r)))
            .find(|(a, r)| a.name(r) == id)
    }
}

/// `CriminalCase` → `criminal case`.
fn words(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// The operation ids of the routes written by hand, by method and path
/// (under `/api/v1` unless the path says otherwise). A handler may name
/// itself (`operation_id = "…"` in its `#[utoipa::path]`); a route in
/// neither place gets its function's name in camelCase.
#[rustfmt::skip]
pub const OPERATION_IDS: &[(&str, &str, &str)] = &[
    ("get", "/health/live", "checkLiveness"),
    ("get", "/health/ready", "checkReadiness"),
    ("post", "/api/v1/auth/token", "issueToken"),
    ("post", "/api/v1/auth/logout", "logout"),
    ("post", "/api/v1/auth/password", "changePassword"),
    ("get", "/api/v1/auth/me", "readMe"),
    ("get", "/api/v1/entities", "listEntities"),
    ("get", "/api/v1/institutions", "listInstitutions"),
    ("post", "/api/v1/institutions", "createInstitution"),
    ("get", "/api/v1/institutions/{id}", "readInstitution"),
    ("patch", "/api/v1/institutions/{id}", "updateInstitution"),
    ("get", "/api/v1/users", "listUsers"),
    ("post", "/api/v1/users", "createUser"),
    ("get", "/api/v1/users/{id}", "readUser"),
    ("patch", "/api/v1/users/{id}", "updateUser"),
    ("post", "/api/v1/users/{id}/deactivate", "deactivateUser"),
    ("post", "/api/v1/users/{id}/reactivate", "reactivateUser"),
    ("post", "/api/v1/users/{id}/reset-password", "resetUserPassword"),
    ("get", "/api/v1/service-accounts", "listServiceAccounts"),
    ("post", "/api/v1/service-accounts", "createServiceAccount"),
    ("post", "/api/v1/service-accounts/{id}/rotate-secret", "rotateServiceAccountSecret"),
    ("get", "/api/v1/catalogs", "listCatalogs"),
    ("get", "/api/v1/catalogs/{catalog}/items", "listCatalogItems"),
    ("post", "/api/v1/catalogs/{catalog}/items", "createCatalogItem"),
    ("get", "/api/v1/catalogs/{catalog}/items/{code}", "readCatalogItem"),
    ("patch", "/api/v1/catalogs/{catalog}/items/{code}", "updateCatalogItem"),
    ("get", "/api/v1/forms", "listForms"),
    ("get", "/api/v1/forms/{form}", "readForm"),
    ("get", "/api/v1/forms/{form}/labels", "listFormLabels"),
    ("put", "/api/v1/forms/{form}/fields/{field}/label", "setFieldLabel"),
    ("delete", "/api/v1/forms/{form}/fields/{field}/label", "resetFieldLabel"),
    ("post", "/api/v1/victims/duplicate-check", "checkVictimDuplicates"),
    ("get", "/api/v1/duplicates", "listDuplicatePairs"),
    ("post", "/api/v1/duplicates/{id}/dismiss", "dismissDuplicatePair"),
    ("post", "/api/v1/duplicates/{id}/confirm", "confirmDuplicatePair"),
    ("post", "/api/v1/duplicates/{id}/undo", "undoDuplicatePair"),
    ("get", "/api/v1/victims/{id}/person", "readVictimPerson"),
    ("get", "/api/v1/judicialization/counts", "readJudicializationCounts"),
    ("get", "/api/v1/dashboards", "listDashboards"),
    ("get", "/api/v1/dashboards/{name}", "readDashboard"),
    ("get", "/api/v1/excel/templates/{form}", "downloadTemplate"),
    ("post", "/api/v1/excel/imports/{form}", "importWorkbook"),
    ("get", "/api/v1/excel/imports/{id}/annotated.xlsx", "downloadAnnotatedImport"),
    ("get", "/api/v1/excel/exports", "exportAllForms"),
    ("get", "/api/v1/excel/exports/{form}", "exportForm"),
    ("get", "/api/v1/audit/events", "listAuditEvents"),
    ("get", "/api/v1/audit/verify", "verifyAuditChain"),
    ("get", "/api/v1/audit/checkpoints", "readAuditCheckpoint"),
    ("get", "/api/v1/periods", "listPeriods"),
    ("post", "/api/v1/periods/{entity_code}/{year}/{quarter}/submit", "submitPeriod"),
    ("post", "/api/v1/periods/{entity_code}/{year}/{quarter}/close", "closePeriod"),
    ("post", "/api/v1/periods/{entity_code}/{year}/{quarter}/reopen", "reopenPeriod"),
    ("post", "/api/v1/periods/{year}/{quarter}/close", "closeNationalPeriod"),
    ("post", "/api/v1/cuts", "takeCut"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A record handler's path is written twice: in its actix attribute
    /// (so a grep finds the handler) and in its resource here (the
    /// `Location` of a creation is built from it). The served spec says
    /// they agree: each path answers under its resource's names.
    #[test]
    fn each_resource_is_served_at_its_path_under_its_names() {
        let spec = crate::openapi();
        let id = |path: &str, method: &str| {
            spec["paths"][format!("/api/v1{path}")][method]["operationId"]
                .as_str()
                .map(str::to_string)
        };
        for r in RECORD_RESOURCES {
            let one = format!("{}/{{id}}", r.path);
            let folio = format!("{}/by-folio/{{external_folio}}", r.path);
            assert_eq!(id(r.path, "get"), Some(Action::List.name(r)));
            assert_eq!(id(r.path, "post"), Some(Action::Create.name(r)));
            assert_eq!(id(&one, "get"), Some(Action::Read.name(r)));
            assert_eq!(id(&one, "patch"), Some(Action::Update.name(r)));
            assert_eq!(id(&folio, "put"), Some(Action::Upsert.name(r)));
        }
        for r in CHILD_RESOURCES {
            assert_eq!(id(r.path, "get"), Some(Action::List.name(r)));
            assert_eq!(id(r.path, "post"), Some(Action::Create.name(r)));
        }
    }
}
