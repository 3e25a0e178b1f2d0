//! `/api/v2/tools/ping`: the classic command-injection target, made safe.
//!
//! - the host must match `^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$` (no spaces, no
//!   leading `-`, no shell characters), else 400;
//! - no shell is involved: `ping` runs with its arguments as a vector, and
//!   it is given the resolved IP address, never the name, so nothing the
//!   client sends is parsed by a shell or re-resolved;
//! - every address the name resolves to is checked, so DNS answers (or
//!   spellings like `0x7f000001`) cannot reach private, loopback,
//!   link-local or other reserved ranges unless
//!   `RAMPART_DIAGNOSTICS_ALLOW_PRIVATE` is set (403);
//! - at most 4 pings run at once; without a `ping` program the answer is 503.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use axum::{Json, extract::State, http::StatusCode};
use rampart::{audit::EventType, input::Query, problem::Problem};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use utoipa::{IntoParams, ToSchema};

use crate::{
    audit::events::Ctx,
    auth::caller::Caller,
    domain::Role,
    http::error::{ApiError, Result},
    state::AppState,
};

static PING_PERMITS: Semaphore = Semaphore::const_new(4);

/// Query of the ping route.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PingQuery {
    /// A host name or IP address.
    #[param(
        min_length = 1,
        max_length = 253,
        pattern = "^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$"
    )]
    pub host: String,
}

/// The outcome of one ping.
#[derive(Debug, Serialize, ToSchema)]
pub struct PingResult {
    /// The host as asked.
    pub host: String,
    /// Whether an echo reply came back.
    pub reachable: bool,
    /// Round-trip time, when reachable.
    pub rtt_ms: Option<f64>,
}

/// Whether `host` fits the grammar.
pub fn valid_host(host: &str) -> bool {
    let b = host.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'-')
}

/// Private, loopback, link-local and other non-public ranges.
pub fn is_restricted(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| restricted_v6(v6), restricted_v4),
    }
}

fn restricted_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn restricted_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64 onto IPv4
}

/// Pings a host (admins only).
#[utoipa::path(get, operation_id = "pingHost", path = "/api/v2/tools/ping", tag = "admin", security(("bearer" = [])),
    params(PingQuery),
    responses(
        (status = 200, body = PingResult),
        (status = 400, description = "Host does not match the grammar", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin, or a private target", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No ping program available", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn ping(
    State(state): State<AppState>,
    caller: Caller,
    ctx: Ctx,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
    query: std::result::Result<Query<PingQuery>, Problem>,
) -> Result<Json<PingResult>> {
    caller.require_role(&[Role::Admin]).await?;
    // A host with a control character is a host that does not match the
    // pattern (400), however the query extractor would have refused it.
    let control = url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .any(|(_, v)| v.chars().any(char::is_control));
    let q = if control {
        PingQuery {
            host: String::new(),
        }
    } else {
        query.map_err(ApiError::from)?.0
    };
    if !valid_host(&q.host) {
        return Err(Problem::new(StatusCode::BAD_REQUEST)
            .with_detail("host must be a host name or IP address (letters, digits, '.', '-').")
            .into());
    }
    let resolved: Vec<IpAddr> = match tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::lookup_host((q.host.as_str(), 0)),
    )
    .await
    {
        Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
        _ => Vec::new(),
    };
    let Some(&target) = resolved.first() else {
        return Ok(Json(PingResult {
            host: q.host,
            reachable: false,
            rtt_ms: None,
        }));
    };
    if !state.settings.outbound.diagnostics_allow_private
        && resolved.iter().any(|ip| is_restricted(*ip))
    {
        state
            .audit
            .record_or_log(
                ctx.event(EventType::SecurityViolation)
                    .user(caller.id)
                    .detail("reason", "ping_private_target")
                    .detail("host", q.host.as_str()),
            )
            .await;
        return Err(Problem::new(StatusCode::FORBIDDEN)
            .with_detail("Private, loopback and link-local targets are not allowed.")
            .into());
    }
    let _permit = PING_PERMITS.acquire().await.map_err(ApiError::internal)?;
    let family = if target.is_ipv6() { "-6" } else { "-4" };
    let output = tokio::process::Command::new("ping")
        .args([family, "-n", "-c", "1", "-W", "2", &target.to_string()])
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(Duration::from_secs(5), output).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE)
                .with_detail("Ping is not available on this server.")
                .into());
        }
        Ok(Err(e)) => return Err(ApiError::internal(format!("ping failed to start: {e}"))),
        Err(_) => {
            return Ok(Json(PingResult {
                host: q.host,
                reachable: false,
                rtt_ms: None,
            }));
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let rtt_ms = text
        .split("time=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok());
    Ok(Json(PingResult {
        host: q.host,
        reachable: output.status.success(),
        rtt_ms: rtt_ms.filter(|_| output.status.success()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_grammar() {
        for ok in ["example.com", "a", "10.0.0.1", "my-host.example"] {
            assert!(valid_host(ok), "{ok}");
        }
        for bad in [
            "",
            "-c",
            "--help",
            "a b",
            "a;b",
            "$(id)",
            "a|b",
            "`id`",
            ".a",
            &"a".repeat(254),
            "a_b",
            "ä.com",
        ] {
            assert!(!valid_host(bad), "{bad}");
        }
    }

    #[test]
    fn restricted_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "224.0.0.1",
        ] {
            assert!(is_restricted(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!is_restricted(ip.parse().unwrap()), "{ip}");
        }
    }
}
