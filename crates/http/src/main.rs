//! `sintra`: runs the API (`serve`, the default), prints the OpenAPI spec
//! (`openapi`), applies the migrations (`migrate`) or fills an empty
//! database with a synthetic country (`demo-data`).

// A command-line program: what it prints is its answer (the spec, the
// first admin's one-time password, the demo's summary, start-up errors).
#![allow(clippy::print_stdout, clippy::print_stderr)]

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
    /// Fill an EMPTY database with a synthetic country for frontend work
    /// and demos (institutions and accounts in the 32 entities, commissions,
    /// victims with repeats, cases through sentence), deterministic by seed.
    DemoData {
        /// Same seed, same content.
        #[arg(long, default_value_t = sintra_http::demo::DEFAULT_SEED)]
        seed: u64,
        /// `full` (about 3,300 victims) or `small` (a few hundred records).
        #[arg(long, value_enum, default_value_t = sintra_http::demo::DemoSize::Full)]
        size: sintra_http::demo::DemoSize,
    },
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
    if let Err(e) = run(Cli::parse()) {
        eprintln!("sintra: {e}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            // Through a `Value` (sorted keys): utoipa keeps extensions in a
            // HashMap, and the committed file must not change between runs.
            let spec =
                serde_json::to_value(openapi()).and_then(|v| serde_json::to_string_pretty(&v))?;
            println!("{spec}");
            Ok(())
        }
        Command::Migrate => runtime()?.block_on(migrate()),
        Command::Serve => runtime()?.block_on(serve()),
        Command::DemoData { seed, size } => {
            runtime()?.block_on(demo_data(sintra_http::demo::DemoOptions { seed, size }))
        }
        Command::Audit {
            command: AuditCommand::Checkpoint,
        } => runtime()?.block_on(audit_checkpoint()),
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
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

async fn demo_data(options: sintra_http::demo::DemoOptions) -> anyhow::Result<()> {
    use sintra_domain::access::Role;
    telemetry::init_logging();
    let config = Config::from_env()?;
    prepare(&config).await?;
    let pool = db::build_pool(&config.db_config(std::time::Duration::from_secs(30)))?;
    let started = std::time::Instant::now();
    let report = sintra_http::demo::fill(&pool, &config, &options).await?;
    let total: usize = report.records.values().sum();
    println!(
        "Datos de demostración escritos (semilla {}, tamaño {}) en {:.0} s: {} instituciones, {} cuentas, {total} registros.",
        options.seed,
        options.size.as_str(),
        started.elapsed().as_secs_f64(),
        report.institutions,
        report.accounts.len(),
    );
    for (form, n) in &report.records {
        println!("  {form}: {n}");
    }
    println!(
        "  víctimas registradas con aviso de posible duplicado: {}",
        report.victims_with_warnings
    );
    println!(
        "Cuentas: contraseña «{}» para todas; en las de personas es de un solo uso (cámbiela al entrar, \
         antes de SINTRA_ONE_TIME_PASSWORD_HOURS); la de la cuenta de servicio es su client_secret.",
        sintra_http::demo::DEMO_PASSWORD
    );
    for a in report.accounts.iter().filter(|a| a.role != Role::Operator) {
        println!(
            "  {:<22} {:<15} {} ({})",
            a.username,
            a.role.as_str(),
            a.institution,
            a.entity_code
        );
    }
    println!(
        "  y un operador por institución: <entidad>.fiscalia, <entidad>.ceav, <entidad>.gobierno \
         (nl.fiscalia, cdmx.ceav, jal.gobierno…)."
    );
    Ok(())
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
    if !config.cors_origins.is_empty() {
        tracing::info!(origins = %config.cors_origins, "CORS allowed for these origins only");
    }
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
