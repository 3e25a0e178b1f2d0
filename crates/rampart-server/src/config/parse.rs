//! Parsers for one variable each; every error names its variable.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use ipnet::IpNet;

use super::{ConfigError, Source, invalid};

pub(super) fn parse_num<T>(
    src: &Source,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = src.get(name) else {
        return Ok(default);
    };
    let value: T = raw
        .trim()
        .parse()
        .map_err(|_| invalid(name, format!("{raw:?} is not a whole number")))?;
    if value < min || value > max {
        return Err(invalid(name, format!("{value} is outside {min}..={max}")));
    }
    Ok(value)
}

pub(super) fn parse_bool(
    src: &Source,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    let Some(raw) = src.get(name) else {
        return Ok(default);
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            name,
            format!("{raw:?} is not a boolean (true or false)"),
        )),
    }
}

pub(super) fn parse_addr(
    src: &Source,
    name: &'static str,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let raw = src.get(name).unwrap_or(default).trim();
    raw.parse().map_err(|_| {
        invalid(
            name,
            format!("{raw:?} is not a socket address (expected IP:PORT, e.g. 127.0.0.1:8080)"),
        )
    })
}

/// An optional absolute `http(s)` URL.
pub(super) fn parse_http_url(
    src: &Source,
    name: &'static str,
) -> Result<Option<http::Uri>, ConfigError> {
    let Some(raw) = src.get(name) else {
        return Ok(None);
    };
    let uri: http::Uri = raw
        .trim()
        .parse()
        .map_err(|_| invalid(name, "is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(invalid(name, "must be an absolute http(s) URL"));
    }
    Ok(Some(uri))
}

pub(super) fn parse_proxy(entry: &str) -> Result<IpNet, String> {
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{entry:?} is not an IP address or CIDR block"))
}

pub(super) fn secs(
    src: &Source,
    name: &'static str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    parse_num(src, name, default, min, max).map(Duration::from_secs)
}
