//! `statuspulse-server`: serve, migrate, bootstrap.

// glibc malloc serialises on its arena locks when one worker frees what another allocated, which
// the verify hot path does on every request; mimalloc keeps that off the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(db) => {
            let db = statuspulse_server::platform::db::Db::connect(&db.database_url).await?;
            db.migrate().await?;
            eprintln!("database is up to date");
            Ok(())
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
            Ok(())
        }
    }
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
