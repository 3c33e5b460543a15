//! Role bindings scoped to stream-name patterns, and the authorization decision.
//!
//! A principal holds any number of [`Binding`]s. A request is allowed when one binding's
//! role allows the action and its pattern covers the resource: the named stream, or for
//! actions not about one stream, every stream (`*`). Listing actions are the exception:
//! any binding granting them is enough and the caller filters the list.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::roles::{Action, Role};

/// One role granted on the streams whose names match `stream_pattern`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Binding {
    /// The role granted.
    pub role: Role,
    /// A glob over stream names: `*` matches any run of characters, `?` exactly one.
    pub stream_pattern: String,
}

impl Binding {
    /// A binding of `role` on `stream_pattern`.
    pub fn new(role: Role, stream_pattern: impl Into<String>) -> Self {
        Self {
            role,
            stream_pattern: stream_pattern.into(),
        }
    }

    /// Whether the pattern covers every stream, which actions not about one stream
    /// (cluster, security, account-level Kinesis calls) require.
    pub fn covers_all_streams(&self) -> bool {
        !self.stream_pattern.is_empty() && self.stream_pattern.chars().all(|c| c == '*')
    }

    /// Whether the pattern matches `stream`.
    pub fn matches_stream(&self, stream: &str) -> bool {
        glob_match(&self.stream_pattern, stream)
    }
}

/// Matches `text` against a glob where `*` is any run of characters (including none)
/// and `?` is exactly one character; everything else matches itself.
///
/// Greedy with single-star backtracking, so it runs in O(pattern × text) at worst and
/// never recurses, whatever an operator types.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` seen and the text position it is currently matched up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last star swallow one more character and retry after it.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A refused request, worded like AWS's AccessDeniedException so SDK users recognise it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("User: {principal} is not authorized to perform: {action} on resource: {resource}")]
pub struct Denied {
    /// Who asked.
    pub principal: String,
    /// What they asked to do.
    pub action: Action,
    /// What they asked to do it to: `stream/<name>` or `*`. Callers that know the
    /// stream's ARN may replace it so the message matches AWS exactly.
    pub resource: String,
}

impl Denied {
    /// The `__type` Kinesis uses for this error.
    pub const AWS_ERROR_TYPE: &'static str = "AccessDeniedException";
    /// The HTTP status Kinesis's JSON protocol uses for it (all client errors are 400).
    pub const HTTP_STATUS: u16 = 400;
}

/// Decides whether `principal`, holding `bindings`, may perform `action` on `stream`.
///
/// `stream: None` means the action is not about one stream. Then a binding whose
/// pattern covers all streams is required, except for listing actions
/// ([`Action::is_listing`]), which any granting binding satisfies.
pub fn authorize(
    principal: &str,
    bindings: &[Binding],
    action: Action,
    stream: Option<&str>,
) -> Result<(), Denied> {
    let granted = bindings
        .iter()
        .filter(|b| b.role.allows(action))
        .any(|b| match stream {
            Some(name) => b.matches_stream(name),
            None => action.is_listing() || b.covers_all_streams(),
        });
    if granted {
        return Ok(());
    }
    Err(Denied {
        principal: principal.to_owned(),
        action,
        resource: match stream {
            Some(name) => format!("stream/{name}"),
            None => "*".to_owned(),
        },
    })
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.role, self.stream_pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn glob_basics() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("pay*", "payments"));
        assert!(glob_match("pay*", "pay"));
        assert!(!glob_match("pay*", "pa"));
        assert!(glob_match("*-prod", "orders-prod"));
        assert!(!glob_match("*-prod", "orders-prod2"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(glob_match("a*b*c", "abbbc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exact2"));
        assert!(!glob_match("", "x"));
        assert!(glob_match("", ""));
        assert!(glob_match("**?", "x"));
    }

    #[test]
    fn authorize_by_stream() {
        let b = [Binding::new(Role::Producer, "payments-*")];
        assert!(authorize("alice", &b, Action::PutRecord, Some("payments-eu")).is_ok());
        let denied = authorize("alice", &b, Action::PutRecord, Some("orders"));
        assert_eq!(
            denied.map_err(|d| d.to_string()),
            Err(
                "User: alice is not authorized to perform: kinesis:PutRecord on resource: stream/orders"
                    .to_owned()
            )
        );
        assert!(authorize("alice", &b, Action::GetRecords, Some("payments-eu")).is_err());
    }

    #[test]
    fn unscoped_actions_need_star() {
        let scoped = [Binding::new(Role::Operator, "payments-*")];
        let star = [Binding::new(Role::Operator, "*")];
        assert!(authorize("op", &scoped, Action::ReadCluster, None).is_err());
        assert!(authorize("op", &star, Action::ReadCluster, None).is_ok());
        assert!(authorize("op", &scoped, Action::DescribeLimits, None).is_err());
        let err = authorize("op", &scoped, Action::WriteCluster, None).err();
        assert_eq!(err.map(|d| d.resource), Some("*".to_owned()));
    }

    #[test]
    fn listing_needs_any_granting_binding() {
        let scoped = [Binding::new(Role::Consumer, "payments-*")];
        assert!(authorize("c", &scoped, Action::ListStreams, None).is_ok());
        assert!(authorize("c", &scoped, Action::ReadStreams, None).is_ok());
        assert!(authorize("c", &[], Action::ListStreams, None).is_err());
    }

    #[test]
    fn several_bindings_combine() {
        let b = [
            Binding::new(Role::Viewer, "*"),
            Binding::new(Role::Producer, "logs"),
        ];
        assert!(authorize("p", &b, Action::PutRecord, Some("logs")).is_ok());
        assert!(authorize("p", &b, Action::PutRecord, Some("other")).is_err());
        assert!(authorize("p", &b, Action::DescribeStream, Some("other")).is_ok());
        assert!(authorize("p", &b, Action::ReadCluster, None).is_ok());
    }

    /// Reference matcher: plain recursion, obviously correct, exponential in the worst
    /// case but fine for the short inputs proptest generates.
    fn reference(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| reference(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && reference(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && reference(rest, &t[1..]),
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_reference(p in "[ab*?]{0,8}", t in "[ab]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(glob_match(&p, &t), reference(&pc, &tc));
        }

        #[test]
        fn star_matches_everything(t in "\\PC{0,20}") {
            prop_assert!(glob_match("*", &t));
        }

        #[test]
        fn literal_matches_itself(t in "[a-zA-Z0-9_.-]{1,20}") {
            prop_assert!(glob_match(&t, &t));
        }
    }
}
