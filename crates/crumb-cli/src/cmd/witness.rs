//! `crumb ledger witness`: poll a server's signed tree heads, check each new one against
//! the last one seen (signature by a trusted key, RFC 9162 consistency proof), keep that
//! record in a state file, and fail loudly (exit 1, optional webhook) on any inconsistency.
//! Run on another machine, it makes a cut tail or a deleted chain detectable.

use std::path::PathBuf;
use std::time::Duration;

use crumb_ledger::keys::VerifyingKey;
use crumb_ledger::merkle::verify_consistency;
use crumb_ledger::tree::{TreeHead, parse_proof};
use miette::{IntoDiagnostic, miette};
use serde::{Deserialize, Serialize};

use crate::cmd::proofs::{base, get_json, post_json, trusted_keys};
use crate::exit;

/// `crumb ledger witness` options.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb ledger witness --url http://consent.example.com --key 3b6a... --state witness.json --once
  crumb ledger witness --url http://consent.example.com --key OLD --key NEW --interval 60 \\
      --webhook http://alerts.internal/crumb

The state file keeps the last tree head seen (JSON: {\"url\", \"tree_head\"}); it is what
`crumb ledger verify --tree-head FILE` takes. Key rotation: pass the old and the new key
while servers change over, then drop the old one.

Exit codes:
  0  (--once) the tree head is signed by a trusted key and consistent with the last one seen
  1  inconsistency: untrusted or forged signature, a smaller log (tail cut), a different root
     for the same size, or a consistency proof that fails (history rewritten); the webhook
     gets {\"url\", \"problem\", \"last\", \"seen\"}
  2  the command could not run (server unreachable, unreadable state)")]
pub struct WitnessArgs {
    /// The server to watch (http://HOST:PORT).
    #[arg(long)]
    pub url: String,
    /// Trusted public key (hex; repeatable).
    #[arg(long = "key", required = true)]
    pub keys: Vec<String>,
    /// Where to keep the last tree head seen.
    #[arg(long, default_value = "crumb-witness.json")]
    pub state: PathBuf,
    /// Seconds between polls.
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
    /// Check once and exit.
    #[arg(long)]
    pub once: bool,
    /// POST a JSON alert here on inconsistency.
    #[arg(long)]
    pub webhook: Option<String>,
}

/// What the witness keeps.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WitnessState {
    /// The server watched.
    pub url: String,
    /// The last consistent tree head seen.
    pub tree_head: TreeHead,
}

/// Read a state file (or a `--tree-head FILE`): `{"tree_head": {...}}` or a bare tree head.
pub fn read_head(path: &std::path::Path) -> miette::Result<Option<TreeHead>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(miette!("{}: {e}", path.display())),
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| miette!("{}: not JSON: {e}", path.display()))?;
    let head = if v.get("tree_head").is_some() { v["tree_head"].clone() } else { v };
    serde_json::from_value(head).map(Some).map_err(|e| miette!("{}: not a tree head: {e}", path.display()))
}

/// Check `new` against `last`; `Err(problem)` on inconsistency.
async fn check(
    url: &str,
    last: Option<&TreeHead>,
    new: &TreeHead,
    trusted: &[VerifyingKey],
) -> miette::Result<Result<(), String>> {
    if !new.signature_ok(trusted) {
        return Ok(Err(format!("the tree head is not signed by a trusted key ({})", new.public_key)));
    }
    let Some(last) = last else { return Ok(Ok(())) };
    if new.size < last.size {
        return Ok(Err(format!("tail cut: the log shrank from {} to {} batches", last.size, new.size)));
    }
    let (Some(old_root), Some(new_root)) = (last.root_hash(), new.root_hash()) else {
        return Ok(Err("a tree head root is not 64 hex characters".into()));
    };
    if new.size == last.size {
        return Ok(if old_root == new_root {
            Ok(())
        } else {
            Err(format!("history rewritten: size {} now has root {}, before {}", new.size, new.root, last.root))
        });
    }
    let (status, body) =
        get_json(&format!("{url}/api/v1/ledger/consistency?from={}&to={}", last.size, new.size)).await?;
    if status != 200 {
        return Ok(Err(format!("no consistency proof from {} to {}: {status} {body}", last.size, new.size)));
    }
    let proof =
        body["proof"].as_array().map(|a| a.iter().filter_map(|h| h.as_str().map(String::from)).collect::<Vec<_>>());
    let Some(proof) = proof.as_deref().and_then(parse_proof) else {
        return Ok(Err("the consistency proof is malformed".into()));
    };
    Ok(match verify_consistency(last.size, new.size, &old_root, &new_root, &proof) {
        Ok(()) => Ok(()),
        Err(e) => Err(format!("history rewritten: size {} is not an extension of size {} ({e})", new.size, last.size)),
    })
}

/// Run it.
pub async fn witness(args: WitnessArgs) -> miette::Result<u8> {
    let trusted = trusted_keys(&args.keys)?;
    let url = base(&args.url).to_string();
    let mut last = read_head(&args.state)?;
    loop {
        let (status, body) = get_json(&format!("{url}/api/v1/ledger/tree-head")).await?;
        if status != 200 {
            return Err(miette!("{url} answered {status}: {body}"));
        }
        let new: TreeHead = serde_json::from_value(body).map_err(|e| miette!("not a tree head: {e}"))?;
        match check(&url, last.as_ref(), &new, &trusted).await? {
            Ok(()) => {
                let state = WitnessState { url: url.clone(), tree_head: new.clone() };
                let tmp = args.state.with_extension("tmp");
                std::fs::write(&tmp, serde_json::to_string_pretty(&state).into_diagnostic()?).into_diagnostic()?;
                std::fs::rename(&tmp, &args.state).into_diagnostic()?;
                println!("consistent: size {} root {} (signed by {})", new.size, new.root, new.public_key);
                last = Some(new);
            }
            Err(problem) => {
                println!("INCONSISTENT: {problem}");
                if let Some(hook) = &args.webhook {
                    let alert = serde_json::json!({"url": url, "problem": problem, "last": last, "seen": new});
                    match post_json(hook, &alert).await {
                        Ok(s) => println!("webhook answered {s}"),
                        Err(e) => println!("webhook failed: {e}"),
                    }
                }
                return Ok(exit::FINDINGS);
            }
        }
        if args.once {
            return Ok(exit::OK);
        }
        tokio::time::sleep(Duration::from_secs(args.interval.max(1))).await;
    }
}
