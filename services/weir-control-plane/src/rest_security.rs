//! REST for security, and the authentication layer in front of the whole REST API.
//!
//! Every `/v1` route except `/v1/auth/token` needs `Authorization: Bearer <token>`. The
//! route decides the permission (`weir:ReadStreams` for reads of streams,
//! `weir:WriteStreams` for changes, `weir:WriteCluster` for moves,
//! `weir:ManagePrincipals` for principals and keys, `weir:ReadAudit` for the audit log),
//! scoped to the stream named in the path when there is one. Changes and every refusal
//! are written to the audit log.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weir_auth::{bearer_token, Action};
use weir_contracts::AuditLog as _;
use weir_meta::{AuditEvent, AuditQuery, PrincipalRecord};

use crate::rest::{body, ApiError, ErrorBody, ErrorDetail};
use crate::security::{Outcome, Security};
use crate::{ControlPlane, ControlPlaneError};

/// The principal a request was authenticated as (a request extension).
#[derive(Debug, Clone)]
pub struct Caller(pub String);

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (
        status,
        Json(ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        }),
    )
        .into_response()
}

/// The permission a REST route needs and the stream it is about; `None` for public routes.
pub fn rest_action(method: &Method, path: &str) -> Option<(Action, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let read = method == Method::GET || method == Method::HEAD;
    match parts.as_slice() {
        ["healthz"] | ["readyz"] | ["metrics"] | ["openapi.json"] | ["v1", "auth", "token"] => None,
        // The console's static files: it logs in and calls /v1 like any client.
        [""] | ["console", ..] | ["favicon.ico"] if read => None,
        ["v1", "streams", name, "shards", _, "records"] => {
            Some((Action::GetRecords, Some(name.to_string())))
        }
        ["v1", "auth", "rotate"] => Some((Action::ManagePrincipals, None)),
        ["v1", "principals", ..] => Some((Action::ManagePrincipals, None)),
        ["v1", "audit", ..] => Some((Action::ReadAudit, None)),
        ["v1", "plan"] => Some((Action::ReadStreams, None)),
        ["v1", "apply"] => Some((Action::WriteStreams, None)),
        ["v1", "streams", name, "shards", _, "move"] => {
            Some((Action::WriteCluster, Some(name.to_string())))
        }
        ["v1", "streams", name, "shards", _, "segments" | "events"]
        | ["v1", "streams", name, "placement"] => {
            Some((Action::ReadCluster, Some(name.to_string())))
        }
        ["v1", "nodes", ..] => Some((
            if read {
                Action::ReadCluster
            } else {
                Action::WriteCluster
            },
            None,
        )),
        ["v1", "streams", name, ..] => Some((
            if read {
                Action::ReadStreams
            } else {
                Action::WriteStreams
            },
            Some(name.to_string()),
        )),
        ["v1", "streams"] => Some((
            if read {
                Action::ReadStreams
            } else {
                Action::WriteStreams
            },
            None,
        )),
        _ => Some((
            if read {
                Action::ReadStreams
            } else {
                Action::WriteStreams
            },
            None,
        )),
    }
}

fn source_of(request: &Request) -> String {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_string(), |c| c.0.to_string())
}

/// Authenticates and authorizes every REST request (axum middleware).
pub async fn authenticate(
    State(security): State<Arc<Security>>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    if path.starts_with("/internal/") {
        return next.run(request).await;
    }
    let Some((action, stream)) = rest_action(request.method(), &path) else {
        return next.run(request).await;
    };
    let source = source_of(&request);
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let principal = match bearer_token(header)
        .map_err(crate::security::AuthFailure::from)
        .and_then(|token| security.verify_token(token))
    {
        Ok(p) => p,
        Err(failure) => {
            security
                .audit
                .record(
                    "-",
                    action.as_str(),
                    &path,
                    &source,
                    Outcome::Unauthenticated,
                    &failure.to_string(),
                )
                .await;
            return error(
                StatusCode::UNAUTHORIZED,
                "Unauthenticated",
                format!("{failure}. Get a token with POST /v1/auth/token and send it as Authorization: Bearer <token>."),
            );
        }
    };
    if let Err(denied) = security.authorize(&principal, action, stream.as_deref()) {
        security
            .audit
            .record(
                &principal,
                action.as_str(),
                &path,
                &source,
                Outcome::Denied,
                &denied.to_string(),
            )
            .await;
        return error(StatusCode::FORBIDDEN, "AccessDenied", denied.to_string());
    }
    let is_change = request.method() != Method::GET && request.method() != Method::HEAD;
    request.extensions_mut().insert(Caller(principal.clone()));
    let response = next.run(request).await;
    if is_change {
        let status = response.status();
        let outcome = if status.is_success() {
            Outcome::Allowed
        } else {
            Outcome::Failed
        };
        security
            .audit
            .record(
                &principal,
                action.as_str(),
                &path,
                &source,
                outcome,
                status.as_str(),
            )
            .await;
    }
    response
}

