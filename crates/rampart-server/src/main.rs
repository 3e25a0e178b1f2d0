//! `rampart`: the command line of the Rampart API.
#![forbid(unsafe_code)]

use std::{io::Write as _, process::ExitCode};

use clap::{Parser, Subcommand};
use rampart::{
    audit::{AuditEvent, EventType},
    password::PasswordHasher,
};
use rampart_server::{
    checkpoints::Checkpoints,
    checks,
    config::{ConfigError, Environment, Settings, Source},
    domain::{Email, Password, Role, Username},
    openapi,
    retention::Purged,
    server,
    store::{
        Database,
        users::{NewUser, Profile},
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log_guard = telemetry::init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => print_openapi(),
        Command::Check => run_async(check()),
        Command::Migrate => run_async(migrate()),
        Command::Serve => run_async(serve()),
        Command::Admin(AdminCommand::Create {
            username, email, ..
        }) => run_async(admin_create(username, email)),
        Command::Users(UsersCommand::SetRole { username, role }) => {
            run_async(set_role(username, role))
        }
        Command::Audit(AuditCommand::Verify) => run_async(audit_verify()),
        Command::Scan { url } => run_async(scan(url)),
        Command::Keys(KeysCommand::RotateDataKey) => run_async(rotate_data_key()),
        Command::Retention(RetentionCommand::Purge) => run_async(retention_purge()),
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

/// Settings from the process environment and `.env`, with the secrets
/// provider read (an unreachable provider is an error naming it).
async fn load() -> Result<Settings, ConfigError> {
    Settings::load(&Source::from_process()?).await
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

async fn check() -> ExitCode {
    let settings = match load().await {
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
    let settings = match load().await {
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
    let mut settings = match load().await {
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

/// The settings, what `build` makes of them (checked before the database
/// is opened), and the database; or the exit code of the first failure.
async fn with_database<T, E: std::fmt::Display>(
    build: impl FnOnce(&Settings) -> Result<T, E>,
) -> Result<(Settings, T, Database), ExitCode> {
    let settings = load().await.map_err(fail)?;
    let built = build(&settings).map_err(fail)?;
    let db = open_database_with(&settings).await?;
    Ok((settings, built, db))
}

async fn open_database() -> Result<Database, ExitCode> {
    open_database_with(&load().await.map_err(fail)?).await
}

/// For commands that already loaded the settings (no second read of the
/// environment and `.env`).
async fn open_database_with(settings: &Settings) -> Result<Database, ExitCode> {
    let db = Database::connect(settings).await.map_err(fail)?;
    db.migrate().await.map_err(fail)?;
    Ok(db)
}

async fn admin_create(username: String, email: String) -> ExitCode {
    let mut password = String::new();
    if std::io::stdin().read_line(&mut password).is_err() {
        return fail("cannot read the password from standard input");
    }
    let password = password.trim_end_matches(['\r', '\n']);
    let (username, email, password) = match (
        Username::parse(&username),
        Email::parse(&email),
        Password::parse(password, &[&username, &email]),
    ) {
        (Ok(u), Ok(e), Ok(p)) => (u, e, p),
        (u, e, p) => {
            let problems: Vec<String> = [
                u.err().map(|m| format!("username {m}")),
                e.err().map(|m| format!("email {m}")),
                p.err().map(|m| format!("password {m}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            return fail(problems.join("; "));
        }
    };
    let db = match open_database().await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let hasher = PasswordHasher::new(1);
    let hash = match hasher.hash(password.into_secret()).await {
        Ok(h) => h,
        Err(e) => return fail(e),
    };
    let result = db
        .users()
        .insert(
            &NewUser {
                username: username.as_str(),
                email: email.as_str(),
                password_hash: &hash,
                role: Role::Admin,
                profile: Profile::default(),
            },
            AuditEvent::new(EventType::PermissionChange)
                .detail("role", "admin")
                .detail("via", "cli"),
        )
        .await;
    db.close().await;
    match result {
        Ok(user) => {
            tracing::info!(target: "rampart::security", event_type = "permission_change", user_id = user.id, role = "admin", "administrator created");
            let _ = writeln!(
                std::io::stdout(),
                "created administrator {} (id {})",
                user.username,
                user.id
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn set_role(username: String, role: String) -> ExitCode {
    let role = match Role::parse(&role) {
        Ok(r) => r,
        Err(m) => return fail(format!("role {m}")),
    };
    let db = match open_database().await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let users = db.users();
    let result = match users.by_username(&username).await {
        Ok(Some(user)) => {
            let target = user.id;
            users
                .set_role(user.id, role, |before| {
                    AuditEvent::new(EventType::PermissionChange)
                        .detail("target_user", target)
                        .detail("from", before.as_str())
                        .detail("to", role.as_str())
                        .detail("via", "cli")
                })
                .await
        }
        Ok(None) => {
            db.close().await;
            return fail(format!("no user named {username}"));
        }
        Err(e) => Err(e),
    };
    db.close().await;
    match result {
        Ok(Some((user, before))) => {
            tracing::info!(target: "rampart::security", event_type = "permission_change", user_id = user.id, from = before.as_str(), to = role.as_str(), "role changed from the command line");
            let _ = writeln!(
                std::io::stdout(),
                "{}: {} -> {}",
                user.username,
                before,
                role
            );
            ExitCode::SUCCESS
        }
        Ok(None) => fail(format!("no user named {username}")),
        Err(e) => fail(e),
    }
}

async fn audit_verify() -> ExitCode {
    let (_, checkpoints, db) = match with_database(Checkpoints::open).await {
        Ok(parts) => parts,
        Err(code) => return code,
    };
    let result = checkpoints.verify_reporting(&db).await;
    db.close().await;
    if let Ok((_, warnings)) = &result {
        for w in warnings {
            let _ = writeln!(std::io::stdout(), "warning: {w}");
        }
    }
    match result.map(|(v, _)| v) {
        Ok(v) if v.ok => {
            let _ = writeln!(std::io::stdout(), "audit chain ok: {} entries", v.entries);
            ExitCode::SUCCESS
        }
        Ok(v) => {
            let seq = v
                .first_bad_seq
                .map_or_else(|| "?".to_owned(), |s| s.to_string());
            let _ = writeln!(
                std::io::stdout(),
                "audit chain BROKEN at seq {seq} ({} entries examined)",
                v.entries
            );
            ExitCode::FAILURE
        }
        Err(e) => fail(e),
    }
}

async fn scan(url: String) -> ExitCode {
    match rampart_server::scan::scan(&url).await {
        Ok(findings) => {
            let mut out = std::io::stdout();
            for f in &findings {
                let _ = writeln!(out, "{f}");
            }
            let failed = findings.iter().filter(|f| !f.passed).count();
            let _ = writeln!(out, "{} passed, {failed} failed", findings.len() - failed);
            if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => fail(format!("scan of {url} failed: {e}")),
    }
}

async fn rotate_data_key() -> ExitCode {
    let (_, cipher, db) = match with_database(server::field_cipher).await {
        Ok(parts) => parts,
        Err(code) => return code,
    };
    let result = rampart_server::routes::health_records::rotate(&db, &cipher).await;
    db.close().await;
    match result {
        Ok((rotated, total)) => {
            let _ = writeln!(
                std::io::stdout(),
                "re-encrypted {rotated} of {total} health records under key v{}",
                cipher.current_version()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

async fn retention_purge() -> ExitCode {
    let (settings, checkpoints, db) = match with_database(Checkpoints::open).await {
        Ok(parts) => parts,
        Err(code) => return code,
    };
    let result =
        rampart_server::retention::purge(&db, &checkpoints, settings.audit_retention_days).await;
    db.close().await;
    match result {
        Ok(Purged::Through {
            seq,
            removed,
            cutoff,
        }) => {
            let _ = writeln!(
                std::io::stdout(),
                "purged {removed} audit entries through seq {seq} (older than {cutoff})"
            );
            ExitCode::SUCCESS
        }
        Ok(Purged::Nothing { cutoff }) => {
            let _ = writeln!(
                std::io::stdout(),
                "nothing older than {cutoff} (and covered by a signed checkpoint) to purge"
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
