//! `weir validate`, `weir plan`, `weir apply` and `weir destroy`: declarative configs,
//! Terraform style.
//!
//! `validate` runs offline (the same loader the server uses). The others send the config
//! by value to the control plane's `/v1/plan` and `/v1/apply`, so the CLI holds no plan
//! logic of its own and shows exactly what the server will do. `apply` always applies the
//! plan it printed (as a saved plan), so a change made between the two calls is refused
//! rather than applied unseen.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::Args;
use serde::Serialize;
use weir_config::rest::{ApplyRequest, ConfigErrorBody, PlanRequest, PlanResponse};
use weir_config::{
    load, render_plan, Action, ApplyEvent, Diagnostic, Document, Mode, Plan, SourceFile,
};

/// The subcommands whose Terraform-style single-dash flags (`-var`, `-out`, ...) are
/// accepted as well as the double-dash spelling.
const CONFIG_COMMANDS: &[&str] = &["validate", "plan", "apply", "destroy"];
const TERRAFORM_FLAGS: &[&str] = &[
    "var",
    "var-file",
    "out",
    "detailed-exitcode",
    "auto-approve",
    "destroy",
    "config-name",
    "endpoint",
];

/// Rewrites `-var x=1` to `--var x=1` (and the other Terraform flags) after a config
/// subcommand, so muscle memory from Terraform works; other subcommands are untouched.
pub fn terraform_style_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut in_config_command = false;
    let mut seen_subcommand = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_str().map(str::to_string);
        if i > 0 && !seen_subcommand {
            if let Some(t) = &text {
                if !t.starts_with('-') {
                    seen_subcommand = true;
                    in_config_command = CONFIG_COMMANDS.contains(&t.as_str());
                }
            }
            out.push(arg);
            continue;
        }
        match text {
            Some(t) if in_config_command && t == "--" => {
                in_config_command = false;
                out.push(arg);
            }
            Some(t) if in_config_command && t.starts_with('-') && !t.starts_with("--") => {
                let name = t[1..].split('=').next().unwrap_or_default();
                if TERRAFORM_FLAGS.contains(&name) {
                    out.push(OsString::from(format!("-{t}")));
                } else {
                    out.push(arg);
                }
            }
            _ => out.push(arg),
        }
    }
    out
}

/// Where the config comes from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Config file or folder; repeatable. A folder contributes its .hcl, .yaml and .yml
    /// files (not its subfolders, so variable files can live in one).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE|DIR",
        default_value = "."
    )]
    files: Vec<PathBuf>,
    /// Set a variable: -var name=value. Repeatable; wins over -var-file.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Read variables from a file (HCL `name = value`, or YAML). Repeatable; later files win.
    #[arg(long = "var-file", value_name = "FILE")]
    var_files: Vec<PathBuf>,
    /// Config name when the config does not set config_name (default: the file or folder
    /// name). It labels the streams the config owns.
    #[arg(long)]
    config_name: Option<String>,
}

/// Which control plane to talk to.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    /// REST endpoint of the control plane.
    #[arg(long, env = "WEIR_ENDPOINT", default_value = "http://127.0.0.1:4568")]
    endpoint: String,
}

/// Options of `weir validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    source: SourceArgs,
}

/// Options of `weir plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Save the plan here; `weir apply FILE` applies exactly it (or refuses if the streams
    /// changed since).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Plan the removal of everything the config owns.
    #[arg(long)]
    destroy: bool,
}

/// Options of `weir apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `weir plan -out FILE`; without it, the config is planned and applied.
    #[arg(value_name = "PLAN_FILE")]
    plan_file: Option<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Apply deletions, replacements and shorter retention without asking.
    #[arg(long)]
    auto_approve: bool,
}

/// Options of `weir destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    endpoint: EndpointArgs,
    /// Destroy without asking.
    #[arg(long)]
    auto_approve: bool,
}

/// `weir validate`: checks the config offline; exit code 0 or 1.
pub async fn validate(args: ValidateArgs) -> anyhow::Result<i32> {
    let document = read_document(&args.source).await?;
    match load(&document, Mode::Validate) {
        Ok(config) => {
            println!(
                "Success! The configuration is valid: config {:?}, {} streams, {} consumers.",
                config.name,
                config.streams.len(),
                config.consumers.len()
            );
            Ok(0)
        }
        Err(error) => {
            print_error(&error.to_string(), error.diagnostics(), &document);
            Ok(1)
        }
    }
}

