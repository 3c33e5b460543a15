//! `POST /v1/plan` and `POST /v1/apply`: the one implementation of plan and apply that
//! the CLI and the web console share. Both take the config by value (files and
//! variables), so the server needs nothing from the caller's disk.
//!
//! Apply answers with `application/x-ndjson`, one [`ApplyEvent`] per line as steps
//! happen, so long reshards show progress. The apply runs in its own task: a client that
//! disconnects does not leave a half-applied step behind. Applies are serialised per
//! server, which keeps two applies from interleaving their steps.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio_stream::wrappers::UnboundedReceiverStream;
use utoipa::{OpenApi, ToSchema};
use weir_control_plane::{ControlPlane, ControlPlaneError};

use crate::apply::{check_saved, execute, prepare, require_approval, ApplyEvent};
use crate::live::LiveStream;
use crate::plan::{Action, AttributeChange, Drift, Plan, ResourceChange, ResourceKind, Summary};
use crate::render::render_plan;
use crate::source::{Diagnostic, Document, SourceFile};
use crate::ConfigError;

/// The OpenAPI document of the config routes (committed as `openapi/config.json`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Weir declarative configs",
        description = "Plan and apply HCL or YAML configs of streams and consumers against the control plane."
    ),
    paths(plan, apply),
    components(schemas(
        PlanRequest,
        PlanResponse,
        ApplyRequest,
        ApplyEvent,
        Plan,
        ResourceChange,
        AttributeChange,
        Action,
        ResourceKind,
        Drift,
        Summary,
        LiveStream,
        Document,
        SourceFile,
        Diagnostic,
        ConfigErrorBody,
        ConfigErrorDetail
    ))
)]
pub struct ConfigApiDoc;

/// The OpenAPI document as pretty JSON, as committed in `openapi/config.json`.
pub fn openapi_json() -> String {
    let mut text = ConfigApiDoc::openapi().to_pretty_json().unwrap_or_default();
    text.push('\n');
    text
}

struct Service {
    control_plane: Arc<ControlPlane>,
    applying: Arc<Mutex<()>>,
}

/// The router of `/v1/plan`, `/v1/apply` and `/openapi/config.json`; merge it into the
/// control plane's REST router.
pub fn router(control_plane: Arc<ControlPlane>) -> Router {
    let service = Arc::new(Service {
        control_plane,
        applying: Arc::new(Mutex::new(())),
    });
    Router::new()
        .route("/v1/plan", post(plan))
        .route("/v1/apply", post(apply))
        .route(
            "/openapi/config.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], openapi_json()) }),
        )
        .with_state(service)
}

/// A config to plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// The config's files.
    #[serde(default)]
    pub files: Vec<SourceFile>,
    /// Variable files, in order.
    #[serde(default)]
    pub var_files: Vec<SourceFile>,
    /// `-var` values as text.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
    /// Config name when the config does not set `config_name`.
    #[serde(default)]
    pub config_name: Option<String>,
    /// Plan the removal of everything the config owns.
    #[serde(default)]
    pub destroy: bool,
}

impl PlanRequest {
    fn document(&self) -> Document {
        Document {
            files: self.files.clone(),
            var_files: self.var_files.clone(),
            vars: self.vars.clone(),
            config_name: self.config_name.clone(),
        }
    }
}

/// A plan and its text.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PlanResponse {
    /// The plan; save it and send it back to `/v1/apply` to apply exactly this.
    pub plan: Plan,
    /// The plan as text, Terraform style.
    pub rendered: String,
    /// Whether applying would change anything.
    pub has_changes: bool,
    /// Addresses of changes that need approval (deletions, replacements, shorter retention).
    pub needs_approval: Vec<String>,
}

/// What to apply: a config (planned and applied at once) or a saved plan.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    /// A saved plan from `/v1/plan`. When set, the config fields must be empty.
    #[serde(default)]
    pub plan: Option<Plan>,
    /// The config's files (when no plan is given).
    #[serde(default)]
    pub files: Vec<SourceFile>,
    /// Variable files, in order.
    #[serde(default)]
    pub var_files: Vec<SourceFile>,
    /// `-var` values as text.
    #[serde(default)]
    pub vars: std::collections::BTreeMap<String, String>,
    /// Config name when the config does not set `config_name`.
    #[serde(default)]
    pub config_name: Option<String>,
    /// Remove everything the config owns.
    #[serde(default)]
    pub destroy: bool,
    /// The caller reviewed and approves deletions, replacements and shorter retention.
    #[serde(default)]
    pub approve: bool,
}

