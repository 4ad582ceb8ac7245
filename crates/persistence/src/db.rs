//! The connection pool, database creation and migrations.

use deadpool::managed::{Hook, HookError};
use diesel::{sql_query, sql_types::Bool, QueryableByName};
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool as DeadPool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;
use std::time::Duration;

use crate::error::{StoreError, StoreResult};

pub type Pool = DeadPool<AsyncPgConnection>;
pub type PooledConn = diesel_async::pooled_connection::deadpool::Object<AsyncPgConnection>;

/// Every migration, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Serializes migrations between instances sharing one database.
const MIGRATION_LOCK: i64 = 5_372_010_400;

/// The server used when `DATABASE_URL` is not set.
/// The password is the one `docker-compose.yml` gives its database, so
/// `docker compose up -d db` and then `cargo run` work together; a server
/// with trust authentication (as `scripts/dev-db.sh` sets up) ignores it.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres:sintra-dev@127.0.0.1:5432/sintra";

#[derive(Debug, Clone)]
pub struct DbConfig {
    pub url: String,
    /// The role every pooled connection assumes (`SET ROLE`), so the API
    /// runs without the right to rewrite the audit log even when it logs in
    /// as the database owner. `None` keeps the login role as it is.
    pub app_role: Option<String>,
    pub max_size: usize,
    /// How long a request waits for a connection before it is told the
    /// database is unavailable (503), instead of hanging.
    pub timeout: Duration,
    /// `statement_timeout` and `lock_timeout` of every pooled connection:
    /// no request waits unbounded behind a lock or a runaway query.
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
}

impl DbConfig {
    pub fn new(url: impl Into<String>) -> DbConfig {
        DbConfig {
            url: url.into(),
            app_role: Some("sintra_app".into()),
            max_size: 16,
            timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(120),
            lock_timeout: Duration::from_secs(5),
        }
    }
}

/// Builds the pool. No connection is opened yet: the server starts, and
/// `/health/ready` tells whether the database answers.
pub fn build_pool(config: &DbConfig) -> StoreResult<Pool> {
    let role = config.app_role.clone();
    let timeout = config.timeout;
    let bounds = format!(
        "SET statement_timeout = {}; SET lock_timeout = {}",
        config.statement_timeout.as_millis().max(1),
        config.lock_timeout.as_millis().max(1)
    );
    let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
    // No test query on every checkout (a round trip per request, twice for
    // an authenticated one): a connection used within `PING_IDLE_AFTER` is
    // handed out as is (a broken one is still refused, and a query on a
    // connection that died since fails like any database error: a 503); one
    // idle for longer is checked first, by `ping_if_idle`.
    manager_config.recycling_method = RecyclingMethod::Fast;
    manager_config.custom_setup = Box::new(move |url| {
        let role = role.clone();
        let url = url.to_string();
        let bounds = bounds.clone();
        async move {
            let mut conn = tokio::time::timeout(timeout, AsyncPgConnection::establish(&url))
                .await
                .map_err(|_| {
                    diesel::ConnectionError::BadConnection("connect timed out".into())
                })??;
            if let Some(role) = role {
                sql_query(format!("SET ROLE {}", quote_ident(&role)))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            }
            diesel_async::SimpleAsyncConnection::batch_execute(&mut conn, &bounds)
                .await
                .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            Ok(conn)
        }
        .boxed()
    });
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        &config.url,
        manager_config,
    );
    DeadPool::builder(manager)
        .pre_recycle(Hook::async_fn(move |conn, metrics| {
            Box::pin(ping_if_idle(conn, metrics.last_used(), timeout))
        }))
        .max_size(config.max_size)
        .wait_timeout(Some(config.timeout))
        .create_timeout(Some(config.timeout))
        .recycle_timeout(Some(config.timeout))
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

/// How long a pooled connection may sit unused before it is checked with a
/// test query when it is next handed out.
pub const PING_IDLE_AFTER: Duration = Duration::from_secs(5);

/// The pool's recycling check: a connection idle for longer than
/// `PING_IDLE_AFTER` must answer a trivial query within `within`, or it is
/// dropped and another one is handed out.
async fn ping_if_idle(
    conn: &mut AsyncPgConnection,
    idle: Duration,
    within: Duration,
) -> Result<(), HookError<diesel_async::pooled_connection::PoolError>> {
    if idle < PING_IDLE_AFTER {
        return Ok(());
    }
    match tokio::time::timeout(within, select_one(conn)).await {
        Ok(true) => Ok(()),
        _ => Err(HookError::message("the idle connection did not answer")),
    }
}

