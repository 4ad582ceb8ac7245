//! SINTRA's use cases, between the HTTP layer and persistence: what a
//! caller may do with records, imports, administration, duplicates, figures
//! and cuts. Nothing here knows actix: handlers in `sintra-http` extract the
//! request, call one function of this crate and map its answer.
//!
//! One module per use-case family; each takes the caller's scope and a
//! database connection or pool from its caller.

pub mod audit;
pub mod catalogs;
pub mod changes;
pub mod clock;
pub mod cuts;
pub mod duplicates;
pub mod error;
pub mod figures;
pub mod imports;
pub mod labels;
pub mod page;
pub mod passwords;
pub mod periods;
pub mod records;
pub mod users;
