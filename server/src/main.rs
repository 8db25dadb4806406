//! `statuspulse-server`: serve, migrate, bootstrap, audit verify.

// glibc malloc serialises on its arena locks when one worker frees what another allocated, which
// the verify hot path does on every request; mimalloc keeps that off the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use statuspulse_server::platform::config::{DatabaseArgs, ServeArgs};
use statuspulse_server::{Application, Clock, Settings};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "statuspulse-server",
    version,
    about = "StatusPulse Auth server"
)]
struct Cli {
    /// `text` (default) or `json` logs.
    #[arg(
        long,
        global = true,
        env = "STATUSPULSE_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Create the first (operator) workspace and its admin key; prints the key once, on stdout.
    Bootstrap {
        #[command(flatten)]
        db: DatabaseArgs,
        #[arg(long, default_value = "operator")]
        workspace_name: String,
    },
    /// Audit log tools.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Prove audit chains complete: every workspace's chain in the database, or an export file
    /// (`GET /v1/audit-events/export`) offline. Exits 1 when any chain is broken.
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    /// An export (JSON Lines) to verify offline: no database is opened (`--database-url` is
    /// ignored).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Only this workspace's chain (`ws_…`).
    #[arg(long)]
    workspace: Option<String>,
    #[command(flatten)]
    db: DatabaseArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    match cli.command {
        Command::Audit(AuditCommand::Verify(args)) => return verify_audit(args).await,
        Command::Serve(args) => serve(*args).await?,
        Command::Migrate(db) => {
            let db = statuspulse_server::platform::db::Db::connect(&db.database_url).await?;
            db.migrate().await?;
            eprintln!("database is up to date");
        }
        Command::Bootstrap { db, workspace_name } => {
            let (workspace, key) = statuspulse_server::bootstrap(
                Settings::for_database(db.database_url),
                &workspace_name,
            )
            .await?;
            eprintln!(
                "created operator workspace {} ({}) and admin key {}; the key below is shown once:",
                workspace.name, workspace.id, key.api_key.key_id
            );
            println!("{}", key.key.expose());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one line per chain on stdout; success only when every chain verifies.
async fn verify_audit(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    use statuspulse_server::audit::verify;
    let chains = match &args.file {
        Some(path) => {
            let file = std::fs::File::open(path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            verify::verify_export(std::io::BufReader::new(file), args.workspace.as_deref())?
        }
        None => {
            let db = statuspulse_server::platform::db::Db::connect(&args.db.database_url).await?;
            verify::verify_database(db.pool(), args.workspace.as_deref()).await?
        }
    };
    for chain in &chains {
        println!("{}", chain.summary());
    }
    if chains.is_empty() {
        println!("no audit events to verify");
    }
    Ok(if chains.iter().all(verify::ChainVerifier::is_intact) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Before the settings: the default connection limit is derived from the raised limit.
    if let Some(limit) = statuspulse_server::http::serve::raise_open_file_limit() {
        tracing::info!(limit, "open-file limit");
    }
    let settings = Settings::from_args(args)?;
    let clock = if cfg!(feature = "test-clock") {
        tracing::warn!(
            "built with test-clock: POST /_test/clock can move time; never deploy this build"
        );
        Clock::controllable()
    } else {
        Clock::system()
    };
    let app = Application::build_with_clock(settings, clock).await?;
    let addr = app.local_addr();
    tracing::info!("listening on http://{addr}");
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down");
}

fn init_logging(format: &str) {
    let filter = EnvFilter::try_from_env("STATUSPULSE_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
