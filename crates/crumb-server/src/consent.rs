//! The consent API: `POST /api/v1/consents` records a decision and answers with a
//! [`Receipt`]; `GET /api/v1/consents/{consent_id}` returns a visitor's [`History`]. The
//! rules a decision must satisfy are the domain's ([`crumb_core::consent::validate_choices`]);
//! this module turns HTTP into an [`Entry`] and ledger outcomes into answers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use crumb_core::consent::{Action, validate_choices};
use crumb_core::inventory::RegionalMode;
use crumb_ledger::export::rfc3339;
use crumb_ledger::{AppendError, Entry, Record, now_ms};
use http_body_util::BodyExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::net;
use crate::proofs::{BatchBody, BatchInclusionBody, TreeHeadBody};
use crate::state::AppState;

/// Largest consent body accepted.
pub const MAX_BODY: usize = 8 * 1024;

/// `POST /api/v1/consents` body.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    /// Site id, as in the inventory's `[site] id`.
    pub site: String,
    /// The visitor's consent id from an earlier receipt; absent on the first decision.
    #[serde(default)]
    #[schemars(extend("format" = "uuid"))]
    pub consent_id: Option<String>,
    /// The policy version the banner showed.
    pub policy_version: String,
    /// Choice per category id; required categories may be omitted (they are always true).
    pub choices: BTreeMap<String, bool>,
    /// What the visitor did.
    pub action: Action,
    /// Banner language (BCP 47, like `en`).
    #[serde(default)]
    pub language: Option<String>,
    /// The page's URL; stored without query and fragment.
    #[serde(default)]
    pub url: Option<String>,
}

/// The 201 answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Receipt {
    /// The visitor's consent id.
    #[schemars(extend("format" = "uuid"))]
    pub consent_id: String,
    /// The writer's chain the record is on.
    pub chain: String,
    /// Position on the writer's chain.
    pub seq: i64,
    /// The record's hash (hex SHA-256).
    pub hash: String,
    /// When the record was committed (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub recorded_at: String,
    /// When the decision expires and the banner asks again (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
    /// The signed batch the record was committed in (its Merkle root signed once).
    pub batch: BatchBody,
    /// The record's inclusion proof in the batch's tree (hex hashes, bottom up; leaf
    /// `seq - first_seq`). `crumb ledger verify-receipt` checks it offline.
    pub inclusion_proof: Vec<String>,
}

fn header_flag(h: &HeaderMap, name: &str) -> bool {
    h.get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == "1")
}

async fn read_body(body: Body) -> Result<bytes::Bytes, ApiError> {
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        )),
        Err(_) => Err(ApiError::bad_request("the body could not be read")),
    }
}

pub(crate) async fn post_consent(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let ip = st.client_ip(peer, &headers);
    if st.rate_limited(ip) {
        return Err(ApiError {
            retry_after: Some(60),
            ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many consent requests; retry later")
        });
    }
    if headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok())
        > Some(MAX_BODY)
    {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    let bytes = read_body(body).await?;
    let req: ConsentRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("the body is not a valid consent request: {e}")))?;
    let site = st
        .site(&req.site)
        .ok_or_else(|| ApiError::not_found("unknown_site", format!("no site `{}` is served here", req.site)))?;
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !net::origin_allowed(&site.inv, origin, st.dev()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "origin_not_allowed",
            format!("the request's Origin is not one of site `{}`'s declared origins", req.site),
        ));
    }
    let consent_id = match &req.consent_id {
        Some(id) => uuid::Uuid::parse_str(id)
            .map_err(|_| ApiError::bad_request("consent_id must be a UUID as returned by an earlier receipt"))?
            .hyphenated()
            .to_string(),
        None => uuid::Uuid::now_v7().hyphenated().to_string(),
    };
    if !site.covered.contains(&req.policy_version) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "stale_policy_version",
            format!(
                "policy version `{}` is not current for site `{}` (current: {}); reload the banner and ask again",
                req.policy_version, req.site, site.version
            ),
        ));
    }
    let choices = validate_choices(&site.inv, &req.choices, req.action)
        .map_err(|e| ApiError::unprocessable(e.code(), e.to_string()))?;
    let language = match req.language {
        Some(l) if l.len() <= 35 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !l.is_empty() => {
            Some(l)
        }
        Some(_) => return Err(ApiError::unprocessable("invalid_language", "language must be a BCP 47 tag like `en`")),
        None => None,
    };
    let url = match req.url.as_deref() {
        Some(u) => Some(net::clean_url(u).ok_or_else(|| {
            ApiError::unprocessable("invalid_url", "url must be the page's http(s) URL, at most 2048 characters")
        })?),
        None => None,
    };
    let (region, mode) = st.region_and_mode(&site, &headers);
    let now = now_ms();
    let entry = Entry {
        consent_id,
        site: site.inv.site.id.clone(),
        policy_version: req.policy_version,
        choices,
        action: req.action.as_str().to_string(),
        gpc: header_flag(&headers, "sec-gpc"),
        dnt: header_flag(&headers, "dnt"),
        region,
        mode: if mode == RegionalMode::OptOut { "opt_out" } else { "opt_in" }.to_string(),
        language,
        url,
        ua_family: net::ua_family(headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())).to_string(),
        ip_hash: Some(st.anonymiser().anonymise(ip)),
        recorded_at: now,
        expires_at: now + site.lifetime_ms,
        retain_until: now + site.retain_ms,
    };
    match st.ledger().append_proved(entry).await {
        Ok(c) => {
            let r = c.record;
            tracing::debug!(site = %r.entry.site, seq = r.seq, "consent recorded");
            let receipt = Receipt {
                consent_id: r.entry.consent_id,
                chain: r.chain,
                seq: r.seq,
                hash: r.hash,
                recorded_at: rfc3339(r.entry.recorded_at),
                expires_at: rfc3339(r.entry.expires_at),
                batch: BatchBody::from(c.batch.as_ref()),
                inclusion_proof: c.inclusion_proof,
            };
            Ok((StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(receipt)).into_response())
        }
        Err(AppendError::Unavailable) => {
            Err(ApiError::unavailable("the consent could not be stored right now; nothing was recorded, retry shortly"))
        }
        Err(AppendError::Closed) => Err(ApiError::unavailable("the server is shutting down; retry shortly")),
    }
}

