use serde_json::json;

use super::*;

const ACCOUNT: &str = "000000000000";
const STREAM: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/orders";
const CONSUMER: &str =
    "arn:aws:kinesis:us-east-1:000000000000:stream/orders/consumer/app:1700000000";

fn policy(statement: serde_json::Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statement}).to_string()
}

fn user(name: &str) -> String {
    principal_arn(ACCOUNT, name)
}

fn error_of(text: &str, arn: &str) -> String {
    match ResourcePolicy::parse(text, arn) {
        Ok(_) => panic!("accepted: {text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_weir_principal_is_named_as_an_iam_user() {
    assert_eq!(user("alice"), "arn:aws:iam::000000000000:user/alice");
}

#[test]
fn accepts_the_grammar_kinesis_accepts() {
    let ok = [
        policy(json!({"Effect": "Allow", "Principal": {"AWS": user("a")}, "Action": "kinesis:PutRecord", "Resource": STREAM})),
        policy(json!([{"Sid": "One", "Effect": "Deny", "Principal": "*", "Action": ["kinesis:Get*", "kinesis:DescribeStream"], "Resource": [STREAM]},
                      {"Sid": "Two", "Effect": "Allow", "Principal": {"AWS": [ACCOUNT, "arn:aws:iam::111111111111:root"]}, "Action": "*", "Resource": "arn:aws:kinesis:*:*:stream/ord*"}])),
        json!({"Statement": {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "KINESIS:putrecord", "Resource": "*"}}).to_string(),
    ];
    for text in ok {
        ResourcePolicy::parse(&text, STREAM).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
    let consumer = policy(json!({"Effect": "Allow", "Principal": {"AWS": user("a")},
        "Action": "kinesis:SubscribeToShard", "Resource": CONSUMER}));
    ResourcePolicy::parse(&consumer, CONSUMER).expect("a consumer's policy names the consumer");
    assert!(error_of(&consumer, STREAM).contains("does not match"));
}

#[test]
fn refuses_what_it_does_not_support_with_a_message() {
    let base = json!({"Effect": "Allow", "Principal": {"AWS": user("a")}, "Action": "kinesis:PutRecord", "Resource": STREAM});
    let with = |key: &str, value: serde_json::Value| {
        let mut s = base.clone();
        s[key] = value;
        policy(s)
    };
    let without = |key: &str| {
        let mut s = base.clone();
        s.as_object_mut().map(|o| o.remove(key));
        policy(s)
    };
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "not valid JSON"),
        ("[]".into(), "JSON object"),
        (json!({"Version": "2012-10-17"}).to_string(), "no Statement"),
        (policy(json!([])), "non-empty list"),
        (
            json!({"Version": "2020-01-01", "Statement": base}).to_string(),
            "Version",
        ),
        (json!({"Statement": base, "Extra": 1}).to_string(), "Extra"),
        (
            with(
                "Condition",
                json!({"Bool": {"aws:SecureTransport": "true"}}),
            ),
            "Condition is not supported",
        ),
        (
            with("NotAction", json!("kinesis:GetRecords")),
            "NotAction is not supported",
        ),
        (
            with("NotPrincipal", json!({"AWS": "*"})),
            "NotPrincipal is not supported",
        ),
        (with("Bogus", json!(1)), "Bogus is not valid"),
        (with("Effect", json!("Maybe")), "Effect Maybe"),
        (without("Effect"), "needs an Effect"),
        (without("Principal"), "needs a Principal"),
        (without("Action"), "needs Action"),
        (without("Resource"), "needs Resource"),
        (
            with("Principal", json!({"Service": "lambda.amazonaws.com"})),
            "Principal type Service",
        ),
        (
            with(
                "Principal",
                json!({"AWS": "arn:aws:iam::000000000000:user/*"}),
            ),
            "is not valid",
        ),
        (with("Principal", json!({"AWS": "bob"})), "is not valid"),
        (with("Principal", json!(7)), "Principal must be"),
        (
            with("Action", json!("s3:GetObject")),
            "not a Kinesis action",
        ),
        (
            with("Action", json!("kinesis:Fly")),
            "names no Kinesis action",
        ),
        (with("Action", json!([])), "non-empty list"),
        (
            with(
                "Resource",
                json!("arn:aws:kinesis:us-east-1:000000000000:stream/other"),
            ),
            "does not match",
        ),
        (
            policy(
                json!([{"Sid": "S", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": STREAM},
                       {"Sid": "S", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": STREAM}]),
            ),
            "unique",
        ),
    ];
    for (text, expected) in cases {
        let error = error_of(&text, STREAM);
        assert!(
            error.contains(expected),
            "{text}: {error} (expected {expected:?})"
        );
    }
}

#[test]
fn the_size_limit_is_20_kib() {
    let statement = |sid: String| json!({"Sid": sid, "Effect": "Allow", "Principal": "*", "Action": "kinesis:PutRecord", "Resource": STREAM});
    let mut list = Vec::new();
    let mut text = policy(json!(list.clone()));
    while text.len() <= MAX_POLICY_BYTES {
        list.push(statement(format!("S{}", list.len())));
        text = policy(json!(list.clone()));
    }
    assert!(error_of(&text, STREAM).contains("limit is 20480 bytes"));
    list.pop();
    let text = policy(json!(list));
    assert!(text.len() <= MAX_POLICY_BYTES);
    ResourcePolicy::parse(&text, STREAM).expect("a policy just under the limit is accepted");
}

#[test]
fn deny_wins_and_allow_grants_only_what_is_listed() {
    let text = policy(json!([
        {"Effect": "Allow", "Principal": {"AWS": user("reader")}, "Action": ["kinesis:GetRecords", "kinesis:GetShardIterator"], "Resource": STREAM},
        {"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "kinesis:Describe*", "Resource": STREAM},
        {"Effect": "Deny", "Principal": {"AWS": user("mallory")}, "Action": "kinesis:*", "Resource": STREAM},
    ]));
    let p = ResourcePolicy::parse(&text, STREAM).expect("valid");
    let eval = |who: &str, action| p.evaluate(ACCOUNT, who, action, STREAM);
    assert_eq!(eval("reader", Action::GetRecords), PolicyDecision::Allow);
    assert_eq!(
        eval("reader", Action::GetShardIterator),
        PolicyDecision::Allow
    );
    assert_eq!(
        eval("reader", Action::PutRecord),
        PolicyDecision::NotApplicable
    );
    assert_eq!(
        eval("reader", Action::DescribeStreamSummary),
        PolicyDecision::Allow
    );
    assert_eq!(
        eval("someone", Action::DescribeStream),
        PolicyDecision::Allow
    );
    assert_eq!(
        eval("someone", Action::GetRecords),
        PolicyDecision::NotApplicable
    );
    assert_eq!(
        eval("mallory", Action::DescribeStream),
        PolicyDecision::Deny
    );
    assert_eq!(eval("mallory", Action::PutRecord), PolicyDecision::Deny);
    // Another account's principals are named, never matched.
    assert_eq!(
        p.evaluate("111111111111", "someone", Action::DescribeStream, STREAM),
        PolicyDecision::NotApplicable
    );
    // A statement applies only to the resources it names.
    assert_eq!(
        p.evaluate(
            ACCOUNT,
            "reader",
            Action::GetRecords,
            "arn:aws:kinesis:us-east-1:000000000000:stream/x"
        ),
        PolicyDecision::NotApplicable
    );
}

#[test]
fn action_patterns_are_case_insensitive_globs() {
    let text = policy(
        json!({"Effect": "Deny", "Principal": "*", "Action": "Kinesis:put*", "Resource": STREAM}),
    );
    let p = ResourcePolicy::parse(&text, STREAM).expect("valid");
    assert_eq!(
        p.evaluate(ACCOUNT, "x", Action::PutRecord, STREAM),
        PolicyDecision::Deny
    );
    assert_eq!(
        p.evaluate(ACCOUNT, "x", Action::PutRecords, STREAM),
        PolicyDecision::Deny
    );
    assert_eq!(
        p.evaluate(ACCOUNT, "x", Action::PutResourcePolicy, STREAM),
        PolicyDecision::Deny
    );
    assert_eq!(
        p.evaluate(ACCOUNT, "x", Action::GetRecords, STREAM),
        PolicyDecision::NotApplicable
    );
}
