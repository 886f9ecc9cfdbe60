//! The OpenAPI 3 description served at `/openapi.json`. The request and response schemas
//! are generated from the Rust types the handlers (de)serialise (`schemars`), the limits from
//! the same constants the handlers use; the paths are listed here. `docs/openapi.json` is a
//! committed copy; a test fails when they drift
//! (`CRUMB_UPDATE_OPENAPI=1 cargo test -p crumb-server openapi` rewrites it).

use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::consent::{ConsentRequest, History, MAX_BODY, Receipt};
use crate::error::ErrorBody;
use crate::proofs::{ConsistencyBody, TreeHeadBody};
use crate::stats::SiteStats;

/// `components.schemas`: the schemas of the types the API reads and writes.
fn schemas() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    generator.subschema_for::<ErrorBody>();
    generator.subschema_for::<ConsentRequest>();
    generator.subschema_for::<Receipt>();
    generator.subschema_for::<History>();
    generator.subschema_for::<SiteStats>();
    generator.subschema_for::<TreeHeadBody>();
    generator.subschema_for::<ConsistencyBody>();
    Value::Object(generator.take_definitions(true))
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document.
pub fn document() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Crumb",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Consent recording and proof. See docs/server.md."
        },
        "paths": {
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/readyz": {"get": {"summary": "Readiness: the database answers", "responses": {"200": {"description": "ready"}, "503": error_response("the database is not reachable")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/.well-known/gpc.json": {"get": {"summary": "Global Privacy Control support", "responses": {"200": {"description": "GPC declaration", "content": {"application/json": {"schema": {"type": "object", "properties": {"gpc": {"type": "boolean"}, "lastUpdate": {"type": "string", "format": "date"}}}}}}}}},
            "/s/{site}/banner.js": {"get": {
                "summary": "The consent banner with the site's configuration inlined",
                "description": "Precompressed (Content-Encoding br or gzip by Accept-Encoding), strong ETag per representation (If-None-Match answers 304), Cache-Control public, max-age=300 (immutable when ?v= names the current ETag), Access-Control-Allow-Origin *. See docs/banner.md.",
                "parameters": [
                    {"name": "site", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "v", "in": "query", "required": false, "schema": {"type": "string"}, "description": "the ETag the snippet pinned"}
                ],
                "responses": {"200": {"description": "JavaScript", "content": {"text/javascript": {"schema": {"type": "string"}}}}, "304": {"description": "not modified"}, "404": error_response("unknown site")}
            }},
            "/s/{site}/banner-more.js": {"get": {
                "summary": "The banner's second stage (preferences dialog, deletion), loaded on demand with SRI",
                "parameters": [{"name": "site", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "JavaScript", "content": {"text/javascript": {"schema": {"type": "string"}}}}, "304": {"description": "not modified"}, "404": error_response("unknown site")}
            }},
            "/s/{site}/declaration.json": {"get": {
                "summary": "Per-cookie details the banner loads on demand, and what it deletes on refusal",
                "parameters": [{"name": "site", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the declaration", "content": {"application/json": {"schema": {"type": "object"}}}}, "304": {"description": "not modified"}, "404": error_response("unknown site")}
            }},
            "/api/v1/consents": {"post": {
                "summary": "Record a consent decision",
                "description": format!("The body is at most {MAX_BODY} bytes. 201 is sent only after the record is committed."),
                "parameters": [
                    {"name": "Origin", "in": "header", "required": true, "schema": {"type": "string"}, "description": "must be one of the site's declared origins"},
                    {"name": "Sec-GPC", "in": "header", "schema": {"type": "string"}},
                    {"name": "DNT", "in": "header", "schema": {"type": "string"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConsentRequest"}}}},
                "responses": {
                    "201": {"description": "recorded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Receipt"}}}},
                    "400": error_response("malformed JSON or wrong types"),
                    "403": error_response("origin not declared for the site"),
                    "404": error_response("unknown site"),
                    "409": error_response("stale policy version"),
                    "413": error_response("body too large"),
                    "422": error_response("unknown or missing category, or choices that contradict the action"),
                    "429": error_response("too many requests from this address"),
                    "503": error_response("storage unavailable; nothing was stored (Retry-After)")
                }
            }},
            "/api/v1/consents/{consent_id}": {"get": {
                "summary": "A visitor's own history",
                "parameters": [{"name": "consent_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}}],
                "responses": {
                    "200": {"description": "every decision under this id, oldest first", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/History"}}}},
                    "400": error_response("not a UUID"),
                    "404": error_response("no decisions under this id"),
                    "503": error_response("storage unavailable")
                }
            }},
            "/api/v1/ledger/tree-head": {"get": {
                "summary": "The log's signed tree head (public, cacheable, no personal data)",
                "description": "The RFC 9162 Merkle tree over every signed batch of every writer, in log order; signed with the answering server's checkpoint key. Witnesses (`crumb ledger witness`) poll it. See docs/ledger.md.",
                "responses": {
                    "200": {"description": "the tree head", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TreeHead"}}}},
                    "503": error_response("storage unavailable")
                }
            }},
            "/api/v1/ledger/consistency": {"get": {
                "summary": "An RFC 9162 consistency proof between two tree sizes (public, cacheable)",
                "parameters": [
                    {"name": "from", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0}, "description": "the older size"},
                    {"name": "to", "in": "query", "required": true, "schema": {"type": "integer", "minimum": 0}, "description": "the newer size, at most the current one"}
                ],
                "responses": {
                    "200": {"description": "the proof", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ConsistencyProof"}}}},
                    "400": error_response("missing, unknown or non-numeric parameter, or from larger than to"),
                    "404": error_response("to is larger than the log"),
                    "503": error_response("storage unavailable")
                }
            }},
            "/api/v1/stats": {"get": {
                "summary": "A site's consent figures over a time range (read-only, API key)",
                "description": "Counts of the decisions recorded for one site with from <= recorded_at < to, summed from the hourly aggregates the ledger keeps in the same transaction as the records. Authenticate with `Authorization: Bearer <key>`; keys are created with `crumb admin create-key`, scoped to sites and revocable. `format=csv` or `Accept: text/csv` answers a CSV export of the same figures (a header row and one row). See docs/server.md.",
                "security": [{"apiKey": []}],
                "parameters": [
                    {"name": "site", "in": "query", "required": true, "schema": {"type": "string"}, "description": "a site id in the key's scope"},
                    {"name": "from", "in": "query", "required": false, "schema": {"type": "string"}, "description": "inclusive: YYYY-MM-DD (UTC) or an RFC 3339 whole hour; absent: from the first record"},
                    {"name": "to", "in": "query", "required": false, "schema": {"type": "string"}, "description": "exclusive: YYYY-MM-DD (UTC) or an RFC 3339 whole hour; absent: no end"},
                    {"name": "format", "in": "query", "required": false, "schema": {"type": "string", "enum": ["json", "csv"]}, "description": "overrides Accept"}
                ],
                "responses": {
                    "200": {"description": "the figures", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SiteStats"}},
                        "text/csv": {"schema": {"type": "string"}, "example": "site,from,to,records,first_decisions,changes,accept_all,reject_all,save,withdraw,first_at,last_at\r\nleadsgen,2026-01-01T00:00:00Z,2026-02-01T00:00:00Z,3,2,1,1,1,1,0,2026-01-05T10:00:00Z,2026-01-20T08:30:00Z\r\n"}
                    }},
                    "400": error_response("missing site, unknown parameter or format"),
                    "401": error_response("no API key, or an unknown or revoked one (WWW-Authenticate: Bearer)"),
                    "403": error_response("the site is not in the key's scope"),
                    "422": error_response("a date that is not YYYY-MM-DD or an RFC 3339 whole hour, or from not before to"),
                    "503": error_response("storage unavailable")
                }
            }}
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "an API key from `crumb admin create-key`"}}
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_matches_committed_copy() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let now = serde_json::to_string_pretty(&super::document()).expect("serialises") + "\n";
        if std::env::var_os("CRUMB_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &now).expect("write docs/openapi.json");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == now,
            "docs/openapi.json is out of date: run CRUMB_UPDATE_OPENAPI=1 cargo test -p crumb-server openapi"
        );
    }
}