/// `GET /api/v1/consents/{consent_id}`: every decision under one consent id.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct History {
    /// The consent id asked for.
    pub consent_id: String,
    /// Its decisions, oldest first.
    pub records: Vec<HistoryItem>,
    /// The signed tree head every `batch_inclusion` is proved against.
    pub tree_head: TreeHeadBody,
}

/// One record in a visitor's history (no address hash).
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct HistoryItem {
    /// Site.
    pub site: String,
    /// Version decided on.
    pub policy_version: String,
    /// Choices.
    pub choices: BTreeMap<String, bool>,
    /// Action.
    pub action: String,
    /// GPC seen.
    pub gpc: bool,
    /// DNT seen.
    pub dnt: bool,
    /// Region.
    pub region: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Page.
    pub url: Option<String>,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub recorded_at: String,
    /// RFC 3339.
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
    /// Chain.
    pub chain: String,
    /// Position.
    pub seq: i64,
    /// Hash.
    pub hash: String,
    /// The signed batch holding the record (absent for records written before batches
    /// were signed).
    pub batch: Option<BatchBody>,
    /// The record's inclusion proof in the batch's tree.
    pub inclusion_proof: Vec<String>,
    /// The batch's inclusion proof in `tree_head`.
    pub batch_inclusion: Option<BatchInclusionBody>,
}

impl From<Record> for HistoryItem {
    fn from(r: Record) -> Self {
        HistoryItem {
            site: r.entry.site,
            policy_version: r.entry.policy_version,
            choices: r.entry.choices,
            action: r.entry.action,
            gpc: r.entry.gpc,
            dnt: r.entry.dnt,
            region: r.entry.region,
            language: r.entry.language,
            url: r.entry.url,
            recorded_at: rfc3339(r.entry.recorded_at),
            expires_at: rfc3339(r.entry.expires_at),
            chain: r.chain,
            seq: r.seq,
            hash: r.hash,
            batch: None,
            inclusion_proof: Vec::new(),
            batch_inclusion: None,
        }
    }
}

pub(crate) async fn get_history(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("the consent id must be a UUID"))?
        .hyphenated()
        .to_string();
    let recs = match tokio::time::timeout(Duration::from_secs(5), st.storage().history(&id)).await {
        Ok(Ok(r)) => r,
        _ => return Err(ApiError::unavailable("the ledger is not reachable right now")),
    };
    if recs.is_empty() {
        return Err(ApiError::not_found("unknown_consent_id", "no decisions are recorded under this consent id"));
    }
    let mut records = Vec::with_capacity(recs.len());
    for r in recs {
        let batch = match tokio::time::timeout(Duration::from_secs(5), crate::proofs::record_in_batch(&st, &r)).await {
            Ok(Ok(b)) => b,
            _ => return Err(ApiError::unavailable("the ledger is not reachable right now")),
        };
        let mut item = HistoryItem::from(r);
        if let Some((b, proof)) = batch {
            item.batch = Some(BatchBody::from(&b));
            item.inclusion_proof = proof;
        }
        records.push(item);
    }
    let indexes: Vec<Option<i64>> = records.iter().map(|i| i.batch.as_ref().map(|b| b.log_index)).collect();
    let (tree_head, proofs) = crate::proofs::prove_batches(&st, &indexes).await?;
    for (item, p) in records.iter_mut().zip(proofs) {
        item.batch_inclusion = p;
    }
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(History { consent_id: id, records, tree_head })).into_response())
}