fn security(cp: &ControlPlane) -> Result<Arc<Security>, ApiError> {
    cp.security().ok_or_else(|| {
        ControlPlaneError::InvalidArgument(
            "Authentication is off on this deployment (start it with --auth).".into(),
        )
        .into()
    })
}

/// Body of a token request.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// An access key id issued by Weir.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
}

/// A bearer token.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// The principal it authenticates.
    pub principal: String,
    /// Expiry, ms since the epoch.
    pub expires_at_ms: i64,
}

/// Exchange an access key for a bearer token.
#[utoipa::path(post, path = "/v1/auth/token", request_body = TokenRequest,
    responses((status = 200, body = TokenView), (status = 401, body = ErrorBody)))]
pub async fn token(
    State(cp): State<Arc<ControlPlane>>,
    request: Request,
) -> Result<Response, ApiError> {
    let security = security(&cp)?;
    let source = source_of(&request);
    let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024)
        .await
        .map_err(|e| ControlPlaneError::InvalidArgument(format!("Invalid request body: {e}")))?;
    let request: TokenRequest = serde_json::from_slice(&bytes).map_err(|e| {
        ControlPlaneError::InvalidArgument(format!(
            "Invalid request body: {e}. Send {{\"access_key_id\": ..., \"secret_access_key\": ...}}."
        ))
    })?;
    match security.issue_token(&request.access_key_id, &request.secret_access_key) {
        Ok((token, principal, expires_at_ms)) => Ok(Json(TokenView {
            token,
            token_type: "Bearer".into(),
            principal,
            expires_at_ms,
        })
        .into_response()),
        Err(failure) => {
            security
                .audit
                .record(
                    "-",
                    "auth:Token",
                    &format!("access-key/{}", request.access_key_id),
                    &source,
                    Outcome::Unauthenticated,
                    &failure.to_string(),
                )
                .await;
            Ok(error(
                StatusCode::UNAUTHORIZED,
                "Unauthenticated",
                failure.to_string(),
            ))
        }
    }
}

/// Start signing tokens with a new key (old tokens stay valid until they expire).
#[utoipa::path(post, path = "/v1/auth/rotate",
    responses((status = 200, body = RotateView), (status = 403, body = ErrorBody)))]
pub async fn rotate(State(cp): State<Arc<ControlPlane>>) -> Result<Json<RotateView>, ApiError> {
    let kid = security(&cp)?.rotate_signing_key().await?;
    Ok(Json(RotateView { key_id: kid }))
}

/// The new signing key's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct RotateView {
    /// `kid` of tokens issued from now on.
    pub key_id: String,
}

/// A role on a stream-name pattern.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingView {
    /// admin, operator, producer, consumer or viewer.
    pub role: String,
    /// Stream-name glob: `*` any run of characters, `?` one character.
    pub streams: String,
}

/// A principal.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalView {
    /// Name.
    pub name: String,
    /// `user` or `service`.
    pub kind: String,
    /// Roles and where they apply.
    pub bindings: Vec<BindingView>,
    /// Access key ids (secrets are never shown again).
    pub access_key_ids: Vec<String>,
    /// Creation time.
    pub created_at_ms: i64,
}

/// Body of a principal creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePrincipalBody {
    /// 1-128 of `[A-Za-z0-9-_.@]`.
    pub name: String,
    /// `user` (default) or `service`.
    pub kind: Option<String>,
    /// Initial bindings.
    #[serde(default)]
    pub bindings: Vec<BindingView>,
}

/// Body of a bindings change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindingsBody {
    /// The complete new set of bindings.
    pub bindings: Vec<BindingView>,
}

/// A new access key: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewKeyView {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key; store it now.
    pub secret_access_key: String,
}

/// Principals.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrincipalList {
    /// Every principal.
    pub principals: Vec<PrincipalView>,
}

fn principal_view(security: &Security, p: &PrincipalRecord) -> PrincipalView {
    PrincipalView {
        name: p.name.clone(),
        kind: p.kind.clone(),
        bindings: p
            .bindings
            .iter()
            .map(|(role, streams)| BindingView {
                role: role.clone(),
                streams: streams.clone(),
            })
            .collect(),
        access_key_ids: security.key_ids(&p.name),
        created_at_ms: p.created_at_ms,
    }
}

