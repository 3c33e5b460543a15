//! Resource policies of streams and consumers (PutResourcePolicy): the IAM policy grammar
//! subset Weir accepts, and their evaluation against a request.
//!
//! A policy is JSON: `Version` (`2012-10-17` or `2008-10-17`, optional), `Id` (optional)
//! and `Statement`, one object or a non-empty list of them. A statement has `Sid`
//! (optional, unique), `Effect` (`Allow` or `Deny`), `Principal` (`"*"`, or `{"AWS": ...}`
//! with one string or a list), `Action` (`"*"` or `kinesis:<Operation>`, wildcards `*` and
//! `?`, case-insensitive, each matching at least one Kinesis action) and `Resource` (ARNs
//! or wildcard patterns that must match the resource the policy is attached to). Anything
//! else (`Condition`, `NotAction`, `NotPrincipal`, `NotResource`, other principal kinds)
//! is refused with a message rather than ignored, since ignoring a condition would grant
//! more than the author meant. At most [`MAX_POLICY_BYTES`].
//!
//! Weir names its principals `arn:aws:iam::<account id>:user/<principal name>` (see
//! [`principal_arn`]); the account (`<account id>` or `arn:aws:iam::<account id>:root`)
//! and `"*"` stand for every authenticated principal.

use serde_json::{Map, Value};

use crate::roles::Action;
use crate::{glob_match, AuthError};

/// The largest policy accepted, in bytes (AWS's limit for resource-based policies: 20 KiB).
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

/// The policy versions IAM knows.
const VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// What a statement does when it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants the actions.
    Allow,
    /// Refuses the actions, whatever else grants them.
    Deny,
}

/// Who a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Who {
    /// `"*"`: every authenticated principal.
    Anyone,
    /// An account: every principal of it.
    Account(String),
    /// One principal's ARN.
    Arn(String),
}

/// One statement, parsed.
#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    principals: Vec<Who>,
    /// Lower-case patterns over `kinesis:<Operation>`.
    actions: Vec<String>,
    resources: Vec<String>,
}

/// What a policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDecision {
    /// A statement denies it: refused, whatever roles grant.
    Deny,
    /// A statement allows it and none denies it.
    Allow,
    /// No statement applies.
    NotApplicable,
}

/// A validated resource policy.
#[derive(Debug, Clone)]
pub struct ResourcePolicy {
    statements: Vec<Statement>,
}

/// How a Weir principal is named in a policy: `arn:aws:iam::<account id>:user/<name>`.
pub fn principal_arn(account_id: &str, principal: &str) -> String {
    format!("arn:aws:iam::{account_id}:user/{principal}")
}

fn invalid(message: impl Into<String>) -> AuthError {
    AuthError::InvalidPolicy(message.into())
}

impl ResourcePolicy {
    /// Parses and validates `text` as the policy of the resource `resource_arn`.
    pub fn parse(text: &str, resource_arn: &str) -> Result<Self, AuthError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(invalid(format!(
                "Policy is {} bytes; the limit is {MAX_POLICY_BYTES} bytes.",
                text.len()
            )));
        }
        let document: Value = serde_json::from_str(text)
            .map_err(|e| invalid(format!("Policy is not valid JSON: {e}.")))?;
        let Value::Object(document) = document else {
            return Err(invalid("Policy must be a JSON object."));
        };
        for key in document.keys() {
            if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
                return Err(invalid(format!(
                    "Policy element {key} is not supported: a policy has Version, Id and Statement."
                )));
            }
        }
        if let Some(version) = document.get("Version") {
            if !version.as_str().is_some_and(|v| VERSIONS.contains(&v)) {
                return Err(invalid(format!(
                    "Policy Version {version} is not valid: use \"2012-10-17\"."
                )));
            }
        }
        if document.get("Id").is_some_and(|id| !id.is_string()) {
            return Err(invalid("Policy Id must be a string."));
        }
        let statements = match document.get("Statement") {
            None => return Err(invalid("Policy has no Statement.")),
            Some(Value::Object(one)) => vec![one],
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .map(|s| {
                    s.as_object()
                        .ok_or_else(|| invalid("Each Statement must be a JSON object."))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(invalid(
                    "Statement must be an object or a non-empty list of objects.",
                ))
            }
        };
        let mut sids: Vec<&str> = Vec::new();
        let mut parsed = Vec::with_capacity(statements.len());
        for statement in statements {
            if let Some(sid) = statement.get("Sid") {
                let sid = sid
                    .as_str()
                    .ok_or_else(|| invalid("Statement Sid must be a string."))?;
                if sids.contains(&sid) {
                    return Err(invalid(format!(
                        "Statement Sid {sid} is used twice; Sids must be unique within a policy."
                    )));
                }
                sids.push(sid);
            }
            parsed.push(parse_statement(statement, resource_arn)?);
        }
        Ok(Self { statements: parsed })
    }

    /// What this policy says about `principal` (a Weir principal name) performing `action`
    /// on `resource_arn`, in account `account_id`. A Deny in any applicable statement wins.
    pub fn evaluate(
        &self,
        account_id: &str,
        principal: &str,
        action: Action,
        resource_arn: &str,
    ) -> PolicyDecision {
        let arn = principal_arn(account_id, principal);
        let action = action.as_str().to_ascii_lowercase();
        let mut decision = PolicyDecision::NotApplicable;
        for statement in &self.statements {
            let who = statement.principals.iter().any(|w| match w {
                Who::Anyone => true,
                Who::Account(account) => account == account_id,
                Who::Arn(a) => *a == arn,
            });
            let what = statement.actions.iter().any(|p| glob_match(p, &action));
            let where_ = statement
                .resources
                .iter()
                .any(|r| glob_match(r, resource_arn));
            if who && what && where_ {
                match statement.effect {
                    Effect::Deny => return PolicyDecision::Deny,
                    Effect::Allow => decision = PolicyDecision::Allow,
                }
            }
        }
        decision
    }
}

