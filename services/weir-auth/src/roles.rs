//! Roles, actions and the permission table.
//!
//! Every request Weir serves is one [`Action`]: a Kinesis operation (`kinesis:PutRecord`)
//! or a REST capability (`weir:WriteCluster`). Actions fall into operation classes
//! ([`OpClass`]), and each [`Role`] is granted a set of classes (plus, for consumers, the
//! two consumer-registration actions enhanced fan-out needs). [`Role::allows`] is the one
//! place that decision is made; [`permission_table_markdown`] renders it for the docs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AuthError;

/// A role a principal holds on a set of streams.
///
/// Roles are deliberately few and fixed so that the permission table stays reviewable;
/// scoping to streams is done by [`crate::Binding`], not by more roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including principals and keys.
    Admin,
    /// Runs the cluster and stream lifecycle, but cannot read or write records and
    /// cannot grant itself more rights.
    Operator,
    /// Writes records and describes streams.
    Producer,
    /// Reads records, describes streams and registers enhanced fan-out consumers.
    Consumer,
    /// Read-only view of streams and of the cluster.
    Viewer,
}

impl Role {
    /// All roles, in the order the docs list them.
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Operator,
        Role::Producer,
        Role::Consumer,
        Role::Viewer,
    ];

    /// The lowercase name used in configs, the API and the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Producer => "producer",
            Role::Consumer => "consumer",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role permits `action`. The single source of truth for permissions.
    pub fn allows(self, action: Action) -> bool {
        let class = action.class();
        match self {
            Role::Admin => true,
            Role::Operator => {
                matches!(
                    class,
                    OpClass::Describe | OpClass::Manage | OpClass::Cluster
                ) || action == Action::ReadAudit
            }
            Role::Producer => matches!(class, OpClass::Write | OpClass::Describe),
            Role::Consumer => {
                matches!(class, OpClass::Read | OpClass::Describe)
                    || matches!(
                        action,
                        Action::RegisterStreamConsumer | Action::DeregisterStreamConsumer
                    )
            }
            Role::Viewer => class == OpClass::Describe || action == Action::ReadCluster,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| AuthError::UnknownRole(s.to_owned()))
    }
}

/// A group of actions that share a risk profile; roles are granted whole classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpClass {
    /// Putting records.
    Write,
    /// Reading records: iterators, GetRecords, SubscribeToShard.
    Read,
    /// Describing and listing streams, shards, tags, consumers and limits.
    Describe,
    /// Changing streams: create, delete, reshard, retention, tags, consumers, settings.
    Manage,
    /// Looking at or changing the cluster: nodes, placement, segments, drains.
    Cluster,
    /// Principals, keys, bindings and the audit log.
    Security,
}

impl OpClass {
    /// All classes, in the column order of the permission table.
    pub const ALL: [OpClass; 6] = [
        OpClass::Write,
        OpClass::Read,
        OpClass::Describe,
        OpClass::Manage,
        OpClass::Cluster,
        OpClass::Security,
    ];

    /// The name used as a column header in the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            OpClass::Write => "Write",
            OpClass::Read => "Read",
            OpClass::Describe => "Describe",
            OpClass::Manage => "Manage",
            OpClass::Cluster => "Cluster",
            OpClass::Security => "Security",
        }
    }
}

impl fmt::Display for OpClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Declares [`Action`] from one table so names, classes and the list of all actions
/// can never disagree.
macro_rules! actions {
    (
        kinesis { $( $k:ident => $kclass:ident, )* }
        weir { $( $w:ident => $wclass:ident, )* }
    ) => {
        /// One thing a request asks to do, named like an IAM action.
        ///
        /// Kinesis operations are `kinesis:<Operation>` so that denials read like AWS's;
        /// the REST API's capabilities are `weir:<Capability>`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $(
                #[doc = concat!("`kinesis:", stringify!($k), "`")]
                $k,
            )*
            $(
                #[doc = concat!("`weir:", stringify!($w), "`")]
                $w,
            )*
        }

        impl Action {
            const LIST: &'static [Action] = &[$(Action::$k,)* $(Action::$w,)*];

            /// The IAM-style name, e.g. `kinesis:PutRecord` or `weir:ReadCluster`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$k => concat!("kinesis:", stringify!($k)),)*
                    $(Action::$w => concat!("weir:", stringify!($w)),)*
                }
            }

            /// The operation class the permission table grants this action through.
            pub fn class(self) -> OpClass {
                match self {
                    $(Action::$k => OpClass::$kclass,)*
                    $(Action::$w => OpClass::$wclass,)*
                }
            }
        }
    };
}