/// `weir plan`.
pub async fn plan(args: PlanArgs) -> anyhow::Result<i32> {
    let document = read_document(&args.source).await?;
    let client = Client::new(&args.endpoint.endpoint)?;
    let Some(response) = client.plan(&document, args.destroy).await? else {
        return Ok(1);
    };
    print!("{}", response.rendered);
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&response.plan)?;
        tokio::fs::write(out, text)
            .await
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
        println!(
            "\nSaved the plan to: {0}\n\nTo apply exactly this plan, run:\n    weir apply {0}",
            out.display()
        );
    }
    Ok(if args.detailed_exitcode && response.has_changes {
        2
    } else {
        0
    })
}

/// `weir apply`.
pub async fn apply(args: ApplyArgs) -> anyhow::Result<i32> {
    let client = Client::new(&args.endpoint.endpoint)?;
    let (plan, document) = match &args.plan_file {
        Some(path) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .with_context(|| format!("cannot read the plan file {}", path.display()))?;
            let plan: Plan = serde_json::from_str(&text).with_context(|| {
                format!("{} is not a plan saved by `weir plan -out`", path.display())
            })?;
            print!("{}", render_plan(&plan));
            let document = plan.document.clone();
            (plan, document)
        }
        None => {
            let document = read_document(&args.source).await?;
            let Some(response) = client.plan(&document, false).await? else {
                return Ok(1);
            };
            print!("{}", response.rendered);
            (response.plan, document)
        }
    };
    run_plan(&client, plan, &document, args.auto_approve, "Apply").await
}

/// `weir destroy`.
pub async fn destroy(args: DestroyArgs) -> anyhow::Result<i32> {
    let document = read_document(&args.source).await?;
    let client = Client::new(&args.endpoint.endpoint)?;
    let Some(response) = client.plan(&document, true).await? else {
        return Ok(1);
    };
    print!("{}", response.rendered);
    run_plan(
        &client,
        response.plan,
        &document,
        args.auto_approve,
        "Destroy",
    )
    .await
}

/// Confirms if needed, applies, and prints progress; the exit code.
async fn run_plan(
    client: &Client,
    plan: Plan,
    document: &Document,
    auto_approve: bool,
    verb: &str,
) -> anyhow::Result<i32> {
    if !plan.has_changes() {
        println!("\n{verb} complete! Resources: 0 added, 0 changed, 0 destroyed.");
        return Ok(0);
    }
    let destructive: Vec<String> = plan
        .destructive_changes()
        .iter()
        .map(|c| c.address.clone())
        .collect();
    let approve = !destructive.is_empty();
    if approve && !auto_approve {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "\nError: this plan deletes resources or records ({}), which needs confirmation, and stdin is not a terminal, so Weir cannot ask. Review the plan above and re-run with -auto-approve to apply it.",
                destructive.join(", ")
            );
            return Ok(1);
        }
        if !confirm(&destructive).await? {
            println!("\n{verb} cancelled.");
            return Ok(1);
        }
    }
    println!();
    client.apply(plan, approve, document, verb).await
}

async fn confirm(destructive: &[String]) -> anyhow::Result<bool> {
    println!(
        "\nDo you want to perform these actions?\n  Weir will perform the actions described above, which delete resources or records: {}.\n  Only 'yes' will be accepted to approve.\n",
        destructive.join(", ")
    );
    print!("  Enter a value: ");
    std::io::stdout().flush()?;
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .context("reading the answer")??;
    Ok(answer.trim() == "yes")
}

