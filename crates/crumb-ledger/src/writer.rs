//! Group commit: one writer task per process batches concurrent appends into one
//! transaction and answers each caller only after the commit.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::batch::{LoggedBatch, ProofStore, sign_batch};
use crate::storage::Storage;
use crate::tree::{LogError, LogTree, TreeHead};
use crate::{CheckpointKey, CheckpointKind, Entry, GENESIS, Record, now_ms};

/// Why an append did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// Storage failed; the record may not be stored. Retry later.
    #[error("storage unavailable")]
    Unavailable,
    /// The ledger is shutting down.
    #[error("the ledger is shutting down")]
    Closed,
}

/// Tuning.
#[derive(Debug, Clone)]
pub struct LedgerOptions {
    /// Largest batch in one transaction.
    pub max_batch: usize,
    /// Queue length before callers wait.
    pub queue: usize,
    /// Sign a head checkpoint after this many records...
    pub checkpoint_every: i64,
    /// ...or after this long with new records.
    pub checkpoint_interval: Duration,
    /// Longest a storage call may take before it counts as failed.
    pub storage_timeout: Duration,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        LedgerOptions {
            max_batch: 2048,
            queue: 65_536,
            checkpoint_every: 10_000,
            checkpoint_interval: Duration::from_secs(10),
            storage_timeout: Duration::from_secs(5),
        }
    }
}

/// Counters the server exports as metrics.
#[derive(Debug, Default)]
pub struct WriterMetrics {
    /// Batches committed.
    pub batches: AtomicU64,
    /// Records committed.
    pub records: AtomicU64,
    /// Storage errors.
    pub storage_errors: AtomicU64,
    /// Requests waiting for the writer.
    pub queue_depth: AtomicI64,
    /// Batch size histogram: counts per bucket of [`BATCH_BUCKETS`] (+Inf last).
    pub batch_sizes: [AtomicU64; 9],
    /// Sum of batch sizes.
    pub batch_size_sum: AtomicU64,
    /// Commit latency histogram, per bucket of [`LATENCY_BUCKETS_MS`] (+Inf last).
    pub latency: [AtomicU64; 11],
    /// Sum of commit latencies in microseconds.
    pub latency_sum_us: AtomicU64,
}

/// Upper bounds of the batch size histogram.
pub const BATCH_BUCKETS: [u64; 8] = [1, 2, 8, 32, 128, 512, 1024, 2048];
/// Upper bounds (ms) of the commit latency histogram.
pub const LATENCY_BUCKETS_MS: [f64; 10] = [0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0];

impl WriterMetrics {
    fn observe(&self, size: usize, took: Duration) {
        let i = BATCH_BUCKETS.iter().position(|b| size as u64 <= *b).unwrap_or(BATCH_BUCKETS.len());
        self.batch_sizes[i].fetch_add(1, Ordering::Relaxed);
        self.batch_size_sum.fetch_add(size as u64, Ordering::Relaxed);
        let ms = took.as_secs_f64() * 1000.0;
        let j = LATENCY_BUCKETS_MS.iter().position(|b| ms <= *b).unwrap_or(LATENCY_BUCKETS_MS.len());
        self.latency[j].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(size as u64, Ordering::Relaxed);
    }
}

/// A committed record with the proof that it is in the log: the signed batch holding it
/// (with its log position) and its inclusion proof in the batch's tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The record.
    pub record: Record,
    /// The signed batch, shared by every record of the batch.
    pub batch: Arc<LoggedBatch>,
    /// The record's inclusion proof in the batch's tree (hex hashes, bottom up).
    pub inclusion_proof: Vec<String>,
}

type Job = (Entry, oneshot::Sender<Result<Committed, AppendError>>);

/// A handle to the writer task. Cloning shares the task.
#[derive(Clone)]
pub struct Ledger {
    tx: mpsc::Sender<Job>,
    chain: Arc<str>,
    metrics: Arc<WriterMetrics>,
    key: CheckpointKey,
    log: Arc<tokio::sync::Mutex<LogTree>>,
}

impl Ledger {
    /// Start a writer on a new chain `chain`. The task ends (signing a final checkpoint)
    /// when every handle is dropped; await the returned handle to wait for it.
    pub fn start(
        storage: Arc<dyn Storage>,
        key: CheckpointKey,
        chain: String,
        opts: LedgerOptions,
    ) -> (Ledger, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(opts.queue);
        let metrics = Arc::new(WriterMetrics::default());
        let handle_key = key.clone();
        let w = Writer {
            storage,
            key,
            chain: chain.clone(),
            opts,
            head: None,
            last_cp: 0,
            last_cp_at: Instant::now(),
            metrics: metrics.clone(),
        };
        let handle = tokio::spawn(w.run(rx));
        let log = Arc::default();
        (Ledger { tx, chain: chain.into(), metrics, key: handle_key, log }, handle)
    }

    /// Append an entry; resolves once it is committed.
    pub async fn append(&self, entry: Entry) -> Result<Record, AppendError> {
        self.append_proved(entry).await.map(|c| c.record)
    }

    /// Append an entry; resolves once it is committed, with its signed batch and
    /// inclusion proof.
    pub async fn append_proved(&self, entry: Entry) -> Result<Committed, AppendError> {
        let (tx, rx) = oneshot::channel();
        self.metrics.queue_depth.fetch_add(1, Ordering::Relaxed);
        let sent = self.tx.send((entry, tx)).await;
        if sent.is_err() {
            self.metrics.queue_depth.fetch_sub(1, Ordering::Relaxed);
            return Err(AppendError::Closed);
        }
        rx.await.unwrap_or(Err(AppendError::Closed))
    }

