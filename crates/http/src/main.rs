//! `sintra`: runs the API (`serve`, the default), prints the OpenAPI spec
//! (`openapi`) or applies the migrations (`migrate`).

#[global_allocator]
static ALLOCATOR: sintra_http::Allocator = sintra_http::Allocator;

use actix_web::HttpServer;
use clap::{Parser, Subcommand};
use sintra_http::bootstrap::{self, Bootstrap};
use sintra_http::config::Config;
use sintra_http::{build_app, metrics, openapi, telemetry, AppState};
use sintra_persistence::db;

#[derive(Parser)]
#[command(
    name = "sintra",
    about = "SINTRA: Sistema Nacional de Información de Víctimas de Trata de Personas"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API (creates the database if missing and migrates it).
    Serve,
    /// Print the OpenAPI document as JSON.
    Openapi,
    /// Create the database if missing and apply pending migrations.
    Migrate,
    /// The audit log, for schedulers and operators.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Chain what is committed and print a signed checkpoint of the chain's
    /// head as JSON, to keep outside the database.
    Checkpoint,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            // Through a `Value` (sorted keys): utoipa keeps extensions in a
            // HashMap, and the committed file must not change between runs.
            let spec = serde_json::to_value(openapi())
                .and_then(|v| serde_json::to_string_pretty(&v))
                .expect("the spec serializes");
            println!("{spec}");
            Ok(())
        }
        Command::Migrate => runtime().block_on(migrate()),
        Command::Serve => runtime().block_on(serve()),
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => runtime().block_on(audit_checkpoint()),
    };
    if let Err(e) = result {
        eprintln!("sintra: {e}");
        std::process::exit(1);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn prepare(config: &Config) -> anyhow::Result<()> {
    db::ensure_database(&config.database_url).await?;
    let applied = db::run_migrations(&config.database_url).await?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "migrations applied");
    }
    Ok(())
}

async fn migrate() -> anyhow::Result<()> {
    telemetry::init_logging();
    let config = Config::from_env()?;
    prepare(&config).await
}

async fn audit_checkpoint() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let pool = db::build_pool(&db::DbConfig {
        max_size: 1,
        ..config.db_config(std::time::Duration::from_secs(30))
    })?;
    let key = &config.audit_signing_key;
    let (signed, head) = sintra_services::audit::checkpoint(&pool, key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("la bitácora está vacía: no hay nada que firmar"))?;
    let out = sintra_http::routes::audit::CheckpointOut::new(&signed, head.event_id, key);
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

async fn serve() -> anyhow::Result<()> {
    telemetry::init_logging();
    let config = Config::from_env()?;
    prepare(&config).await?;
    let pool = db::build_pool(&config.db_config(std::time::Duration::from_secs(5)))?;
    match bootstrap::first_admin(&pool, &config).await? {
        Bootstrap::Created {
            username,
            generated_password: Some(password),
        } => {
            // Printed once to the console, never to the logs.
            println!(
                "Primer administrador nacional creado: usuario «{username}», contraseña de un solo uso «{password}». \
                 Cámbiela al entrar."
            );
        }
        Bootstrap::Created {
            username,
            generated_password: None,
        } => {
            println!("Primer administrador nacional creado: usuario «{username}».");
        }
        Bootstrap::NotNeeded => {}
    }
    let bind = config.bind.clone();
    tokio::spawn(sintra_services::audit::run_sealer(
        pool.clone(),
        sintra_services::audit::SEAL_INTERVAL,
    ));
    tokio::spawn(sintra_services::figures::run_compactor(
        pool.clone(),
        sintra_persistence::rollup::COMPACT_INTERVAL,
    ));
    // Name frequencies for duplicate checks: people stored before they
    // existed are counted once, then changes are folded in every 10 s.
    tokio::spawn({
        let pool = pool.clone();
        async move {
            match sintra_services::duplicates::backfill_name_terms(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(people = n, "name frequencies: people counted"),
                Err(e) => tracing::warn!(error = %e, "name frequencies: backfill failed"),
            }
            sintra_services::duplicates::run_frequency_folder(
                pool,
                std::time::Duration::from_secs(10),
            )
            .await
        }
    });
    let state = AppState::new(pool, config);
    // Import jobs of every instance run here too; a job this server left
    // half-way (restart) is taken over once its heartbeat is stale.
    sintra_http::spawn_workers(&state);
    let metrics = metrics();
    tracing::info!(%bind, "SINTRA API listening");
    println!("SINTRA API en http://{bind} (documentación: http://{bind}/docs/)");
    HttpServer::new(move || build_app(state.clone(), metrics.clone()))
        .bind(&bind)?
        .shutdown_timeout(30)
        .run()
        .await?;
    Ok(())
}