/// The config files, variable files and variables named on the command line.
async fn read_document(args: &SourceArgs) -> anyhow::Result<Document> {
    let mut files = Vec::new();
    for path in &args.files {
        let metadata = tokio::fs::metadata(path)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        if metadata.is_dir() {
            let mut entries = tokio::fs::read_dir(path)
                .await
                .with_context(|| format!("cannot list {}", path.display()))?;
            let mut found = Vec::new();
            while let Some(entry) = entries.next_entry().await? {
                let child = entry.path();
                let config_like = matches!(
                    child.extension().and_then(|e| e.to_str()),
                    Some("hcl" | "yaml" | "yml")
                );
                if config_like && entry.file_type().await?.is_file() {
                    found.push(child);
                }
            }
            found.sort();
            if found.is_empty() {
                bail!("{} holds no .hcl, .yaml or .yml files", path.display());
            }
            for child in found {
                files.push(read_source(&child).await?);
            }
        } else {
            files.push(read_source(path).await?);
        }
    }
    let mut var_files = Vec::new();
    for path in &args.var_files {
        var_files.push(read_source(path).await?);
    }
    let mut vars = std::collections::BTreeMap::new();
    for pair in &args.vars {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| anyhow!("-var {pair:?}: write it as -var name=value"))?;
        vars.insert(name.trim().to_string(), value.to_string());
    }
    let config_name = match &args.config_name {
        Some(name) => Some(name.clone()),
        None => default_config_name(&args.files),
    };
    Ok(Document {
        files,
        var_files,
        vars,
        config_name,
    })
}

async fn read_source(path: &Path) -> anyhow::Result<SourceFile> {
    let content = tokio::fs::read_to_string(path)
        .await
        .with_context(|| format!("cannot read {}", path.display()))?;
    let name = path
        .strip_prefix("./")
        .unwrap_or(path)
        .display()
        .to_string();
    Ok(SourceFile { name, content })
}

/// The folder's name, or the file's name up to its first dot (`orders.weir.hcl` → `orders`).
fn default_config_name(paths: &[PathBuf]) -> Option<String> {
    let first = paths.first()?;
    let absolute = std::path::absolute(first).ok()?;
    let name = if first.extension().is_some() && !first.is_dir() {
        absolute
            .file_name()?
            .to_str()?
            .split('.')
            .next()?
            .to_string()
    } else {
        absolute
            .components()
            .filter_map(|c| match c {
                std::path::Component::Normal(part) => part.to_str(),
                _ => None,
            })
            .next_back()?
            .to_string()
    };
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}

/// Prints an error with each diagnostic's source line.
fn print_error(message: &str, diagnostics: &[Diagnostic], document: &Document) {
    if diagnostics.is_empty() {
        eprintln!("Error: {message}");
        return;
    }
    for diagnostic in diagnostics {
        eprintln!("Error: {diagnostic}");
        let source = document
            .files
            .iter()
            .chain(&document.var_files)
            .find(|f| f.name == diagnostic.file);
        if let Some(line) = source.and_then(|f| {
            f.content
                .lines()
                .nth(diagnostic.line.saturating_sub(1) as usize)
        }) {
            let number = diagnostic.line.to_string();
            eprintln!("  {number} | {line}");
            let pad: String = line
                .chars()
                .take(diagnostic.column.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            eprintln!("  {} | {pad}^", " ".repeat(number.len()));
        }
        eprintln!();
    }
    if diagnostics.len() > 1 {
        eprintln!("{} problems; nothing was changed.", diagnostics.len());
    } else {
        eprintln!("Nothing was changed.");
    }
}

/// The REST client of `/v1/plan` and `/v1/apply`.
struct Client {
    http: reqwest::Client,
    endpoint: String,
}

impl Client {
    fn new(endpoint: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
        })
    }

    async fn post(&self, path: &str, body: &impl Serialize) -> anyhow::Result<reqwest::Response> {
        self.http
            .post(format!("{}{path}", self.endpoint))
            .json(body)
            .send()
            .await
            .with_context(|| {
                format!(
                    "cannot reach the Weir control plane at {}: is it running (`weir up`)? Point at another with --endpoint or WEIR_ENDPOINT",
                    self.endpoint
                )
            })
    }

    /// The plan, or `None` after printing why there is none.
    async fn plan(
        &self,
        document: &Document,
        destroy: bool,
    ) -> anyhow::Result<Option<PlanResponse>> {
        let request = PlanRequest {
            files: document.files.clone(),
            var_files: document.var_files.clone(),
            vars: document.vars.clone(),
            config_name: document.config_name.clone(),
            destroy,
        };
        let response = self.post("/v1/plan", &request).await?;
        if !response.status().is_success() {
            self.report(response, document).await?;
            return Ok(None);
        }
        Ok(Some(
            response
                .json()
                .await
                .context("unreadable plan from the server")?,
        ))
    }

    /// Prints an error answer.
    async fn report(&self, response: reqwest::Response, document: &Document) -> anyhow::Result<()> {
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        match serde_json::from_str::<ConfigErrorBody>(&text) {
            Ok(body) => print_error(&body.error.message, &body.error.diagnostics, document),
            Err(_) => eprintln!("Error: the control plane answered {status}: {text}"),
        }
        Ok(())
    }

    async fn apply(
        &self,
        plan: Plan,
        approve: bool,
        document: &Document,
        verb: &str,
    ) -> anyhow::Result<i32> {
        let request = ApplyRequest {
            plan: Some(plan),
            approve,
            ..ApplyRequest::default()
        };
        let mut response = self.post("/v1/apply", &request).await?;
        if !response.status().is_success() {
            self.report(response, document).await?;
            return Ok(1);
        }
        let mut buffer = Vec::new();
        let mut finished = false;
        let mut failed = false;
        while let Some(chunk) = response.chunk().await.context(
            "the apply's progress stream broke off; run `weir plan` to see what was applied",
        )? {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let Ok(event) = serde_json::from_slice::<ApplyEvent>(&line) else {
                    continue;
                };
                match show(&event, verb) {
                    Outcome::Continue => {}
                    Outcome::Complete => finished = true,
                    Outcome::Failed => failed = true,
                }
            }
        }
        if failed {
            eprintln!(
                "\nThe steps before the failure stay applied. Run `weir plan` to see what remains."
            );
            return Ok(1);
        }
        if !finished {
            eprintln!("\nError: the server stopped reporting before the apply finished; run `weir plan` to see where things stand.");
            return Ok(1);
        }
        Ok(0)
    }
}