/// Checks out a connection; a pool that cannot connect answers `Unavailable`.
pub async fn conn(pool: &Pool) -> StoreResult<PooledConn> {
    Ok(pool.get().await?)
}

/// Whether the database answers a trivial query within `within`: on an
/// idle pooled connection when one is free (a new one is opened when the
/// pool has room), else, the pool being busy serving requests, on a
/// connection of its own. A busy pool is not a database failure: readiness
/// never waits in the pool's queue, so it does not flap under load.
pub async fn ping(pool: &Pool, url: &str, within: Duration) -> bool {
    use deadpool::managed::{PoolError, Timeouts};
    let answered = tokio::time::timeout(within, async {
        let free = Timeouts {
            wait: Some(Duration::ZERO),
            create: Some(within),
            recycle: Some(within),
        };
        match pool.timeout_get(&free).await {
            Ok(mut conn) => select_one(&mut conn).await,
            Err(PoolError::Timeout(deadpool::managed::TimeoutType::Wait)) => {
                match AsyncPgConnection::establish(url).await {
                    Ok(mut own) => select_one(&mut own).await,
                    Err(_) => false,
                }
            }
            Err(_) => false,
        }
    })
    .await;
    answered.unwrap_or(false)
}

async fn select_one(conn: &mut AsyncPgConnection) -> bool {
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = Bool)]
        ok: bool,
    }
    matches!(
        sql_query("SELECT true AS ok").get_result::<One>(conn).await,
        Ok(One { ok: true })
    )
}

/// The parts of a `postgres://…/dbname?…` URL: before the database name,
/// the name, and the query string (with its `?`).
fn url_parts(url: &str) -> Option<(&str, &str, &str)> {
    let (base, query) = match url.find('?') {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    };
    let scheme_end = base.find("://")? + 3;
    let slash = base[scheme_end..].find('/')? + scheme_end;
    Some((&base[..slash], &base[slash + 1..], query))
}

/// Splits a database URL into the URL of the server's maintenance database
/// (`postgres`) and the database name.
pub fn split_database_url(url: &str) -> Option<(String, String)> {
    let (server, name, query) = url_parts(url)?;
    if name.is_empty() {
        return None;
    }
    Some((format!("{server}/postgres{query}"), name.to_string()))
}

/// Replaces the database name of a URL.
pub fn with_database(url: &str, name: &str) -> Option<String> {
    let (server, _, query) = url_parts(url)?;
    Some(format!("{server}/{name}{query}"))
}

/// Double-quotes an identifier for SQL that cannot take bind parameters
/// (CREATE DATABASE, SET ROLE).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Why the server could not get a database, in one line a person can act on.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "No se pudo conectar a PostgreSQL en {server} ({reason}). Inicie uno con `docker compose up -d db`, \
         instale PostgreSQL 15 o posterior, o indique otro servidor en DATABASE_URL."
    )]
    NoServer { server: String, reason: String },
    #[error("DATABASE_URL no es un URL de PostgreSQL con nombre de base de datos: postgres://usuario@servidor:puerto/base")]
    BadUrl,
    #[error("Error al preparar la base de datos: {0}")]
    Database(String),
    #[error("Error al aplicar las migraciones: {0}")]
    Migration(String),
}

fn server_of(url: &str) -> String {
    let after = url.split_once("://").map(|x| x.1).unwrap_or(url);
    let host = after.rsplit_once('@').map(|x| x.1).unwrap_or(after);
    host.split('/').next().unwrap_or(host).to_string()
}

/// Creates the database named in `url` when it does not exist yet.
pub async fn ensure_database(url: &str) -> Result<(), SetupError> {
    let (admin_url, name) = split_database_url(url).ok_or(SetupError::BadUrl)?;
    let mut conn = AsyncPgConnection::establish(&admin_url)
        .await
        .map_err(|e| SetupError::NoServer {
            server: server_of(url),
            reason: e.to_string().lines().next().unwrap_or_default().to_string(),
        })?;
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = Bool)]
        exists: bool,
    }
    let found = sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<diesel::sql_types::Text, _>(&name)
        .get_result::<Exists>(&mut conn)
        .await
        .map_err(|e| SetupError::Database(e.to_string()))?;
    if !found.exists {
        match sql_query(format!("CREATE DATABASE {}", quote_ident(&name)))
            .execute(&mut conn)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "database created"),
            // Another instance created it between the check and now.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(SetupError::Database(e.to_string())),
        }
    }
    Ok(())
}

