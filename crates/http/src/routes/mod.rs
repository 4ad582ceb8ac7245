//! Handlers, one file per resource.

pub mod audit;
pub mod auth;
pub mod catalogs;
pub mod changes;
pub mod commissions;
pub mod cuts;
pub mod dashboards;
pub mod excel;
pub mod forms;
pub mod health;
pub mod judicialization;
pub mod org;
pub mod periods;
pub mod users;
pub mod victims;
