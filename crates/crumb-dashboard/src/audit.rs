//! `/admin/audit` (the audit log, for admins) and `/admin/users` (accounts and their roles,
//! for admins of every site).

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use crumb_ledger::ALL_SITES;
use crumb_server::{ApiError, AppState};
use serde::Deserialize;

use crate::access::{ADMIN, VIEWER, audit, forbidden};
use crate::pages::site_ids;
use crate::session::{SignedIn, same_origin, storage_error};
use crate::state::Shared;

/// Audit entries shown.
pub const AUDIT_SHOWN: i64 = 500;

pub(crate) async fn log(
    State(st): State<AppState>,
    dash: Shared,
    SignedIn(user, access): SignedIn,
) -> Result<Response, ApiError> {
    if !access.admin_any() {
        return Err(forbidden("reading the audit log"));
    }
    let mut rows = st.storage().audit_log(AUDIT_SHOWN).await.map_err(storage_error)?;
    // Entries about one site go to its admins; the rest (sign-ins, accounts) to admins of every site.
    rows.retain(|r| match &r.site {
        Some(site) => access.is_admin(site),
        None => access.admin_all(),
    });
    Ok(dash.render("audit.html", minijinja::context! { user, page => "audit", rows }))
}

pub(crate) async fn users(
    State(st): State<AppState>,
    dash: Shared,
    SignedIn(user, access): SignedIn,
) -> Result<Response, ApiError> {
    if !access.admin_all() {
        return Err(forbidden("managing accounts"));
    }
    let names = st.storage().admin_users().await.map_err(storage_error)?;
    let roles = st.storage().roles(None).await.map_err(storage_error)?;
    let accounts: Vec<_> = names
        .iter()
        .map(|n| {
            let mine: Vec<_> = roles.iter().filter(|r| &r.name == n).cloned().collect();
            minijinja::context! { name => n, roles => mine }
        })
        .collect();
    Ok(dash.render(
        "users.html",
        minijinja::context! { user, page => "users", accounts, sites => site_ids(&st), me => access.summary() },
    ))
}

#[derive(Deserialize)]
pub(crate) struct RoleForm {
    name: String,
    site: String,
    role: String,
}

/// Give an account a role on a site (or every site), or take it away (`role` = `none`).
pub(crate) async fn set_role(
    State(st): State<AppState>,
    SignedIn(user, access): SignedIn,
    headers: HeaderMap,
    Form(form): Form<RoleForm>,
) -> Result<Response, ApiError> {
    same_origin(&headers)?;
    if !access.admin_all() {
        return Err(forbidden("managing accounts"));
    }
    let bad = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_role", m);
    let names = st.storage().admin_users().await.map_err(storage_error)?;
    if !names.contains(&form.name) {
        return Err(bad(format!("no account `{}`", form.name)));
    }
    if form.site != ALL_SITES && st.site(&form.site).is_none() {
        return Err(bad(format!("`{}` is not `*` or a site this server serves", form.site)));
    }
    if ![ADMIN, VIEWER, "none"].contains(&form.role.as_str()) {
        return Err(bad(format!("role must be admin, viewer or none (got `{}`)", form.role)));
    }
    if form.name == user && form.site == ALL_SITES && form.role != ADMIN {
        return Err(bad("you cannot take away your own role on every site; ask another admin".into()));
    }
    let mut roles: Vec<(String, String)> = st
        .storage()
        .roles(Some(&form.name))
        .await
        .map_err(storage_error)?
        .into_iter()
        .filter(|r| r.site != form.site)
        .map(|r| (r.site, r.role))
        .collect();
    if form.role != "none" {
        roles.push((form.site.clone(), form.role.clone()));
    }
    st.storage().set_roles(&form.name, &roles).await.map_err(storage_error)?;
    let site = (form.site != ALL_SITES).then_some(form.site.as_str());
    audit(&st, &user, "role_changed", site, format!("{} is now {} of {}", form.name, form.role, form.site)).await;
    Ok(Redirect::to("/admin/users").into_response())
}
