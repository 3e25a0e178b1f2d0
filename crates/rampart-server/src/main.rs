//! `rampart`: the command line of the Rampart API.
#![forbid(unsafe_code)]

use std::{io::Write as _, process::ExitCode};

use clap::{Parser, Subcommand};
use rampart_server::{
    checks,
    config::{ConfigError, Environment, Settings, Source},
    openapi, server,
    store::Database,
    telemetry,
};

/// A hardened HTTP API. Configuration comes from RAMPART_* environment
/// variables and ./.env; see the README for the full table.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and the admin listener (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Audit the configuration for production; exit 1 on any failure.
    Check,
    /// Print the OpenAPI 3.1 document as JSON on stdout.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log_guard = telemetry::init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => print_openapi(),
        Command::Check => check(),
        Command::Migrate => run_async(migrate()),
        Command::Serve => run_async(serve()),
    }
}

fn run_async(fut: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => fail(format!("cannot start the async runtime: {e}")),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    tracing::error!("{message}");
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::FAILURE
}

fn load() -> Result<Settings, ConfigError> {
    Settings::from_source(&Source::from_process()?)
}

fn print_openapi() -> ExitCode {
    match serde_json::to_string_pretty(&openapi::document()) {
        Ok(json) => {
            let _ = writeln!(std::io::stdout(), "{json}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("cannot render the OpenAPI document: {e}")),
    }
}

fn check() -> ExitCode {
    let settings = match load() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let report = checks::production(&settings);
    let _ = writeln!(std::io::stdout(), "{report}");
    if report.has_failures() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn migrate() -> ExitCode {
    let settings = match load() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let db = match Database::connect(&settings).await {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    let result = db.migrate().await;
    db.close().await;
    match result {
        Ok(()) => {
            tracing::info!("migrations applied");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn serve() -> ExitCode {
    let mut settings = match load() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    match settings.ensure_development_keys() {
        Ok(warnings) => warnings.iter().for_each(|w| tracing::warn!("{w}")),
        Err(e) => return fail(e),
    }
    let report = checks::production(&settings);
    if settings.env == Environment::Production && report.has_failures() {
        for finding in report.findings() {
            tracing::error!(
                id = finding.id,
                advice = finding.advice,
                "{}",
                finding.message
            );
        }
        return fail(format!(
            "refusing to start in production with failing checks:\n{report}"
        ));
    }
    let running = match server::start(settings, None).await {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    wait_for_signal().await;
    tracing::info!("shutting down");
    running.shutdown().await;
    ExitCode::SUCCESS
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
