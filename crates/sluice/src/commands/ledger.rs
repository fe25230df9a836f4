//! Opening the config's ledger for the commands that read it (`sluice usage`, `sluice cost
//! --from-ledger`) and for `sluice keys`, which keeps the gateway's keys there, with one-line
//! errors that say what to do.

use std::path::Path;

use sluice_config::LedgerSetting;
use sluice_ledger::Ledger;

use crate::Failure;

/// Opens the config's ledger for reading. A SQLite file that does not exist is an error, not
/// a new empty ledger: it almost always means the wrong working directory or config.
pub(crate) async fn open_ledger(setting: &LedgerSetting) -> Result<Ledger, Failure> {
    let LedgerSetting::Url(url) = setting else {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "ledger: the config keeps no ledger (ledger = \"none\"), so there is no usage to \
             report"
        )));
    };
    if let Some(path) = sqlite_path(url) {
        if !path.exists() {
            let shown = std::env::current_dir()
                .map(|cwd| cwd.join(path))
                .unwrap_or_else(|_| path.to_path_buf());
            return Err(Failure::Runtime(anyhow::anyhow!(
                "ledger {}: no such file {} (the gateway creates it when it starts: run this \
                 where `sluice serve` runs, or give the config whose `ledger` names it)",
                sluice_ledger::redact_url(url),
                shown.display()
            )));
        }
    }
    Ledger::open(url)
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))
}

/// Opens the config's ledger for `sluice keys`. Keys live in the ledger, so a config that
/// keeps none is a usage error. `create` makes a missing SQLite file (keys are usually made
/// before the gateway first starts, and it opens the same file); reading or changing keys
/// needs the file to exist, as for reports.
pub(crate) async fn open_key_store(
    setting: &LedgerSetting,
    create: bool,
) -> Result<Ledger, Failure> {
    let LedgerSetting::Url(url) = setting else {
        return Err(Failure::Usage(
            "ledger: the config keeps no ledger (ledger = \"none\"), and gateway keys live in \
             the ledger; set ledger to a sqlite:// or postgres:// URL"
                .to_owned(),
        ));
    };
    if !create {
        return open_ledger(setting).await;
    }
    Ledger::open(url)
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))
}

/// The file of a `sqlite://` ledger URL, as the ledger reads it.
fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    (!rest.is_empty() && !rest.contains('?') && rest != ":memory:").then(|| Path::new(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_as_the_ledger_reads_them() {
        assert_eq!(
            sqlite_path("sqlite://sluice.db"),
            Some(Path::new("sluice.db"))
        );
        assert_eq!(sqlite_path("sqlite:///a/b.db"), Some(Path::new("/a/b.db")));
        assert_eq!(sqlite_path("sqlite:x.db"), Some(Path::new("x.db")));
        assert_eq!(sqlite_path("sqlite://"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }
}
