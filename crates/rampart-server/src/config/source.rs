//! Where variables come from: the process environment over `.env`.

use std::{collections::HashMap, fmt};

use super::{ConfigError, invalid};

/// Where variables come from: the process environment over `.env`.
///
/// Besides `RAMPART_*`, the standard `AWS_*` variables are kept for the
/// `aws` secrets provider (so they may be in `.env` too).
#[derive(Clone, Default)]
pub struct Source {
    pub(super) vars: HashMap<String, String>,
    /// Whether the variables came from the process (the `env` secrets
    /// provider then re-reads the process and `.env` on refresh).
    pub(super) process: bool,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Source")
            .field("names", &names)
            .field("process", &self.process)
            .finish()
    }
}

fn is_ours(name: &str) -> bool {
    name.starts_with("RAMPART_") || name.starts_with("AWS_")
}

impl Source {
    /// The process environment, on top of `./.env` when it exists.
    pub fn from_process() -> Result<Self, ConfigError> {
        let mut vars = HashMap::new();
        // The library's reader: a bad line is reported by number and
        // variable name, never quoted.
        let pairs = rampart::secrets::dotenv::read(std::path::Path::new(".env"))
            .map_err(|e| invalid("(.env)", e.to_string()))?;
        for (k, v) in pairs {
            use rampart::secrets::ExposeSecret as _;
            vars.insert(k, v.expose_secret().to_owned());
        }
        vars.retain(|k, _| is_ours(k));
        vars.extend(std::env::vars().filter(|(k, _)| is_ours(k)));
        Ok(Self {
            vars,
            process: true,
        })
    }

    /// A source from explicit pairs (tests, embedding).
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            process: false,
        }
    }

    /// Sets one variable.
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.vars.insert(name.to_owned(), value.into());
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub(super) fn get_list(&self, name: &str) -> Option<Vec<String>> {
        self.vars.get(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
    }
}