fn parse_statement(
    statement: &Map<String, Value>,
    resource_arn: &str,
) -> Result<Statement, AuthError> {
    for key in statement.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Principal" | "Action" | "Resource" => {}
            "Condition" | "NotAction" | "NotPrincipal" | "NotResource" => {
                return Err(invalid(format!(
                    "Statement element {key} is not supported by Weir; write the policy with Principal, Action and \
                     Resource only."
                )))
            }
            other => {
                return Err(invalid(format!(
                    "Statement element {other} is not valid: a statement has Sid, Effect, Principal, Action and \
                     Resource."
                )))
            }
        }
    }
    let effect = match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(invalid(format!(
                "Statement Effect {other} is not valid: use Allow or Deny."
            )))
        }
        None => return Err(invalid("Each Statement needs an Effect (Allow or Deny).")),
    };
    let principals = match statement.get("Principal") {
        None => {
            return Err(invalid(
                "Each Statement of a resource policy needs a Principal.",
            ))
        }
        Some(Value::String(s)) if s == "*" => vec![Who::Anyone],
        Some(Value::Object(kinds)) => {
            if let Some(kind) = kinds.keys().find(|k| *k != "AWS") {
                return Err(invalid(format!(
                    "Principal type {kind} is not supported: Weir principals are named with \"AWS\"."
                )));
            }
            let list = strings(kinds.get("AWS"), "Principal AWS")?;
            list.iter()
                .map(|p| parse_principal(p))
                .collect::<Result<_, _>>()?
        }
        Some(_) => {
            return Err(invalid(
                "Principal must be \"*\" or {\"AWS\": <ARN, account id, or a list of them>}.",
            ))
        }
    };
    let actions = strings(statement.get("Action"), "Action")?
        .into_iter()
        .map(|a| parse_action(&a))
        .collect::<Result<_, _>>()?;
    let resources = strings(statement.get("Resource"), "Resource")?;
    if let Some(other) = resources.iter().find(|r| !glob_match(r, resource_arn)) {
        return Err(invalid(format!(
            "Resource {other} does not match {resource_arn}, the resource the policy is attached to."
        )));
    }
    Ok(Statement {
        effect,
        principals,
        actions,
        resources,
    })
}

/// A string or a non-empty list of strings.
fn strings(value: Option<&Value>, what: &str) -> Result<Vec<String>, AuthError> {
    let wrong = || {
        invalid(format!(
            "{what} must be a string or a non-empty list of strings."
        ))
    };
    match value {
        None => Err(invalid(format!("Each Statement needs {what}."))),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(list)) if !list.is_empty() => list
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(wrong))
            .collect(),
        Some(_) => Err(wrong()),
    }
}

fn parse_principal(text: &str) -> Result<Who, AuthError> {
    let is_account = |a: &str| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
    if text == "*" {
        return Ok(Who::Anyone);
    }
    if is_account(text) {
        return Ok(Who::Account(text.to_string()));
    }
    let refused = || {
        invalid(format!(
            "Principal {text} is not valid: use \"*\", an account id, arn:aws:iam::<account id>:root or \
             arn:aws:iam::<account id>:user/<principal name>."
        ))
    };
    let rest = text.strip_prefix("arn:aws:iam::").ok_or_else(refused)?;
    let (account, resource) = rest.split_once(':').ok_or_else(refused)?;
    if !is_account(account) {
        return Err(refused());
    }
    if resource == "root" {
        return Ok(Who::Account(account.to_string()));
    }
    match resource.strip_prefix("user/") {
        Some(name) if !name.is_empty() && !name.contains(['*', '?']) => {
            Ok(Who::Arn(text.to_string()))
        }
        _ => Err(refused()),
    }
}

fn parse_action(text: &str) -> Result<String, AuthError> {
    let pattern = if text == "*" {
        "kinesis:*".to_string()
    } else {
        text.to_ascii_lowercase()
    };
    let Some(name) = pattern.strip_prefix("kinesis:") else {
        return Err(invalid(format!(
            "Action {text} is not a Kinesis action: a resource policy names kinesis:<Operation> actions."
        )));
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
    {
        return Err(invalid(format!(
            "Action {text} is not a valid action name."
        )));
    }
    let matches_one = Action::all()
        .iter()
        .filter(|a| a.as_str().starts_with("kinesis:"))
        .any(|a| glob_match(&pattern, &a.as_str().to_ascii_lowercase()));
    if !matches_one {
        return Err(invalid(format!("Action {text} names no Kinesis action.")));
    }
    Ok(pattern)
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
