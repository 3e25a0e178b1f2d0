//! Reading a `.env` file without ever echoing it.
//!
//! Threat: a malformed line such as `RAMPART_SECRET_KEY="unterminated…`
//! is quoted whole by the dotenv parser's error message, and that message
//! reaches a terminal, a log or a CI transcript. [`read`] reports a bad line
//! by its number and variable name only, and hands values out as
//! [`Secret`]s.
//!
//! ```
//! use rampart::secrets::dotenv::{read, DotenvError};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join(".env");
//! std::fs::write(&path, "A=1\nTOKEN=\"oops-secret\n").unwrap();
//! let err = read(&path).unwrap_err();
//! assert!(matches!(err, DotenvError::Malformed { line: 2, .. }));
//! assert!(!err.to_string().contains("oops-secret"));
//! assert!(err.to_string().contains("TOKEN"));
//! ```

use std::path::Path;

use super::Secret;

/// Why a `.env` file could not be used. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DotenvError {
    /// The file exists but cannot be read.
    #[error("{path} cannot be read")]
    Unreadable {
        /// The file.
        path: String,
    },
    /// A line does not parse.
    #[error("{path} line {line}: the value of {variable} cannot be parsed")]
    Malformed {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The variable the line assigns, or `a variable` when it names none
        /// recognisably.
        variable: String,
    },
}

/// The `(name, value)` pairs of the dotenv file at `path`, in file order;
/// an absent file is no pairs.
pub fn read(path: &Path) -> Result<Vec<(String, Secret)>, DotenvError> {
    let display = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(_) => return Err(DotenvError::Unreadable { path: display }),
    };
    let mut pairs = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((name, value)) => pairs.push((name, Secret::new(value))),
            Err(dotenvy::Error::LineParse(bad, _)) => {
                return Err(malformed(&text, &bad, display));
            }
            Err(_) => return Err(DotenvError::Unreadable { path: display }),
        }
    }
    Ok(pairs)
}

/// Locates the failing text in the file (its line number) and the name it
/// assigns, without keeping either's value.
fn malformed(text: &str, bad: &str, path: String) -> DotenvError {
    let first = bad.lines().next().unwrap_or_default();
    let line = text
        .find(bad)
        .or_else(|| (!first.is_empty()).then(|| text.find(first)).flatten())
        .map_or(0, |at| text[..at].matches('\n').count() + 1);
    let assignment = first.trim_start();
    let assignment = assignment.strip_prefix("export ").unwrap_or(assignment);
    let name = assignment.split('=').next().unwrap_or_default().trim();
    let identifier = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && assignment.contains('=');
    DotenvError::Malformed {
        path,
        line,
        variable: if identifier {
            name.to_owned()
        } else {
            "a variable".to_owned()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_named_never_quoted() {
        let cases = [
            (
                "unterminated quote",
                "A=1\nB=2\nSECRET=\"hunter2-value\n",
                3,
                "SECRET",
            ),
            ("export form", "export KEY='never-shown\n", 1, "KEY"),
            ("no name", "=hunter2-value\n", 1, "a variable"),
            (
                "garbage",
                "A=1\nhunter2 value without equals\n",
                2,
                "a variable",
            ),
        ];
        for (name, text, line, variable) in cases {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(".env");
            std::fs::write(&path, text).unwrap();
            let err = read(&path).unwrap_err();
            let shown = err.to_string();
            assert!(
                !shown.contains("hunter2") && !shown.contains("never-shown"),
                "{name}: {shown}"
            );
            match err {
                DotenvError::Malformed {
                    line: l,
                    variable: v,
                    ..
                } => {
                    assert_eq!((l, v.as_str()), (line, variable), "{name}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn good_files_and_absent_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        assert!(read(&path).unwrap().is_empty());
        std::fs::write(&path, "# comment\nA=1\nexport B=\"two words\"\n").unwrap();
        let pairs: Vec<(String, String)> = read(&path)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, secrecy::ExposeSecret::expose_secret(&v).to_owned()))
            .collect();
        assert_eq!(
            pairs,
            [("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
    }
}
