//! Commissions, sessions, agreements and their follow-ups (Comisiones /
//! Sesiones / Acuerdos). A commission may be registered at any date, past
//! ones included; a session cannot precede its commission's installation
//! nor a follow-up the session of its agreement.

crate::record_routes!(
    commissions,
    sintra_domain::forms::FormKey::Commission,
    "commissions",
    "/commissions",
    "/commissions/{id}",
    "/commissions/by-folio/{external_folio}",
    "commissions (CIEs, the Comisión Intersecretarial, subcommissions, working groups)"
);
crate::record_routes!(
    sessions,
    sintra_domain::forms::FormKey::Session,
    "commissions",
    "/sessions",
    "/sessions/{id}",
    "/sessions/by-folio/{external_folio}",
    "commission sessions"
);
crate::record_routes!(agreements, sintra_domain::forms::FormKey::Agreement, "commissions", "/agreements", "/agreements/{id}", "/agreements/by-folio/{external_folio}", "agreements taken in sessions (`overdue=true` lists those past due and not fulfilled or cancelled)");

crate::child_routes!(
    follow_ups,
    sintra_domain::forms::FormKey::Agreement,
    sintra_domain::forms::FormKey::AgreementFollowUp,
    "commissions",
    "/agreements/{id}/follow-ups",
    "The dated follow-up history of an agreement, oldest first.",
    "Report progress on an agreement: who reported what, when. The date cannot precede the session that took the agreement."
);
