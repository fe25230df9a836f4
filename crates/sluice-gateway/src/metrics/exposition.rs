//! The exposition at `GET /metrics`: the encoder writes OpenMetrics text; scrapers that do not
//! ask for it get the classic Prometheus text format (0.0.4), which every parser reads.

/// The exposition's content type in the OpenMetrics format (what the encoder writes).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The classic Prometheus text format's content type, served unless OpenMetrics is asked for.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Turns the encoder's OpenMetrics text into the classic Prometheus text format (0.0.4): a
/// counter's `# HELP`/`# TYPE` name its `_total` series, and the `# UNIT` and `# EOF` lines
/// go. Samples are the same in both formats.
pub fn to_classic_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn classic_text_names_counters_by_their_total_series() {
        let om = "# HELP sluice_requests Requests.\n# TYPE sluice_requests counter\nsluice_requests_total{a=\"b\"} 5\n# HELP sluice_ttft_seconds TTFT.\n# TYPE sluice_ttft_seconds histogram\n# UNIT sluice_ttft_seconds seconds\nsluice_ttft_seconds_count 1\n# EOF\n";
        assert_eq!(
            super::to_classic_text(om),
            "# HELP sluice_requests_total Requests.\n# TYPE sluice_requests_total counter\nsluice_requests_total{a=\"b\"} 5\n# HELP sluice_ttft_seconds TTFT.\n# TYPE sluice_ttft_seconds histogram\nsluice_ttft_seconds_count 1\n"
        );
    }
}