fn pairs(bindings: Vec<BindingView>) -> Vec<(String, String)> {
    bindings.into_iter().map(|b| (b.role, b.streams)).collect()
}

/// List principals.
#[utoipa::path(get, path = "/v1/principals", responses((status = 200, body = PrincipalList)))]
pub async fn list_principals(
    State(cp): State<Arc<ControlPlane>>,
) -> Result<Json<PrincipalList>, ApiError> {
    let security = security(&cp)?;
    let principals = security
        .principals()
        .iter()
        .map(|p| principal_view(&security, p))
        .collect();
    Ok(Json(PrincipalList { principals }))
}

/// Create a user or service account.
#[utoipa::path(post, path = "/v1/principals", request_body = CreatePrincipalBody,
    responses((status = 201, body = PrincipalView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_principal(
    State(cp): State<Arc<ControlPlane>>,
    payload: Result<Json<CreatePrincipalBody>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<PrincipalView>), ApiError> {
    let security = security(&cp)?;
    let request = body(payload)?;
    let record = security
        .create_principal(
            &request.name,
            request.kind.as_deref().unwrap_or("user"),
            pairs(request.bindings),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(principal_view(&security, &record)),
    ))
}

/// Delete a principal, its keys and (at once) its tokens.
#[utoipa::path(delete, path = "/v1/principals/{name}", params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_principal(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    security(&cp)?.delete_principal(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a principal's bindings.
#[utoipa::path(put, path = "/v1/principals/{name}/bindings", params(("name" = String, Path)),
    request_body = BindingsBody,
    responses((status = 200, body = PrincipalView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_bindings(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
    payload: Result<Json<BindingsBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<PrincipalView>, ApiError> {
    let security = security(&cp)?;
    let request = body(payload)?;
    let record = security
        .set_bindings(&name, pairs(request.bindings))
        .await?;
    Ok(Json(principal_view(&security, &record)))
}

/// Issue an access key (for SigV4 and for tokens).
#[utoipa::path(post, path = "/v1/principals/{name}/keys", params(("name" = String, Path)),
    responses((status = 201, body = NewKeyView), (status = 404, body = ErrorBody)))]
pub async fn create_key(
    State(cp): State<Arc<ControlPlane>>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<NewKeyView>), ApiError> {
    let key = security(&cp)?.create_key(&name).await?;
    Ok((
        StatusCode::CREATED,
        Json(NewKeyView {
            access_key_id: key.id.to_string(),
            secret_access_key: key.secret.expose().to_string(),
        }),
    ))
}

/// Revoke an access key.
#[utoipa::path(delete, path = "/v1/principals/{name}/keys/{key_id}",
    params(("name" = String, Path), ("key_id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_key(
    State(cp): State<Arc<ControlPlane>>,
    Path((name, key_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    security(&cp)?.delete_key(&name, &key_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    /// Only this principal (`-` for unauthenticated callers).
    pub principal: Option<String>,
    /// Only this action, e.g. `weir:WriteStreams` or `kinesis:PutRecord`.
    pub action: Option<String>,
    /// Only this result: allowed, denied, unauthenticated, failed.
    pub result: Option<String>,
    /// Only events at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Most events (1-1000, default 100), newest first.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Audit events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// The events.
    pub events: Vec<AuditEventView>,
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// When (ms since the epoch).
    pub at_ms: i64,
    /// Who.
    pub principal: String,
    /// What.
    pub action: String,
    /// On what.
    pub resource: String,
    /// From where.
    pub source: String,
    /// allowed, denied, unauthenticated or failed.
    pub result: String,
    /// Status or reason.
    pub detail: String,
}

/// Query the audit log.
#[utoipa::path(get, path = "/v1/audit", params(AuditParams),
    responses((status = 200, body = AuditList), (status = 400, body = ErrorBody)))]
pub async fn audit(
    State(cp): State<Arc<ControlPlane>>,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditList>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ControlPlaneError::InvalidArgument(format!(
            "limit must be between 1 and 1000, got {limit}."
        ))
        .into());
    }
    let events = cp
        .store()
        .query_audit(&AuditQuery {
            principal: params.principal,
            action: params.action,
            result: params.result,
            since_ms: params.since_ms,
            limit,
        })
        .await
        .map_err(ControlPlaneError::from)?;
    Ok(Json(AuditList {
        events: events.into_iter().map(event_view).collect(),
    }))
}

fn event_view(e: AuditEvent) -> AuditEventView {
    AuditEventView {
        at_ms: e.at_ms,
        principal: e.principal,
        action: e.action,
        resource: e.resource,
        source: e.source,
        result: e.result,
        detail: e.detail,
    }
}
