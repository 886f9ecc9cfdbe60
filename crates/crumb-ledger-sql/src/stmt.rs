//! SQL text with its values, built by the shared code and bound for either database: the
//! pieces a batch's transaction joins into one query (module `counting`), and the
//! padded multi-row insert of records that SQLite runs.

use crumb_ledger::Record;
use sqlx::{Database, Encode, Type};

use crate::{Backend, RECORD_COL_COUNT, RECORD_COLS};

/// A bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg<'a> {
    /// Text.
    Text(&'a str),
    /// Text made for the statement (a record's choices as JSON).
    Owned(String),
    /// Text or NULL.
    OptText(Option<&'a str>),
    /// Integer.
    Int(i64),
    /// Integer or NULL (a padding row).
    OptInt(Option<i64>),
    /// Boolean.
    Flag(bool),
}

/// One SQL text (one or more statements) and the values of its `$n` placeholders, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stmt<'a> {
    /// The SQL.
    pub sql: String,
    /// `$1`, `$2`, ...
    pub args: Vec<Arg<'a>>,
}

impl<'a> Stmt<'a> {
    /// The query with every value bound.
    pub fn query<B>(&'a self) -> sqlx::query::Query<'a, B::Db, <B::Db as Database>::Arguments<'a>>
    where
        B: Backend,
        for<'q> &'q str: Encode<'q, B::Db> + Type<B::Db>,
        for<'q> Option<&'q str>: Encode<'q, B::Db> + Type<B::Db>,
        for<'q> i64: Encode<'q, B::Db> + Type<B::Db>,
        for<'q> Option<i64>: Encode<'q, B::Db> + Type<B::Db>,
        for<'q> bool: Encode<'q, B::Db> + Type<B::Db>,
    {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(t) => q.bind(*t),
                Arg::Owned(t) => q.bind(t.as_str()),
                Arg::OptText(t) => q.bind(*t),
                Arg::Int(i) => q.bind(*i),
                Arg::OptInt(i) => q.bind(*i),
                Arg::Flag(f) => q.bind(*f),
            };
        }
        q
    }
}

/// `$from, ..., $(from + n - 1)`, or `n` times `?` for `None` (bound in order; see
/// [`Backend::NUMBERED`]).
pub fn placeholders(from: Option<usize>, n: usize) -> String {
    match from {
        Some(from) => (from..from + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "),
        None => vec!["?"; n].join(", "),
    }
}

/// Row counts of the padded records insert: powers of two, the largest within SQLite's
/// limit of 32,766 bound values (20 per row).
const STATEMENT_ROWS: [usize; 11] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, MAX_STATEMENT_ROWS];

/// The most records one padded insert holds.
pub const MAX_STATEMENT_ROWS: usize = 1024;

const _: () = assert!(MAX_STATEMENT_ROWS * RECORD_COL_COUNT <= 32_766);

/// The smallest statement size that holds `n` rows (`n` at most [`MAX_STATEMENT_ROWS`]).
pub fn statement_rows(n: usize) -> usize {
    STATEMENT_ROWS.iter().copied().find(|s| *s >= n).unwrap_or(MAX_STATEMENT_ROWS)
}

/// One INSERT of `recs` (at most [`MAX_STATEMENT_ROWS`]) with placeholders from `$first` (or `?`),
/// padded with rows of NULLs up to a power of two that the statement skips: a
/// batch of any size is one statement, and only eleven texts are ever prepared (all stay in
/// the statement cache). For a database whose `VALUES` columns are `column1, column2, ...`
/// and that takes a NULL of any type in them (SQLite).
pub fn padded_records_insert(recs: &[Record], first: Option<usize>) -> Stmt<'_> {
    let rows = statement_rows(recs.len());
    let values = (0..rows)
        .map(|r| format!("({})", placeholders(first.map(|f| f + r * RECORD_COL_COUNT), RECORD_COL_COUNT)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut args = Vec::with_capacity(rows * RECORD_COL_COUNT);
    for r in recs {
        let e = &r.entry;
        args.extend([
            Arg::Text(&r.chain),
            Arg::Int(r.seq),
            Arg::Text(&e.consent_id),
            Arg::Text(&e.site),
            Arg::Text(&e.policy_version),
            Arg::Owned(serde_json::to_string(&e.choices).unwrap_or_default()),
            Arg::Text(&e.action),
            Arg::Flag(e.gpc),
            Arg::Flag(e.dnt),
            Arg::OptText(e.region.as_deref()),
            Arg::Text(&e.mode),
            Arg::OptText(e.language.as_deref()),
            Arg::OptText(e.url.as_deref()),
            Arg::Text(&e.ua_family),
            Arg::OptText(e.ip_hash.as_deref()),
            Arg::Int(e.recorded_at),
            Arg::Int(e.expires_at),
            Arg::Int(e.retain_until),
            Arg::Text(&r.prev_hash),
            Arg::Text(&r.hash),
        ]);
    }
    args.resize((rows - recs.len().min(rows)) * RECORD_COL_COUNT + args.len(), Arg::OptInt(None));
    // `VALUES` names its columns column1, column2, ...; the padding rows have no chain.
    let sql = format!("INSERT INTO records ({RECORD_COLS}) SELECT * FROM (VALUES {values}) WHERE column1 IS NOT NULL");
    Stmt { sql, args }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_batch_size_has_one_statement() {
        assert_eq!(statement_rows(1), 1);
        assert_eq!(statement_rows(3), 4);
        assert_eq!(statement_rows(106), 128);
        assert_eq!(statement_rows(1024), 1024);
        assert_eq!(RECORD_COLS.split(',').count(), RECORD_COL_COUNT);
    }

    #[test]
    fn placeholders_number_on_from_where_they_start() {
        assert_eq!(placeholders(Some(3), 2), "$3, $4");
        assert_eq!(placeholders(None, 3), "?, ?, ?");
    }
}