enum Outcome {
    Continue,
    Complete,
    Failed,
}

/// Prints one progress event, Terraform style.
fn show(event: &ApplyEvent, verb: &str) -> Outcome {
    match event {
        ApplyEvent::Started { address, action } => {
            let doing = match action {
                Action::Create => "Creating...",
                Action::Update => "Modifying...",
                Action::Replace => "Replacing...",
                Action::Delete => "Destroying...",
            };
            println!("{address}: {doing}");
        }
        ApplyEvent::Progress { address, message } => println!("{address}: {message}"),
        ApplyEvent::Finished {
            address,
            action,
            elapsed_ms,
        } => {
            let done = match action {
                Action::Create => "Creation complete",
                Action::Update => "Modifications complete",
                Action::Replace => "Replacement complete",
                Action::Delete => "Destruction complete",
            };
            println!("{address}: {done} after {}s", elapsed_ms / 1000);
        }
        ApplyEvent::Failed {
            address, message, ..
        } => {
            eprintln!("\nError: {address}: {message}");
            return Outcome::Failed;
        }
        ApplyEvent::Complete { summary } => {
            if verb == "Destroy" {
                println!(
                    "\nDestroy complete! Resources: {} destroyed.",
                    summary.destroy
                );
            } else {
                println!(
                    "\nApply complete! Resources: {} added, {} changed, {} destroyed.",
                    summary.add, summary.change, summary.destroy
                );
            }
            return Outcome::Complete;
        }
    }
    Outcome::Continue
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(args: &[&str]) -> Vec<String> {
        terraform_style_args(args.iter().map(OsString::from))
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn terraform_flags_are_accepted_after_config_commands_only() {
        assert_eq!(
            rewrite(&[
                "weir",
                "plan",
                "-f",
                "x",
                "-var",
                "a=1",
                "-var-file=v.hcl",
                "-detailed-exitcode",
                "-out",
                "p.json"
            ]),
            vec![
                "weir",
                "plan",
                "-f",
                "x",
                "--var",
                "a=1",
                "--var-file=v.hcl",
                "--detailed-exitcode",
                "--out",
                "p.json"
            ]
        );
        assert_eq!(
            rewrite(&["weir", "apply", "-auto-approve", "p.json"]),
            vec!["weir", "apply", "--auto-approve", "p.json"]
        );
        assert_eq!(
            rewrite(&["weir", "bench", "-out", "x"]),
            vec!["weir", "bench", "-out", "x"]
        );
    }

    #[test]
    fn config_names_come_from_the_file_or_folder() {
        assert_eq!(
            default_config_name(&[PathBuf::from("infra/examples/orders-platform")]),
            Some("orders-platform".into())
        );
        assert_eq!(
            default_config_name(&[PathBuf::from("streams/orders.weir.hcl")]),
            Some("orders".into())
        );
    }
}
