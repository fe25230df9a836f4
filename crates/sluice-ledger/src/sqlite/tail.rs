//! The SQLite statement behind the finished-requests list (`crate::tail`).

use rusqlite::types::Value;

use super::{read_row, SqliteStore};
use crate::error::LedgerError;
use crate::row::{COLUMNS, COLUMN_COUNT};
use crate::tail::{self, Finished, TailQuery};

impl SqliteStore {
    pub async fn tail(&self, q: &TailQuery) -> Result<Vec<Finished>, LedgerError> {
        let mut params: Vec<Value> = tail::filters(q)
            .into_iter()
            .map(|(_, v)| Value::Text(v.to_owned()))
            .collect();
        if let Some(c) = &q.before {
            params.push(Value::Integer(c.finished_ms));
            params.push(Value::Text(c.request_id.clone()));
        }
        params.push(Value::Integer(tail::limit(q)));
        let sql = format!(
            "SELECT {COLUMNS}, finished_ms FROM ledger_requests {} \
             ORDER BY finished_ms DESC, request_id DESC LIMIT ?{}",
            tail::where_clause(q, |n| format!("?{n}")),
            params.len()
        );
        self.read("tail", move |conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
                Ok(Finished {
                    row: read_row(r)?,
                    finished_ms: r.get(COLUMN_COUNT)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}
