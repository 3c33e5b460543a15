//! Tracing across Weir's processes.
//!
//! - [`trace_requests`] is an axum middleware: every HTTP request gets a span whose
//!   parent comes from the caller's W3C `traceparent`, so a write that crosses nodes
//!   (gateway, forward to the leader, the leader's log and fsync, replication to the
//!   followers, the control plane) is one trace. The span records its `trace_id`, which
//!   the log lines written inside it carry.
//! - [`inject`] adds the current span's `traceparent` to an outgoing internal call.
//! - [`Telemetry::install`] sets up the process's subscriber: log lines to stderr
//!   (`RUST_LOG`), OpenTelemetry spans always (ids and propagation cost little), and
//!   export over OTLP/HTTP (protobuf) only when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set and `OTEL_SDK_DISABLED` is not `true`.
//!   The standard variables apply (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//!   `OTEL_BSP_*`, `OTEL_TRACES_SAMPLER`...). The exporter speaks plain HTTP: send to a
//!   collector on the same host or pod (an agent or sidecar).

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The process's tracing, kept until exit so buffered spans are flushed.
pub struct Telemetry {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl Telemetry {
    /// Installs the global subscriber and propagator. `service` names the process in
    /// traces unless `OTEL_SERVICE_NAME` does. Answers an error only for a bad OTLP
    /// configuration; logging works regardless.
    pub fn install(service: &str) -> Result<Self, String> {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let wanted = [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        ]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        let disabled =
            std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var("OTEL_SERVICE_NAME").is_err() {
            resource = resource.with_service_name(service.to_string());
        }
        let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
        let mut problem = None;
        let exporting = wanted && !disabled;
        if exporting {
            match OnOwnRuntime::new() {
                Ok(exporter) => builder = builder.with_batch_exporter(exporter),
                Err(error) => problem = Some(format!("OTLP exporter not started: {error}")),
            }
        }
        let provider = builder.build();
        let tracer = provider.tracer("weir");
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer))
            .with(filter)
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colours for a terminal only: log files and collectors get plain text.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            )
            .try_init()
            .map_err(|e| e.to_string())?;
        match problem {
            Some(problem) => Err(problem),
            None => Ok(Self {
                provider,
                exporting,
            }),
        }
    }

    /// Whether spans are sent anywhere.
    pub fn exporting(&self) -> bool {
        self.exporting
    }

    /// Sends what is buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("tracing: could not flush spans: {error}");
        }
    }
}

/// The span of one HTTP request: its parent is the caller's `traceparent`, if any.
pub fn request_span(headers: &http::HeaderMap, method: &http::Method, path: &str) -> tracing::Span {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        otel.name = %format!("{method} {path}"),
        http.method = %method,
        url.path = %path,
        operation = %operation,
        trace_id = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|p| {
        p.extract(&opentelemetry_http::HeaderExtractor(headers))
    });
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    if let Some(id) = trace_id(&span) {
        span.record("trace_id", tracing::field::display(&id));
    }
    span
}

/// The trace id of `span`, when it has one.
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Axum middleware: runs each request inside its [`request_span`].
pub async fn trace_requests(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let span = request_span(request.headers(), request.method(), request.uri().path());
    next.run(request).instrument(span).await
}

/// The current span's context as headers (`traceparent`, `tracestate`), for an
/// outgoing internal call.
pub fn inject() -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(
            &context,
            &mut opentelemetry_http::HeaderInjector(&mut headers),
        )
    });
    headers
}

/// A span's trace context, kept past the span's end (to parent work done later on its
/// behalf, such as replication of a batch).
pub use opentelemetry::Context;

/// The current span's trace context.
pub fn current_context() -> Context {
    tracing::Span::current().context()
}

/// `span`, made a child of `parent`.
pub fn with_parent(span: tracing::Span, parent: &Context) -> tracing::Span {
    let _ = span.set_parent(parent.clone());
    span
}

/// The OTLP exporter, run on a small runtime of its own: the SDK's batch processor calls
/// exporters from its own thread, where the HTTP client would find no Tokio reactor.
#[derive(Debug)]
struct OnOwnRuntime {
    inner: opentelemetry_otlp::SpanExporter,
    runtime: tokio::runtime::Runtime,
}

impl OnOwnRuntime {
    fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        // The client is built inside the runtime it will run on.
        let inner = {
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .build()
                .map_err(|e| e.to_string())?
        };
        Ok(Self { inner, runtime })
    }
}

impl opentelemetry_sdk::trace::SpanExporter for OnOwnRuntime {
    fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> impl std::future::Future<Output = opentelemetry_sdk::error::OTelSdkResult> + Send {
        let result = self.runtime.block_on(self.inner.export(batch));
        std::future::ready(result)
    }

    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        let _entered = self.runtime.enter();
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}