    /// This writer's chain id.
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// Counters.
    pub fn metrics(&self) -> &Arc<WriterMetrics> {
        &self.metrics
    }

    /// The log-wide tree as `storage` holds it now (read incrementally and kept in memory),
    /// handed to `f`.
    pub async fn with_log<R>(&self, storage: &dyn ProofStore, f: impl FnOnce(&LogTree) -> R) -> Result<R, LogError> {
        let mut log = self.log.lock().await;
        if let Err(e) = log.sync(storage).await {
            // Start over next time: the stored log is not what was read before.
            *log = LogTree::default();
            return Err(e);
        }
        Ok(f(&log))
    }

    /// Sign a tree head with this writer's key.
    pub fn sign_tree_head(&self, size: u64, root: &crate::merkle::Hash, timestamp: i64) -> TreeHead {
        TreeHead::sign(&self.key, size, root, timestamp)
    }
}

struct Writer {
    storage: Arc<dyn Storage>,
    key: CheckpointKey,
    chain: String,
    opts: LedgerOptions,
    /// Last committed (seq, hash); None when unknown (start, or after a failure).
    head: Option<(i64, String)>,
    last_cp: i64,
    last_cp_at: Instant,
    metrics: Arc<WriterMetrics>,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        loop {
            let first = match tokio::time::timeout(self.opts.checkpoint_interval, rx.recv()).await {
                Ok(Some(j)) => j,
                Ok(None) => break,
                Err(_) => {
                    self.maybe_checkpoint(true).await;
                    continue;
                }
            };
            let mut jobs = vec![first];
            while jobs.len() < self.opts.max_batch {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            self.metrics.queue_depth.fetch_sub(jobs.len() as i64, Ordering::Relaxed);
            self.commit(jobs).await;
            self.maybe_checkpoint(false).await;
        }
        self.maybe_checkpoint(true).await;
    }

    async fn load_head(&mut self) -> bool {
        if self.head.is_some() {
            return true;
        }
        let t = self.opts.storage_timeout;
        let started = tokio::time::timeout(t, self.storage.start_chain(&self.chain, now_ms())).await;
        if !matches!(started, Ok(Ok(()))) {
            return false;
        }
        match tokio::time::timeout(t, self.storage.chain_head(&self.chain)).await {
            Ok(Ok(h)) => {
                self.head = Some(h.unwrap_or((0, GENESIS.to_string())));
                true
            }
            _ => false,
        }
    }

    async fn commit(&mut self, jobs: Vec<Job>) {
        if !self.load_head().await {
            self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
            for (_, tx) in jobs {
                let _ = tx.send(Err(AppendError::Unavailable));
            }
            return;
        }
        let (mut seq, mut hash) = self.head.clone().unwrap_or((0, GENESIS.to_string()));
        let mut records = Vec::with_capacity(jobs.len());
        let mut senders = Vec::with_capacity(jobs.len());
        for (entry, tx) in jobs {
            let r = Record::chain_after(&self.chain, seq, &hash, entry);
            seq = r.seq;
            hash = r.hash.clone();
            records.push(r);
            senders.push(tx);
        }
        let began = Instant::now();
        // One signature per batch, over the Merkle root of its records' hashes; stored in
        // the records' transaction, which also assigns its log position.
        let (batch, tree) = sign_batch(&self.key, &records, now_ms());
        let res = tokio::time::timeout(self.opts.storage_timeout, self.storage.append_batch(&records, &batch)).await;
        match res {
            Ok(Ok(log_index)) => {
                self.metrics.observe(records.len(), began.elapsed());
                self.head = Some((seq, hash));
                let batch = Arc::new(LoggedBatch { log_index, batch });
                for (i, (record, tx)) in records.into_iter().zip(senders).enumerate() {
                    let inclusion_proof = tree.proof(i).map(|p| crate::tree::hex_proof(&p)).unwrap_or_default();
                    let _ = tx.send(Ok(Committed { record, batch: batch.clone(), inclusion_proof }));
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, batch = records.len(), "ledger append failed");
                self.fail(senders);
            }
            Err(_) => {
                tracing::warn!(batch = records.len(), "ledger append timed out");
                self.fail(senders);
            }
        }
    }

    fn fail(&mut self, senders: Vec<oneshot::Sender<Result<Committed, AppendError>>>) {
        // The outcome is unknown (a commit may have landed): re-read the head next time.
        self.head = None;
        self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
        for tx in senders {
            let _ = tx.send(Err(AppendError::Unavailable));
        }
    }

    async fn maybe_checkpoint(&mut self, idle: bool) {
        let Some((seq, hash)) = self.head.clone() else { return };
        if seq <= self.last_cp {
            return;
        }
        let due = seq - self.last_cp >= self.opts.checkpoint_every
            || (idle || self.last_cp_at.elapsed() >= self.opts.checkpoint_interval);
        if !due {
            return;
        }
        let cp = self.key.sign(&self.chain, seq, &hash, CheckpointKind::Head, now_ms());
        match tokio::time::timeout(self.opts.storage_timeout, self.storage.add_checkpoint(&cp)).await {
            Ok(Ok(())) => {
                self.last_cp = seq;
                self.last_cp_at = Instant::now();
            }
            _ => {
                self.metrics.storage_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("checkpoint could not be stored; will retry");
            }
        }
    }
}
