//! `LedgerError`: what can go wrong, one variant per layer. Every message is one line that
//! names the ledger's URL with its password masked, then the cause.

use std::error::Error;
use std::fmt::{self, Display};

/// A ledger failure. `url` is always the redacted URL (no password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// The URL is not one the ledger understands.
    #[error("ledger {url}: {reason}")]
    Url { url: String, reason: String },
    /// The database cannot be opened or reached.
    #[error("ledger {url}: cannot connect: {cause}")]
    Connect { url: String, cause: String },
    /// Bringing the schema up to date failed.
    #[error("ledger {url}: migration {step} failed: {cause}")]
    Migrate {
        url: String,
        step: String,
        cause: String,
    },
    /// An API key with this id is already stored ([`Ledger::insert_key`](crate::Ledger::insert_key)).
    #[error("ledger {url}: key {id} already exists")]
    KeyExists { url: String, id: String },
    /// A spill file could not be read or removed ([`Ledger::replay_spill`](crate::Ledger::replay_spill)).
    #[error("ledger {url}: spill file {path}: {cause}")]
    Spill {
        url: String,
        path: String,
        cause: String,
    },
    /// A read or a write failed; `op` says which (`insert`, `usage`, `count`...).
    #[error("ledger {url}: {op} failed: {cause}")]
    Query {
        url: String,
        op: &'static str,
        cause: String,
    },
}

impl LedgerError {
    pub(crate) fn connect(url: &str, cause: impl Display) -> Self {
        Self::Connect {
            url: url.to_owned(),
            cause: one_line(cause),
        }
    }

    pub(crate) fn migrate(url: &str, step: impl Into<String>, cause: impl Display) -> Self {
        Self::Migrate {
            url: url.to_owned(),
            step: step.into(),
            cause: one_line(cause),
        }
    }

    pub(crate) fn spill(url: &str, path: &std::path::Path, cause: impl Display) -> Self {
        Self::Spill {
            url: url.to_owned(),
            path: path.display().to_string(),
            cause: one_line(cause),
        }
    }

    pub(crate) fn query(url: &str, op: &'static str, cause: impl Display) -> Self {
        Self::Query {
            url: url.to_owned(),
            op,
            cause: one_line(cause),
        }
    }
}

/// An error with its sources, `outer: inner: innermost` (a source whose text the outer
/// message already holds is not repeated). Libraries such as tokio-postgres put the useful
/// part ("Connection refused", the server's message) only in the source.
pub(crate) struct Chain<'a>(pub &'a (dyn Error + 'static));

impl Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(s) = source {
            let part = s.to_string();
            if !part.is_empty() && !text.contains(&part) {
                text.push_str(": ");
                text.push_str(&part);
            }
            source = s.source();
        }
        f.write_str(&text)
    }
}

/// A cause's text on one line (Postgres errors carry DETAIL and HINT on lines of their own).
pub(crate) fn one_line(cause: impl Display) -> String {
    let text = cause.to_string();
    let mut out = String::with_capacity(text.len());
    for (i, line) in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        if i > 0 {
            out.push_str("; ");
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_name_every_source_once() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("error connecting")
            }
        }
        impl Error for Outer {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_eq!(Chain(&Outer(io)).to_string(), "error connecting: refused");
        let plain = std::io::Error::other("just this");
        assert_eq!(Chain(&plain).to_string(), "just this");
    }

    #[test]
    fn causes_are_flattened_to_one_line() {
        assert_eq!(
            one_line("ERROR: boom\nDETAIL: why\r\n\nHINT: fix"),
            "ERROR: boom; DETAIL: why; HINT: fix"
        );
        let e = LedgerError::query("sqlite://x.db", "insert", "disk I/O error\nmore");
        assert_eq!(
            e.to_string(),
            "ledger sqlite://x.db: insert failed: disk I/O error; more"
        );
    }
}
