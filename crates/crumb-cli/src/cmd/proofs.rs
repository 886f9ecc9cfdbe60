//! `crumb ledger verify-receipt`: check a `201` receipt offline against the operator's
//! public key, and (with `--url`) that the server's log still holds it; plus the small
//! HTTP client the witness shares.

use std::io::Read;
use std::path::PathBuf;

use crumb_ledger::keys::VerifyingKey;
use crumb_ledger::receipt::{BatchInclusion, RecordProof};
use crumb_ledger::tree::TreeHead;
use http_body_util::{BodyExt, Full};
use miette::{IntoDiagnostic, miette};

use crate::exit;

/// `crumb ledger verify-receipt` options.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  crumb ledger verify-receipt receipt.json --key 3b6a27bc...             offline: signature and proof
  curl -s .../api/v1/consents -d @decision.json | crumb ledger verify-receipt - --key 3b6a...
  crumb ledger verify-receipt receipt.json --key 3b6a... --url http://consent.example.com

Exit codes:
  0  the receipt is valid (and, with --url, the record is in the server's current log)
  1  it is not: forged or untrusted signature, a proof that does not lead to the signed
     root, or (with --url) record missing, tail cut, or history rewritten; the reason is printed
  2  the command could not run (unreadable file, not a receipt, server unreachable)")]
pub struct VerifyReceiptArgs {
    /// The receipt (the JSON body of the 201 answer), or `-` for standard input.
    pub file: PathBuf,
    /// The operator's public key (hex; repeatable, e.g. before and after a key rotation).
    #[arg(long = "key", required = true)]
    pub keys: Vec<String>,
    /// Also ask this server (http://HOST:PORT) whether its log still holds the record.
    #[arg(long)]
    pub url: Option<String>,
}

/// Parse hex public keys.
pub fn trusted_keys(keys: &[String]) -> miette::Result<Vec<VerifyingKey>> {
    keys.iter().map(|k| crumb_ledger::keys::public_from_hex(k).map_err(|e| miette!("--key {k}: {e}"))).collect()
}

/// GET `url` and parse the JSON body; the status comes back too.
pub async fn get_json(url: &str) -> miette::Result<(u16, serde_json::Value)> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let uri: hyper::Uri = url.parse().map_err(|e| miette!("{url} is not a URL: {e}"))?;
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), client.get(uri))
        .await
        .map_err(|_| miette!("{url}: no answer within 10 s"))?
        .map_err(|e| miette!(help = "only http:// URLs are supported", "{url}: {e}"))?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.into_diagnostic()?.to_bytes();
    let json = serde_json::from_slice(&body).map_err(|e| miette!("{url} answered {status} without JSON: {e}"))?;
    Ok((status, json))
}

/// POST a JSON body (the witness's webhook); the status.
pub async fn post_json(url: &str, body: &serde_json::Value) -> miette::Result<u16> {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = hyper::Request::post(url)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .into_diagnostic()?;
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(req))
        .await
        .map_err(|_| miette!("{url}: no answer within 10 s"))?
        .map_err(|e| miette!("{url}: {e}"))?;
    Ok(res.status().as_u16())
}

/// The server's base URL without a trailing slash.
pub fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// Run it.
pub async fn verify_receipt(args: VerifyReceiptArgs) -> miette::Result<u8> {
    let trusted = trusted_keys(&args.keys)?;
    let text = if args.file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).into_diagnostic()?;
        s
    } else {
        std::fs::read_to_string(&args.file).map_err(|e| miette!("{}: {e}", args.file.display()))?
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| miette!("the receipt is not JSON: {e}"))?;
    let proof: RecordProof = serde_json::from_value(json.clone())
        .map_err(|e| miette!(help = "pass the JSON body of the 201 answer", "not a receipt with a proof: {e}"))?;
    let b = &proof.batch.batch;
    if let Err(e) = proof.check(&trusted) {
        println!("INVALID: {e}");
        return Ok(exit::FINDINGS);
    }
    println!(
        "valid: record {}#{} (hash {}) is in batch {}#{}..{} at log position {}, signed by {}",
        proof.chain, proof.seq, proof.hash, b.chain, b.first_seq, b.last_seq, proof.batch.log_index, b.public_key
    );
    let Some(url) = args.url.as_deref() else { return Ok(exit::OK) };
    let consent_id = json["consent_id"].as_str().unwrap_or_default();
    match online(base(url), consent_id, &proof, &trusted).await? {
        None => {
            println!("included: the server's current signed tree head contains the batch and the record");
            Ok(exit::OK)
        }
        Some(reason) => {
            println!("NOT INCLUDED: {reason}");
            Ok(exit::FINDINGS)
        }
    }
}

/// Ask the server; `None` when the record is included, else the reason it is not.
async fn online(
    url: &str,
    consent_id: &str,
    proof: &RecordProof,
    trusted: &[VerifyingKey],
) -> miette::Result<Option<String>> {
    let (status, head) = get_json(&format!("{url}/api/v1/ledger/tree-head")).await?;
    if status != 200 {
        return Err(miette!("the tree head answered {status}: {head}"));
    }
    let head: TreeHead = serde_json::from_value(head).map_err(|e| miette!("not a tree head: {e}"))?;
    if !head.signature_ok(trusted) {
        return Ok(Some(format!("the server's tree head is not signed by a trusted key ({})", head.public_key)));
    }
    let index = proof.batch.log_index as u64;
    if head.size <= index {
        return Ok(Some(format!(
            "tail cut: the log has {} batches, the receipt's batch is at position {index}",
            head.size
        )));
    }
    let (status, hist) = get_json(&format!("{url}/api/v1/consents/{consent_id}")).await?;
    if status == 404 {
        return Ok(Some(format!("record missing: the server has no decision under consent id {consent_id}")));
    }
    if status != 200 {
        return Err(miette!("the history answered {status}: {hist}"));
    }
    let items = hist["records"].as_array().cloned().unwrap_or_default();
    let Some(item) = items.iter().find(|i| i["chain"] == proof.chain.as_str() && i["seq"] == proof.seq) else {
        return Ok(Some(format!("record missing: {}#{} is not in the visitor's history", proof.chain, proof.seq)));
    };
    if item["hash"] != proof.hash.as_str() {
        return Ok(Some(format!(
            "history rewritten: {}#{} now has hash {}, the receipt {}",
            proof.chain, proof.seq, item["hash"], proof.hash
        )));
    }
    let stored_batch: Option<crumb_ledger::LoggedBatch> = serde_json::from_value(item["batch"].clone()).ok();
    if stored_batch.as_ref() != Some(&proof.batch) {
        return Ok(Some("history rewritten: the server's batch for the record differs from the receipt's".into()));
    }
    let inclusion: Option<BatchInclusion> = serde_json::from_value(item["batch_inclusion"].clone()).ok();
    let Some(inclusion) = inclusion else {
        return Ok(Some("history rewritten: the server gives no proof of the batch in its tree head".into()));
    };
    if !inclusion.tree_head.signature_ok(trusted) {
        return Ok(Some("the history's tree head is not signed by a trusted key".into()));
    }
    if inclusion.tree_head.size <= index {
        return Ok(Some(format!(
            "tail cut: the log has {} batches, the receipt's batch is at position {index}",
            inclusion.tree_head.size
        )));
    }
    if let Err(e) = inclusion.check(&proof.batch) {
        return Ok(Some(format!("history rewritten: the batch is not at its position in the signed tree head ({e})")));
    }
    Ok(None)
}
