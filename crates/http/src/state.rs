//! What every handler shares: the pool, the configuration and the keys.

use std::sync::Arc;

use sintra_persistence::Pool;
use sintra_services::imports::jobs::Imports;

use crate::auth::jwt::JwtKeys;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
    /// This server's import runner (its workers' permits and limits).
    pub imports: Arc<Imports>,
}

impl AppState {
    pub fn new(pool: Pool, config: Config) -> AppState {
        let jwt = JwtKeys::new(&config);
        let imports = Arc::new(Imports::new(config.imports.clone()));
        AppState {
            imports,
            pool,
            config: Arc::new(config),
            jwt: Arc::new(jwt),
        }
    }
}
