//! The ledger's schema, as numbered migrations: one SQL file per version per backend.
//!
//! At open, each backend creates `ledger_schema_migrations` if missing and, in one
//! transaction serialised against other gateways opening the same database (an IMMEDIATE
//! transaction in SQLite, an advisory lock in Postgres), runs every migration whose version
//! is not recorded there yet. A migration is never edited
//! once released; a change is a new file with the next version in both lists.

/// One schema version.
#[derive(Debug)]
pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// How errors name this step.
    pub fn label(&self) -> String {
        format!("{} ({})", self.version, self.name)
    }
}

/// The table recording which versions are applied.
pub(crate) const TABLE: &str = "ledger_schema_migrations";

pub(crate) const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "requests",
        sql: include_str!("sqlite/0001_requests.sql"),
    },
    Migration {
        version: 2,
        name: "api_keys",
        sql: include_str!("sqlite/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        name: "client_request_id",
        sql: include_str!("sqlite/0003_client_request_id.sql"),
    },
    Migration {
        version: 4,
        name: "request_tail",
        sql: include_str!("sqlite/0004_request_tail.sql"),
    },
    Migration {
        version: 5,
        name: "rollups",
        sql: include_str!("sqlite/0005_rollups.sql"),
    },
];

pub(crate) const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "requests",
        sql: include_str!("postgres/0001_requests.sql"),
    },
    Migration {
        version: 2,
        name: "api_keys",
        sql: include_str!("postgres/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        name: "client_request_id",
        sql: include_str!("postgres/0003_client_request_id.sql"),
    },
    Migration {
        version: 4,
        name: "request_tail",
        sql: include_str!("postgres/0004_request_tail.sql"),
    },
    Migration {
        version: 5,
        name: "rollups",
        sql: include_str!("postgres/0005_rollups.sql"),
    },
];

/// The migrations of `all` not in `applied`, in version order.
pub(crate) fn to_apply<'a>(
    all: &'a [Migration],
    applied: &'a [i64],
) -> impl Iterator<Item = &'a Migration> {
    all.iter().filter(|m| !applied.contains(&m.version))
}

/// Logs versions recorded in the database that this build does not know (a newer gateway
/// migrated it); the ledger still opens, as later versions only ever add to the schema.
pub(crate) fn warn_unknown(all: &[Migration], applied: &[i64], url: &str) {
    for v in applied {
        if !all.iter().any(|m| m.version == *v) {
            tracing::warn!(
                ledger = url,
                version = v,
                "ledger schema has a newer version than this build knows"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_match_across_backends() {
        for list in [SQLITE, POSTGRES] {
            assert!(list.windows(2).all(|w| w[0].version < w[1].version));
            assert_eq!(list.first().map(|m| m.version), Some(1));
        }
        let s: Vec<_> = SQLITE.iter().map(|m| (m.version, m.name)).collect();
        let p: Vec<_> = POSTGRES.iter().map(|m| (m.version, m.name)).collect();
        assert_eq!(s, p);
    }

    #[test]
    fn only_missing_versions_apply() {
        let all = [
            Migration {
                version: 1,
                name: "a",
                sql: "",
            },
            Migration {
                version: 2,
                name: "b",
                sql: "",
            },
        ];
        let v: Vec<_> = to_apply(&all, &[1]).map(|m| m.version).collect();
        assert_eq!(v, [2]);
        assert_eq!(to_apply(&all, &[1, 2]).count(), 0);
        assert_eq!(to_apply(&all, &[]).count(), 2);
    }
}
