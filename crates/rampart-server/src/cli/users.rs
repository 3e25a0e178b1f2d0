//! `rampart users set-role`.

use std::process::ExitCode;

use rampart::audit::{AuditEvent, EventType};

use super::{CliError, load, say, with_database};
use crate::domain::Role;

pub(super) async fn set_role(username: String, role: String) -> Result<ExitCode, CliError> {
    let role = Role::parse(&role).map_err(|m| CliError::Message(format!("role {m}")))?;
    let no_such_user = || CliError::Message(format!("no user named {username}"));
    let settings = load().await?;
    let (user, before) = with_database(&settings, async |db| {
        let users = db.users();
        let user = users
            .by_username(&username)
            .await?
            .ok_or_else(no_such_user)?;
        let target = user.id;
        users
            .set_role(user.id, role, |before| {
                AuditEvent::new(EventType::PermissionChange)
                    .detail("target_user", target)
                    .detail("from", before.as_str())
                    .detail("to", role.as_str())
                    .detail("via", "cli")
            })
            .await?
            .ok_or_else(no_such_user)
    })
    .await?;
    tracing::info!(target: "rampart::security", event_type = "permission_change", user_id = user.id.get(), from = before.as_str(), to = role.as_str(), "role changed from the command line");
    say(format_args!("{}: {} -> {}", user.username, before, role));
    Ok(ExitCode::SUCCESS)
}