/// Every error these routes answer with; the shape of the control plane's errors plus
/// located diagnostics.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConfigErrorBody {
    /// What went wrong.
    pub error: ConfigErrorDetail,
}

/// Error code, message and, for config errors, where.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConfigErrorDetail {
    /// `InvalidConfig`, `StalePlan`, `ApprovalRequired`, `InvalidArgument`, ...
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Each problem with file, line and column (for `InvalidConfig`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

/// A [`ConfigError`] as an HTTP answer.
struct RestError(ConfigError);

impl From<ConfigError> for RestError {
    fn from(error: ConfigError) -> Self {
        Self(error)
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            ConfigError::Invalid(_) | ConfigError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConfigError::StalePlan(_)
            | ConfigError::ApprovalRequired(_)
            | ConfigError::Concurrent(_) => StatusCode::CONFLICT,
            ConfigError::Apply { source, .. } => match source {
                ControlPlaneError::NotFound(_) => StatusCode::NOT_FOUND,
                ControlPlaneError::InUse(_) => StatusCode::CONFLICT,
                ControlPlaneError::LimitExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
                ControlPlaneError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
                ControlPlaneError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            },
        };
        let body = ConfigErrorBody {
            error: ConfigErrorDetail {
                code: self.0.code().to_string(),
                message: self.0.to_string(),
                diagnostics: self.0.diagnostics().to_vec(),
            },
        };
        (status, Json(body)).into_response()
    }
}

fn body<T>(payload: Result<Json<T>, JsonRejection>) -> Result<T, RestError> {
    payload.map(|Json(value)| value).map_err(|rejection| {
        RestError(ConfigError::BadRequest(format!(
            "Invalid request body: {}",
            rejection.body_text()
        )))
    })
}

/// Plan a config against the live state.
#[utoipa::path(post, path = "/v1/plan", request_body = PlanRequest,
    responses((status = 200, body = PlanResponse), (status = 400, body = ConfigErrorBody)))]
async fn plan(
    State(service): State<Arc<Service>>,
    payload: Result<Json<PlanRequest>, JsonRejection>,
) -> Result<Json<PlanResponse>, RestError> {
    let request = body(payload)?;
    let prepared = prepare(&service.control_plane, request.document(), request.destroy)?;
    let plan = prepared.plan;
    Ok(Json(PlanResponse {
        rendered: render_plan(&plan),
        has_changes: plan.has_changes(),
        needs_approval: plan
            .destructive_changes()
            .iter()
            .map(|c| c.address.clone())
            .collect(),
        plan,
    }))
}

/// Apply a config or a saved plan; answers with one JSON event per line as steps happen.
#[utoipa::path(post, path = "/v1/apply", request_body = ApplyRequest,
    responses(
        (status = 200, description = "Newline-delimited ApplyEvent objects, ending with `complete` or `failed`.", content_type = "application/x-ndjson", body = ApplyEvent),
        (status = 400, body = ConfigErrorBody),
        (status = 409, description = "StalePlan or ApprovalRequired", body = ConfigErrorBody)))]
async fn apply(
    State(service): State<Arc<Service>>,
    payload: Result<Json<ApplyRequest>, JsonRejection>,
) -> Result<Response, RestError> {
    let request = body(payload)?;
    let guard = Arc::clone(&service.applying).lock_owned().await;
    let prepared = match &request.plan {
        Some(saved) => {
            if !request.files.is_empty()
                || !request.var_files.is_empty()
                || !request.vars.is_empty()
                || request.destroy
            {
                return Err(RestError(ConfigError::BadRequest(
                    "send either a saved plan or a config (files, vars, destroy), not both".into(),
                )));
            }
            check_saved(&service.control_plane, saved)?
        }
        None => {
            let document = Document {
                files: request.files.clone(),
                var_files: request.var_files.clone(),
                vars: request.vars.clone(),
                config_name: request.config_name.clone(),
            };
            prepare(&service.control_plane, document, request.destroy)?
        }
    };
    require_approval(&prepared.plan, request.approve)?;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<Result<String, Infallible>>();
    let control_plane = Arc::clone(&service.control_plane);
    tokio::spawn(async move {
        let _guard = guard;
        let mut send = |event: ApplyEvent| {
            let mut line = serde_json::to_string(&event).unwrap_or_default();
            line.push('\n');
            let _ = sender.send(Ok(line));
        };
        if let Err(error) = execute(&control_plane, &prepared, &mut send).await {
            tracing::warn!(config = %prepared.plan.config_name, %error, "apply stopped");
        }
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(UnboundedReceiverStream::new(receiver)),
    )
        .into_response())
}
