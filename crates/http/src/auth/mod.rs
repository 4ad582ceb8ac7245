//! Authentication: access tokens (JWT), passwords, and the extractor that
//! turns a bearer token into an [`Actor`](sintra_domain::access::Actor).

pub mod extract;
pub mod jwt;
pub use sintra_services::passwords as password;

pub use extract::Authenticated;