/// Runs pending migrations under an advisory lock, so two instances starting
/// together never migrate at once. Diesel's migration harness is synchronous:
/// it runs on a blocking thread, never on an async worker.
pub async fn run_migrations(url: &str) -> Result<Vec<String>, SetupError> {
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)
            .map_err(|e| SetupError::NoServer {
            server: server_of(&url),
            reason: e.to_string(),
        })?;
        diesel::RunQueryDsl::execute(
            sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")),
            &mut conn,
        )
        .map_err(|e| SetupError::Migration(e.to_string()))?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(|v| v.to_string()).collect::<Vec<_>>())
            .map_err(|e| SetupError::Migration(e.to_string()))
            .and_then(|applied| {
                // The typed projections follow the form specs of this
                // binary: rebuilt (with the rollups) under the same lock
                // when the specs changed since the last build.
                if crate::figures::ensure_projections(&mut conn)
                    .map_err(|e| SetupError::Migration(e.to_string()))?
                {
                    tracing::info!("projections and rollups rebuilt from the form specs");
                }
                Ok(applied)
            });
        let _ = diesel::RunQueryDsl::execute(
            sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")),
            &mut conn,
        );
        applied
    })
    .await
    .map_err(|e| SetupError::Migration(e.to_string()))?
}

/// A statement of fixed text (`diesel::sql_query` with a `&'static str` and
/// its binds) kept in the connection's prepared-statement cache, like
/// diesel's own typed queries: it is parsed once per connection and then
/// costs one round trip (bind and execute) instead of two (diesel prepares
/// raw SQL anew every time, since it cannot know whether the text was built
/// at run time). Only for hot statements whose text never varies: the cache
/// is keyed by the text.
pub struct Prepared<Q>(pub Q);

impl<Q: diesel::query_builder::QueryFragment<diesel::pg::Pg>>
    diesel::query_builder::QueryFragment<diesel::pg::Pg> for Prepared<Q>
{
    fn walk_ast<'b>(
        &'b self,
        pass: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _: &diesel::pg::Pg) -> diesel::QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> diesel::query_builder::QueryId for Prepared<Q> {
    type QueryId = ();
    // Keyed by its text, not its type: one type serves many texts.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for Prepared<Q> {
    type SqlType = Q::SqlType;
}

/// For the rest of the caller's transaction, plans each statement with its
/// parameters instead of a generic plan. A long import runs the same
/// statements once per chunk while its own rows, not yet committed, are
/// invisible to the table's statistics: from the sixth execution
/// PostgreSQL may switch to a generic plan made for the empty table it
/// believes in (seen: the folio lookup of a 5,000-row chunk going from 10
/// ms to 2 s, scanning the rows the import wrote). Planning each time costs
/// a fraction of a millisecond a chunk.
pub async fn plan_with_parameters(conn: &mut AsyncPgConnection) -> StoreResult<()> {
    sql_query("SET LOCAL plan_cache_mode = force_custom_plan")
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_split_into_server_and_name() {
        assert_eq!(
            split_database_url("postgres://postgres@127.0.0.1:5432/sintra"),
            Some((
                "postgres://postgres@127.0.0.1:5432/postgres".into(),
                "sintra".into()
            ))
        );
        assert_eq!(
            split_database_url("postgres://u:p@h/db_x?sslmode=disable"),
            Some((
                "postgres://u:p@h/postgres?sslmode=disable".into(),
                "db_x".into()
            ))
        );
        assert_eq!(split_database_url("postgres://h:5432/"), None);
        assert_eq!(
            with_database("postgres://u@h:1/a?x=1", "b").as_deref(),
            Some("postgres://u@h:1/b?x=1")
        );
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "t").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/t")
        );
        assert_eq!(
            server_of("postgres://u:secret@db.local:5433/x"),
            "db.local:5433"
        );
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}
