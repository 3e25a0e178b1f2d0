//! The `rampart` command line: one file per command. Every command returns
//! its exit code or a [`CliError`]; [`run`] is the one place an error is
//! printed and turned into exit status 1.

mod admin;
mod audit;
mod check;
mod keys;
mod migrate;
mod openapi;
mod retention;
mod scan;
mod serve;
mod users;

use std::{io::Write as _, process::ExitCode};

use clap::{Parser, Subcommand};

use crate::{
    audit::{checkpoints::CheckpointError, retention::PurgeError},
    config::{ConfigError, Settings, Source},
    startup::StartError,
    store::{Database, StoreError},
};

/// A hardened HTTP API. Configuration comes from RAMPART_* environment
/// variables and ./.env; see the README for the full table.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about = None)]
pub struct Cli {
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
    /// Administrator accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// User accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// The security audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Data keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Retention rules.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Probe a running HTTP API from the outside; exit 1 on any failed check.
    Scan {
        /// Base URL, e.g. http://127.0.0.1:8080
        url: String,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Delete audit entries older than RAMPART_AUDIT_RETENTION_DAYS, keeping
    /// the rest verifiable from a signed anchor.
    Purge,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-encrypt every health record under the highest RAMPART_DATA_KEYS
    /// version; safe to interrupt and run again.
    RotateDataKey,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; exit 1 naming the first bad sequence number.
    Verify,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator; the password is read from standard input.
    Create {
        /// Username (3–50 of A-Z a-z 0-9 _).
        #[arg(long)]
        username: String,
        /// Email address.
        #[arg(long)]
        email: String,
        /// Read the password from standard input (required: never pass it as an argument).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Set a user's role (user, clinician, billing, auditor, admin).
    SetRole {
        /// Username.
        #[arg(long)]
        username: String,
        /// The new role.
        #[arg(long)]
        role: String,
    },
}

/// Why a command failed; printed once, by [`run`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is invalid or its secrets provider unreadable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The server could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The audit checkpoints could not be read or written.
    #[error(transparent)]
    Checkpoints(#[from] CheckpointError),
    /// The retention purge refused or failed.
    #[error(transparent)]
    Purge(#[from] PurgeError),
    /// Anything else, said in words (bad arguments, a failed scan).
    #[error("{0}")]
    Message(String),
}

impl Cli {
    /// Runs the command (serve when none is given) and returns the process
    /// exit status.
    pub fn run(self) -> ExitCode {
        let command = self.command.unwrap_or(Command::Serve);
        let result = match command {
            Command::Openapi => openapi::run(),
            command => tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Message(format!("cannot start the async runtime: {e}")))
                .and_then(|rt| rt.block_on(dispatch(command))),
        };
        match result {
            Ok(code) => code,
            Err(e) => {
                tracing::error!("{e}");
                let _ = writeln!(std::io::stderr(), "error: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

async fn dispatch(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Openapi => openapi::run(),
        Command::Check => check::run().await,
        Command::Migrate => migrate::run().await,
        Command::Serve => serve::run().await,
        Command::Admin(AdminCommand::Create {
            username, email, ..
        }) => admin::create(username, email).await,
        Command::Users(UsersCommand::SetRole { username, role }) => {
            users::set_role(username, role).await
        }
        Command::Audit(AuditCommand::Verify) => audit::verify().await,
        Command::Scan { url } => scan::run(url).await,
        Command::Keys(KeysCommand::RotateDataKey) => keys::rotate_data_key().await,
        Command::Retention(RetentionCommand::Purge) => retention::purge().await,
    }
}

/// Settings from the process environment and `.env`, with the secrets
/// provider read (an unreachable provider is an error naming it).
async fn load() -> Result<Settings, CliError> {
    Ok(Settings::load(&Source::from_process()?).await?)
}

/// Runs `work` on the migrated database of `settings`, closing the
/// database afterwards whatever `work` returned.
async fn with_database<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(&Database) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let db = Database::connect(settings).await?;
    let result = match db.migrate().await {
        Ok(()) => work(&db).await,
        Err(e) => Err(e.into()),
    };
    db.close().await;
    result
}

/// Writes one line to standard output (a closed pipe is not an error).
fn say(line: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout(), "{line}");
}