actions! {
    kinesis {
        PutRecord => Write,
        PutRecords => Write,
        GetRecords => Read,
        GetShardIterator => Read,
        SubscribeToShard => Read,
        DescribeStream => Describe,
        DescribeStreamSummary => Describe,
        DescribeStreamConsumer => Describe,
        DescribeLimits => Describe,
        DescribeAccountSettings => Describe,
        GetResourcePolicy => Describe,
        ListStreams => Describe,
        ListShards => Describe,
        ListStreamConsumers => Describe,
        ListTagsForStream => Describe,
        ListTagsForResource => Describe,
        CreateStream => Manage,
        DeleteStream => Manage,
        SplitShard => Manage,
        MergeShards => Manage,
        UpdateShardCount => Manage,
        UpdateStreamMode => Manage,
        UpdateMaxRecordSize => Manage,
        UpdateStreamWarmThroughput => Manage,
        UpdateStreamRecordDistributionStrategy => Manage,
        UpdateAccountSettings => Manage,
        IncreaseStreamRetentionPeriod => Manage,
        DecreaseStreamRetentionPeriod => Manage,
        AddTagsToStream => Manage,
        RemoveTagsFromStream => Manage,
        TagResource => Manage,
        UntagResource => Manage,
        RegisterStreamConsumer => Manage,
        DeregisterStreamConsumer => Manage,
        EnableEnhancedMonitoring => Manage,
        DisableEnhancedMonitoring => Manage,
        StartStreamEncryption => Manage,
        StopStreamEncryption => Manage,
        PutResourcePolicy => Manage,
        DeleteResourcePolicy => Manage,
    }
    weir {
        ReadStreams => Describe,
        WriteStreams => Manage,
        ReadCluster => Cluster,
        WriteCluster => Cluster,
        ManagePrincipals => Security,
        ReadAudit => Security,
    }
}

impl Action {
    /// Every action, Kinesis operations first, for docs and exhaustive tests.
    pub fn all() -> &'static [Action] {
        Self::LIST
    }

    /// Whether this action lists streams: any binding that grants it is enough, and the
    /// caller filters the result to the streams the bindings match.
    pub fn is_listing(self) -> bool {
        matches!(self, Action::ListStreams | Action::ReadStreams)
    }
}

/// The action for a Kinesis operation name as it appears after `Kinesis_20131202.` in
/// `X-Amz-Target`; `None` for names Kinesis does not have (the caller answers
/// UnknownOperationException before authorizing).
pub fn kinesis_action(operation_name: &str) -> Option<Action> {
    Action::all()
        .iter()
        .copied()
        .find(|a| a.as_str().strip_prefix("kinesis:") == Some(operation_name))
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = AuthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::all()
            .iter()
            .copied()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| AuthError::UnknownAction(s.to_owned()))
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The permission table as Markdown (roles × operation classes), generated from
/// [`Role::allows`] so docs/SECURITY.md can be checked against the code.
///
/// A cell is `yes`, `no`, or the short names of the only actions granted in that class.
pub fn permission_table_markdown() -> String {
    let mut out = String::from("| Role |");
    for class in OpClass::ALL {
        out.push_str(&format!(" {class} |"));
    }
    out.push_str("\n|---|");
    for _ in OpClass::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    for role in Role::ALL {
        out.push_str(&format!("| {role} |"));
        for class in OpClass::ALL {
            out.push_str(&format!(" {} |", table_cell(role, class)));
        }
        out.push('\n');
    }
    out
}

