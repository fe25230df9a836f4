//! The Postgres statement behind the finished-requests list (`crate::tail`).

use std::borrow::Cow;

use tokio_postgres::types::ToSql;

use super::{read_row, text, PgStore};
use crate::error::LedgerError;
use crate::row::{COLUMNS, COLUMN_COUNT};
use crate::tail::{self, Finished, TailQuery};

impl PgStore {
    pub async fn tail(&self, q: &TailQuery) -> Result<Vec<Finished>, LedgerError> {
        let filters: Vec<Cow<'_, str>> =
            tail::filters(q).into_iter().map(|(_, v)| text(v)).collect();
        let cursor = q
            .before
            .as_ref()
            .map(|c| (c.finished_ms, text(&c.request_id)));
        let limit = tail::limit(q);
        let mut params: Vec<&(dyn ToSql + Sync)> =
            filters.iter().map(|f| f as &(dyn ToSql + Sync)).collect();
        if let Some((at, id)) = &cursor {
            params.push(at);
            params.push(id);
        }
        params.push(&limit);
        let sql = format!(
            "SELECT {COLUMNS}, finished_ms FROM ledger_requests {} \
             ORDER BY finished_ms DESC, request_id DESC LIMIT ${}",
            tail::where_clause(q, |n| format!("${n}")),
            params.len()
        );
        let found = self.query("tail", &sql, &params).await?;
        found
            .iter()
            .map(|r| {
                Ok(Finished {
                    row: read_row(r)?,
                    finished_ms: r.try_get(COLUMN_COUNT)?,
                })
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|e| self.error("tail", e))
    }
}
