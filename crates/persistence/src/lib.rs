//! SINTRA persistence: the diesel schema, the repositories, the pool, the
//! migrations runner and the audit writer. Every query over records takes
//! the caller's [`Scope`](sintra_domain::access::Scope).

pub mod audit;
pub mod catalogs;
pub mod changes;
pub mod cuts;
pub mod db;
pub mod duplicates;
pub mod error;
pub mod figures;
pub mod import_jobs;
pub mod imports;
pub mod judicialization;
pub mod labels;
pub mod org;
pub mod people;
pub mod periods;
pub mod records;
pub mod rollup;
pub mod schema;
pub mod tokens;
pub mod users;

pub use db::{Pool, PooledConn};
pub use error::{StoreError, StoreResult};
