//! `rampart admin create`: the first administrator, password from stdin.

use std::process::ExitCode;

use rampart::{
    audit::{AuditEvent, EventType},
    password::PasswordHasher,
};

use super::{CliError, load, say, with_database};
use crate::{
    domain::{Email, Password, Role, Username},
    users::store::{NewUser, Profile},
};

pub(super) async fn create(username: String, email: String) -> Result<ExitCode, CliError> {
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|_| CliError::Message("cannot read the password from standard input".into()))?;
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
            return Err(CliError::Message(problems.join("; ")));
        }
    };
    let settings = load().await?;
    let user = with_database(&settings, async |db| {
        let hash = PasswordHasher::new(1)
            .hash(password.into_secret())
            .await
            .map_err(|e| CliError::Message(e.to_string()))?;
        let user = db
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
            .await?;
        Ok(user)
    })
    .await?;
    tracing::info!(target: "rampart::security", event_type = "permission_change", user_id = user.id.get(), role = "admin", "administrator created");
    say(format_args!(
        "created administrator {} (id {})",
        user.username, user.id
    ));
    Ok(ExitCode::SUCCESS)
}