/// One cell of [`permission_table_markdown`].
fn table_cell(role: Role, class: OpClass) -> String {
    let in_class: Vec<Action> = Action::all()
        .iter()
        .copied()
        .filter(|a| a.class() == class)
        .collect();
    let granted: Vec<Action> = in_class
        .iter()
        .copied()
        .filter(|a| role.allows(*a))
        .collect();
    if granted.len() == in_class.len() {
        "yes".to_owned()
    } else if granted.is_empty() {
        "no".to_owned()
    } else {
        let names: Vec<&str> = granted
            .iter()
            .map(|a| a.as_str().split_once(':').map_or(a.as_str(), |(_, n)| n))
            .collect();
        format!("{} only", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinesis_names_round_trip() {
        for name in [
            "PutRecord",
            "PutRecords",
            "GetRecords",
            "GetShardIterator",
            "CreateStream",
            "DeleteStream",
            "DescribeStream",
            "DescribeStreamSummary",
            "ListStreams",
            "ListShards",
            "SplitShard",
            "MergeShards",
            "UpdateShardCount",
            "IncreaseStreamRetentionPeriod",
            "DecreaseStreamRetentionPeriod",
            "AddTagsToStream",
            "RemoveTagsFromStream",
            "ListTagsForStream",
            "RegisterStreamConsumer",
            "DeregisterStreamConsumer",
            "DescribeStreamConsumer",
            "ListStreamConsumers",
            "DescribeLimits",
            "SubscribeToShard",
        ] {
            let action = kinesis_action(name).expect(name);
            assert_eq!(action.as_str(), format!("kinesis:{name}"));
            assert_eq!(action.as_str().parse::<Action>().ok(), Some(action));
        }
        assert_eq!(kinesis_action("ReadStreams"), None);
        assert_eq!(kinesis_action("Bogus"), None);
    }

    #[test]
    fn the_model_has_40_kinesis_operations() {
        let n = Action::all()
            .iter()
            .filter(|a| a.as_str().starts_with("kinesis:"))
            .count();
        assert_eq!(n, 40);
    }

    #[test]
    fn role_table() {
        use Action::*;
        assert!(Role::Admin.allows(ManagePrincipals));
        assert!(!Role::Operator.allows(PutRecord));
        assert!(!Role::Operator.allows(GetRecords));
        assert!(!Role::Operator.allows(ManagePrincipals));
        assert!(Role::Operator.allows(ReadAudit));
        assert!(Role::Operator.allows(WriteCluster));
        assert!(Role::Operator.allows(CreateStream));
        assert!(Role::Producer.allows(PutRecords));
        assert!(Role::Producer.allows(DescribeStreamSummary));
        assert!(!Role::Producer.allows(GetRecords));
        assert!(Role::Consumer.allows(SubscribeToShard));
        assert!(Role::Consumer.allows(RegisterStreamConsumer));
        assert!(Role::Consumer.allows(DeregisterStreamConsumer));
        assert!(!Role::Consumer.allows(CreateStream));
        assert!(!Role::Consumer.allows(PutRecord));
        assert!(Role::Viewer.allows(ReadCluster));
        assert!(Role::Viewer.allows(ListStreams));
        assert!(!Role::Viewer.allows(WriteCluster));
        assert!(!Role::Viewer.allows(GetRecords));
    }

    #[test]
    fn role_serde_is_lowercase() {
        assert_eq!(
            serde_json::to_string(&Role::Operator).ok().as_deref(),
            Some("\"operator\"")
        );
        assert_eq!("viewer".parse::<Role>().ok(), Some(Role::Viewer));
        assert!("Viewer".parse::<Role>().is_err());
        let action: Action = serde_json::from_str("\"weir:ReadAudit\"").expect("parses");
        assert_eq!(action, Action::ReadAudit);
    }

    #[test]
    fn markdown_table() {
        let table = permission_table_markdown();
        assert!(
            table.starts_with("| Role | Write | Read | Describe | Manage | Cluster | Security |")
        );
        assert!(table.contains("| admin | yes | yes | yes | yes | yes | yes |"));
        assert!(table.contains("| operator | no | no | yes | yes | yes | ReadAudit only |"));
        assert!(table.contains("| producer | yes | no | yes | no | no | no |"));
        assert!(table.contains(
            "| consumer | no | yes | yes | RegisterStreamConsumer, DeregisterStreamConsumer only | no | no |"
        ));
        assert!(table.contains("| viewer | no | no | yes | no | ReadCluster only | no |"));
    }
}
