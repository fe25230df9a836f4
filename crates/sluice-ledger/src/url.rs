//! Ledger URLs: which backend, where, and the form of the URL that is safe to show.
//!
//! - `sqlite://sluice.db` (relative to the working directory), `sqlite:///abs/path.db`
//! - `postgres://user:pass@host:5432/db?options=...` or `postgresql://...`

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{one_line, Chain, LedgerError};

/// Where a ledger lives.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Sqlite(PathBuf),
    Postgres(Box<tokio_postgres::Config>),
}

/// A parsed ledger URL.
#[derive(Debug, Clone)]
pub(crate) struct LedgerUrl {
    /// The URL with any password masked: the only form that appears in errors and logs.
    pub redacted: String,
    pub target: Target,
}

/// How long a Postgres connection attempt may take unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn parse(url: &str) -> Result<LedgerUrl, LedgerError> {
    let redacted = redact(url);
    let invalid = |reason: &str| LedgerError::Url {
        url: redacted.clone(),
        reason: reason.to_owned(),
    };
    let target = if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if rest.is_empty() {
            return Err(invalid("no database file path after sqlite://"));
        }
        if rest.contains('?') {
            return Err(invalid("a sqlite ledger URL takes no parameters"));
        }
        if rest == ":memory:" {
            return Err(invalid(
                "an in-memory ledger would lose its rows at exit; give a file path",
            ));
        }
        Target::Sqlite(PathBuf::from(rest))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            let mut reason = format!("invalid Postgres URL: {}", one_line(Chain(&e)));
            scrub(&mut reason, url);
            invalid(&reason)
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("sluice");
        }
        Target::Postgres(Box::new(config))
    } else {
        return Err(invalid(
            "unsupported ledger URL (use sqlite://PATH, sqlite:///ABS/PATH or postgres://...)",
        ));
    };
    Ok(LedgerUrl { redacted, target })
}

/// `url` with the password masked: the `user:password@` part of the authority and any
/// `password=` parameter become `***`.
pub fn redact(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let start = scheme_end + 3;
        let end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..end].rfind('@') {
            if let Some(colon) = out[start..start + at].find(':') {
                out.replace_range(start + colon + 1..start + at, "***");
            }
        }
    }
    mask_password_params(&out)
}

/// Masks the value of every `password=` key (URL query or `key=value` connection string).
fn mask_password_params(s: &str) -> String {
    const KEY: &str = "password=";
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    while let Some(i) = lower[pos..].find(KEY) {
        let value_start = pos + i + KEY.len();
        let at_key_start = pos + i == 0 || matches!(s.as_bytes()[pos + i - 1], b'?' | b'&' | b' ');
        out.push_str(&s[pos..value_start]);
        let value_end = s[value_start..]
            .find(['&', ' ', '#'])
            .map_or(s.len(), |j| value_start + j);
        if at_key_start && value_end > value_start {
            out.push_str("***");
        } else {
            out.push_str(&s[value_start..value_end]);
        }
        pos = value_end;
    }
    out.push_str(&s[pos..]);
    out
}

/// Removes the URL's password from an error text, should a library ever quote it.
pub(crate) fn scrub(text: &mut String, url: &str) {
    if let Ok(config) = url.parse::<tokio_postgres::Config>() {
        if let Some(password) = config
            .get_password()
            .and_then(|p| std::str::from_utf8(p).ok())
        {
            if !password.is_empty() && text.contains(password) {
                *text = text.replace(password, "***");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        let rel = parse("sqlite://sluice.db").unwrap();
        assert!(matches!(rel.target, Target::Sqlite(ref p) if p == &PathBuf::from("sluice.db")));
        let abs = parse("sqlite:///var/lib/sluice/ledger.db").unwrap();
        assert!(
            matches!(abs.target, Target::Sqlite(ref p) if p == &PathBuf::from("/var/lib/sluice/ledger.db"))
        );
        let bare = parse("sqlite:data/x.db").unwrap();
        assert!(matches!(bare.target, Target::Sqlite(ref p) if p == &PathBuf::from("data/x.db")));
        assert_eq!(rel.redacted, "sqlite://sluice.db");
    }

    #[test]
    fn bad_urls_are_one_line_errors() {
        for url in [
            "sqlite://",
            "sqlite://x.db?mode=ro",
            "sqlite::memory:",
            "mysql://root:pw@localhost/db",
            "",
        ] {
            let e = parse(url).unwrap_err();
            let text = e.to_string();
            assert!(matches!(e, LedgerError::Url { .. }), "{url}: {text}");
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.contains("pw@"), "{text}");
        }
    }

    #[test]
    fn postgres_urls_parse_and_get_defaults() {
        let u = parse("postgresql://sluice:secret@db.internal:5433/ledger").unwrap();
        assert_eq!(
            u.redacted,
            "postgresql://sluice:***@db.internal:5433/ledger"
        );
        let Target::Postgres(config) = u.target else {
            panic!("not postgres")
        };
        assert_eq!(config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert_eq!(config.get_application_name(), Some("sluice"));
        assert_eq!(config.get_dbname(), Some("ledger"));
    }

    #[test]
    fn redaction() {
        assert_eq!(
            redact("postgres://u:p%40ss@h/db?sslmode=disable"),
            "postgres://u:***@h/db?sslmode=disable"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h:5432/db"), "postgres://h:5432/db");
        assert_eq!(
            redact("postgres://h/db?user=u&password=hunter2&x=1"),
            "postgres://h/db?user=u&password=***&x=1"
        );
        assert_eq!(
            redact("host=h password=hunter2 dbname=x"),
            "host=h password=*** dbname=x"
        );
        assert_eq!(redact("postgres://a:b@c:d@h/db"), "postgres://a:***@h/db");
        assert_eq!(
            redact("sqlite:///tmp/password=x.db"),
            "sqlite:///tmp/password=x.db"
        );
    }

    #[test]
    fn scrub_removes_a_quoted_password() {
        let mut text = "could not log in with hunter2".to_owned();
        scrub(&mut text, "postgres://u:hunter2@h/db");
        assert_eq!(text, "could not log in with ***");
    }
}
