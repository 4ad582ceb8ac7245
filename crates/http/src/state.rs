//! What every handler shares: the pool, the configuration and the keys.

use std::sync::Arc;

use sintra_persistence::Pool;

use crate::auth::jwt::JwtKeys;
use crate::config::Config;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<Config>,
    pub jwt: Arc<JwtKeys>,
}

impl AppState {
    pub fn new(pool: Pool, config: Config) -> AppState {
        let jwt = JwtKeys::new(&config);
        AppState {
            pool,
            config: Arc::new(config),
            jwt: Arc::new(jwt),
        }
    }
}
