//! `weir`: the one binary. The embedded stack (`up`), the production servers, the load
//! generator, and tooling.

mod bench;
mod bench_efo;
mod cluster;
mod config_cmd;
mod kube_cmd;
mod limit_args;
mod master_key_cmd;
mod pool_args;
mod scaling_args;
mod security_args;
mod serve;
mod tier_args;

use clap::{Parser, Subcommand};

/// mimalloc instead of glibc malloc: a busy node allocates and frees a buffer per record,
/// and glibc's allocator was a quarter of its CPU profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Weir: a self-hostable, Kinesis-compatible streaming service.
#[derive(Debug, Parser)]
#[command(name = "weir", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole service on this machine: control plane, one data-plane node, SQLite
    /// metadata and data under ./.weir. Binds loopback only.
    Up(serve::UpArgs),
    /// Run the production control plane (REST /v1) against Postgres or SQLite; with
    /// --kinesis-addr it also hosts a data-plane node.
    ControlPlane(Box<serve::ControlPlaneArgs>),
    /// Run one data-plane node of a cluster; it registers with `weir control-plane`.
    DataPlane(serve::DataPlaneArgs),
    /// Load-test any Kinesis endpoint: throughput, put latency, end-to-end latency.
    Bench(bench::BenchArgs),
    /// Print the control plane's OpenAPI document.
    Openapi,
    /// Check a declarative config (HCL or YAML) offline.
    Validate(config_cmd::ValidateArgs),
    /// Show what applying a config would change on the control plane, Terraform style.
    Plan(config_cmd::PlanArgs),
    /// Converge the control plane to a config, or apply a plan saved with `plan -out`.
    Apply(config_cmd::ApplyArgs),
    /// Delete every stream and consumer a config owns (nothing else).
    Destroy(config_cmd::DestroyArgs),
    /// Rotate or retire the master key that seals data keys and secrets at rest.
    MasterKey(master_key_cmd::MasterKeyArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse_from(config_cmd::terraform_style_args(std::env::args_os()));
    let service = match &cli.command {
        Command::ControlPlane(_) => "weir-control-plane",
        Command::DataPlane(_) => "weir-node",
        _ => "weir",
    };
    // Logs always; spans exported only when OTEL_EXPORTER_OTLP_* asks for it.
    let telemetry = match weir_trace::Telemetry::install(service) {
        Ok(telemetry) => Some(telemetry),
        Err(problem) => {
            eprintln!("tracing: {problem}");
            None
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Up(args) => serve::up(args).await,
            Command::ControlPlane(args) => serve::control_plane(*args).await,
            Command::DataPlane(args) => serve::data_plane(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Openapi => {
                print!("{}", weir_control_plane::rest::openapi_json());
                Ok(())
            }
            Command::Validate(args) => exit_with(config_cmd::validate(args).await?),
            Command::Plan(args) => exit_with(config_cmd::plan(args).await?),
            Command::Apply(args) => exit_with(config_cmd::apply(args).await?),
            Command::Destroy(args) => exit_with(config_cmd::destroy(args).await?),
            Command::MasterKey(args) => master_key_cmd::run(args).await,
        }
    });
    drop(runtime);
    if let Some(telemetry) = telemetry {
        telemetry.shutdown();
    }
    outcome
}

/// Ends the process with `code` unless it is 0 (plan's -detailed-exitcode uses 2).
fn exit_with(code: i32) -> anyhow::Result<()> {
    if code != 0 {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::exit(code);
    }
    Ok(())
}
