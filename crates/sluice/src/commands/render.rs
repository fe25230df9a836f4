//! How the commands lay out text for a terminal: tables of aligned columns (`sluice cost`,
//! `sluice usage`, `sluice keys list`) and ledger times. Amounts are formatted by `sluice_pricing::display`; this
//! only places the cells.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

/// A table of text cells in aligned columns: the first `names` columns left-aligned (names),
/// the others right-aligned (amounts and counts), two spaces between columns, no trailing
/// spaces. Every row has as many cells as the header.
pub(crate) struct Table {
    names: usize,
    lines: Vec<Line>,
}

enum Line {
    Cells(Vec<String>),
    /// Dashes across the whole table (above a total).
    Rule,
}

impl Table {
    /// A table whose first line is `header`, with its first `names` columns left-aligned.
    pub(crate) fn new(header: Vec<String>, names: usize) -> Table {
        Table {
            names,
            lines: vec![Line::Cells(header)],
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.lines.push(Line::Cells(cells));
    }

    /// A line of dashes as wide as the table.
    pub(crate) fn rule(&mut self) {
        self.lines.push(Line::Rule);
    }

    /// Appends the table to `out`, a newline after each line.
    pub(crate) fn write(&self, out: &mut String) {
        let widths = self.widths();
        for line in &self.lines {
            let text = match line {
                Line::Cells(cells) => self.cells(cells, &widths),
                Line::Rule => {
                    let gaps = 2 * widths.len().saturating_sub(1);
                    "-".repeat(widths.iter().sum::<usize>() + gaps)
                }
            };
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{text}");
        }
    }

    /// Each column's width: its widest cell, in characters.
    fn widths(&self) -> Vec<usize> {
        let columns = match self.lines.first() {
            Some(Line::Cells(header)) => header.len(),
            _ => 0,
        };
        (0..columns)
            .map(|i| {
                self.lines
                    .iter()
                    .filter_map(|line| match line {
                        Line::Cells(cells) => cells.get(i).map(|c| c.chars().count()),
                        Line::Rule => None,
                    })
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn cells(&self, cells: &[String], widths: &[usize]) -> String {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            if i > 0 {
                text.push_str("  ");
            }
            if i < self.names {
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', pad));
            } else {
                text.extend(std::iter::repeat_n(' ', pad));
                text.push_str(cell);
            }
        }
        text.trim_end().to_owned()
    }
}

/// A unix-milliseconds time as RFC 3339 UTC to the second (`2026-01-31T12:00:00Z`).
pub(crate) fn utc(ms: i64) -> String {
    let time = u64::try_from(ms)
        .ok()
        .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms)));
    match time {
        Some(t) => humantime::format_rfc3339_seconds(t).to_string(),
        None => format!("{ms} (unix ms)"),
    }
}

/// A unix-milliseconds time in UTC to the minute, for narrow table columns
/// (`2026-01-31 12:00`).
pub(crate) fn utc_minute(ms: i64) -> String {
    let full = utc(ms);
    match full.get(..16) {
        Some(minute) if full.ends_with('Z') => minute.replacen('T', " ", 1),
        _ => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn names_left_amounts_right_and_a_rule_across() {
        let mut t = Table::new(strings(&["NAME", "KIND", "COST"]), 2);
        t.row(strings(&["a", "x", "1.00"]));
        t.row(strings(&["long-name", "y", "1,234.50"]));
        t.rule();
        t.row(strings(&["TOTAL", "", "1,235.50"]));
        let mut out = String::new();
        t.write(&mut out);
        assert_eq!(
            out,
            "NAME       KIND      COST\n\
             a          x         1.00\n\
             long-name  y     1,234.50\n\
             -------------------------\n\
             TOTAL            1,235.50\n"
        );
    }

    #[test]
    fn widths_count_characters_and_lines_end_without_spaces() {
        let mut t = Table::new(strings(&["¥", "N"]), 1);
        t.row(strings(&["円円円", "5"]));
        let mut out = String::new();
        t.write(&mut out);
        assert_eq!(out, "¥    N\n円円円  5\n");
        let mut out = String::new();
        Table::new(strings(&["A", ""]), 2).write(&mut out);
        assert_eq!(out, "A\n");
    }

    #[test]
    fn times_show_in_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(utc(-5), "-5 (unix ms)");
        assert_eq!(utc_minute(1_767_225_659_999), "2026-01-01 00:00");
        assert_eq!(utc_minute(-5), "-5 (unix ms)");
    }
}
