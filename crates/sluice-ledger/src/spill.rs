//! The spill file: where the writer puts the rows it could not store by its shutdown deadline,
//! and where [`Ledger::replay_spill`](crate::Ledger::replay_spill) takes them from at the
//! next start.
//!
//! The format is JSON lines: one [`Row`] per line as its JSON object (amounts as exact
//! decimal text), each line ending in `\n`. Rows are only ever appended, in one write per
//! shutdown followed by an fsync, so a process that dies while spilling leaves at worst one
//! torn last line; the next append starts on a line of its own, and reading skips a line that
//! does not parse (with a warning) instead of failing.
//!
//! To replay, the file is first renamed to `<path>.replaying`: rows a writer spills meanwhile
//! start a new file, and a replay that was interrupted is finished by the next one (storing a
//! row twice is harmless: the ledger skips request ids it has).

use std::borrow::Cow;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::row::Row;

/// What a spill file held.
#[derive(Debug, Default)]
pub(crate) struct Spilled {
    pub rows: Vec<Row>,
    /// Lines that did not parse (a torn last line, or damage), skipped.
    pub skipped: u64,
}

/// Appends `rows` to the file at `path` (created if missing), one JSON line each, and waits
/// until they are on disk.
pub(crate) fn append(path: &Path, rows: &[Row]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(rows.len() * 512);
    for row in rows {
        serde_json::to_writer(&mut buf, &storable(row))?;
        buf.push(b'\n');
    }
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)?;
    // A torn line left by a process that died while spilling must not swallow the first of
    // these rows: start on a line of our own.
    if file.metadata()?.len() > 0 {
        file.seek(SeekFrom::End(-1))?;
        let mut last = [0u8; 1];
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            buf.insert(0, b'\n');
        }
    }
    file.write_all(&buf)?;
    file.sync_all()?;
    if !existed {
        // The new file's name must survive a crash too. Some file systems cannot sync a
        // directory; the rows themselves are on disk already.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
    }
    Ok(())
}

/// A row as JSON can hold it: JSON has no NaN or infinity (serde writes `null`, which would
/// not read back), so such times become what the databases store for them.
fn storable(row: &Row) -> Cow<'_, Row> {
    let ttft_ok = row.ttft_ms.is_none_or(f64::is_finite);
    if ttft_ok && row.duration_ms.is_finite() {
        return Cow::Borrowed(row);
    }
    let mut row = row.clone();
    row.ttft_ms = row.ttft_ms.filter(|t| t.is_finite());
    if !row.duration_ms.is_finite() {
        row.duration_ms = 0.0;
    }
    Cow::Owned(row)
}

/// Reads every row of the spill file at `path`; lines that do not parse are skipped and
/// logged with their number.
pub(crate) fn read(path: &Path) -> io::Result<Spilled> {
    let bytes = fs::read(path)?;
    let mut out = Spilled::default();
    let mut lines = bytes.split(|b| *b == b'\n').enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<Row>(line) {
            Ok(row) => out.rows.push(row),
            Err(e) => {
                out.skipped += 1;
                // The part after the last `\n` is the one a crash can tear.
                let last = lines.peek().is_none();
                tracing::warn!(
                    spill_file = %path.display(),
                    line = i + 1,
                    error = %e,
                    "{}",
                    if last {
                        "ledger spill file: torn last line skipped (the process died while writing it)"
                    } else {
                        "ledger spill file: a line that is not a row skipped"
                    }
                );
            }
        }
    }
    Ok(out)
}

/// Where a spill file is moved while it is replayed.
pub(crate) fn claimed(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".replaying");
    PathBuf::from(name)
}

/// Moves the spill file at `path` aside for replay; `false` if there is none.
pub(crate) fn claim(path: &Path) -> io::Result<bool> {
    match fs::rename(path, claimed(path)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes a replayed file; one already gone is fine.
pub(crate) fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The spill file next to a SQLite database: `<database file>.spill.jsonl`.
pub(crate) fn next_to(database: &Path) -> PathBuf {
    let mut name = OsString::from(database.as_os_str());
    name.push(".spill.jsonl");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> Row {
        let mut row = Row::new(id, 1, "m", "ok", 200);
        row.cost_usd = "0.000000000001".parse().unwrap();
        row
    }

    #[test]
    fn rows_round_trip_and_appends_add_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, &[row("a"), row("b")]).unwrap();
        append(&path, &[row("c")]).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
        assert!(text.contains(r#""cost_usd":"0.000000000001""#), "{text}");
        let got = read(&path).unwrap();
        assert_eq!(got.rows, [row("a"), row("b"), row("c")]);
        assert_eq!(got.skipped, 0);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_the_next_append_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, &[row("a")]).unwrap();
        let whole = serde_json::to_string(&row("torn")).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&whole.as_bytes()[..whole.len() / 2])
            .unwrap();
        drop(file);
        let got = read(&path).unwrap();
        assert_eq!((got.rows.len(), got.skipped), (1, 1));
        append(&path, &[row("b")]).unwrap();
        let got = read(&path).unwrap();
        assert_eq!(got.rows, [row("a"), row("b")]);
        assert_eq!(got.skipped, 1);
    }

    #[test]
    fn times_json_cannot_hold_are_stored_as_the_databases_would() {
        let mut odd = row("nan");
        odd.duration_ms = f64::NAN;
        odd.ttft_ms = Some(f64::INFINITY);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        append(&path, &[odd]).unwrap();
        let got = read(&path).unwrap();
        assert_eq!(got.rows.len(), 1);
        assert_eq!((got.rows[0].duration_ms, got.rows[0].ttft_ms), (0.0, None));
    }

    #[test]
    fn paths() {
        assert_eq!(
            next_to(Path::new("data/ledger.db")),
            PathBuf::from("data/ledger.db.spill.jsonl")
        );
        assert_eq!(
            claimed(Path::new("/x/s.jsonl")),
            PathBuf::from("/x/s.jsonl.replaying")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("none.jsonl");
        assert!(!claim(&path).unwrap());
        remove(&path).unwrap();
    }
}
