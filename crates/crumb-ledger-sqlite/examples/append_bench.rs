//! Time `SqliteStorage::append` alone (no HTTP): milliseconds per batch for a few batch
//! sizes, on an otherwise idle machine.
//!
//! ```text
//! cargo run --release -p crumb-ledger-sqlite --example append_bench -- /tmp/append-bench
//! ```

use std::time::Instant;

use crumb_ledger::conformance::sample_entry;
use crumb_ledger::storage::Storage;
use crumb_ledger::{Entry, GENESIS, Record};
use crumb_ledger_sqlite::SqliteStorage;

/// The conformance suite's sample entry, with a distinct consent id per record (as real
/// traffic has).
fn entry(i: i64) -> Entry {
    Entry { consent_id: format!("0193a2b4-7c1d-7e55-9a0b-{i:012x}"), ..sample_entry(i, 1_800_000_000_000 + i) }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "/tmp/append-bench".into());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let storage = SqliteStorage::open(&format!("sqlite://{dir}/ledger.db")).await?;
    storage.start_chain("bench", 0).await?;
    let (mut seq, mut hash) = (0i64, GENESIS.to_string());
    let started = Instant::now();
    for i in 0..10_000 {
        let r = Record::chain_after("bench", i, &hash, entry(i));
        std::hint::black_box(&r);
    }
    println!("chain_after alone: {:.2} us per record", started.elapsed().as_secs_f64() * 1e6 / 10_000.0);
    for batch in [1usize, 8, 32, 79, 128, 512] {
        let rounds = (20_000 / batch).clamp(20, 2000);
        let mut spent = std::time::Duration::ZERO;
        for _ in 0..rounds {
            let mut recs = Vec::with_capacity(batch);
            for _ in 0..batch {
                let r = Record::chain_after("bench", seq, &hash, entry(seq));
                seq = r.seq;
                hash = r.hash.clone();
                recs.push(r);
            }
            let started = Instant::now();
            storage.append(&recs).await?;
            spent += started.elapsed();
        }
        let per_batch = spent.as_secs_f64() * 1000.0 / rounds as f64;
        println!(
            "batch {batch:>4}: {per_batch:.3} ms per append, {:.1} us per record, {:.0} records/s",
            per_batch * 1000.0 / batch as f64,
            batch as f64 / per_batch * 1000.0
        );
    }
    Ok(())
}
