//! template.yaml against the route table and the binary: every route has exactly one function
//! with exactly one HTTP API event for its method and path, every function's Handler is one
//! the binary answers, and the workers are wired as the runner expects.

use std::collections::BTreeMap;

use functions::lambda::{Handler, OUTBOX_RELAY, RUNS_WORKER, SCHEDULER, USAGE_REPORT, WEBHOOK_DISPATCHER};
use serde_norway::Value;
use shared::api::routes::{by_pattern, ROUTES};

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let text = std::fs::read_to_string(path).expect("template.yaml");
    serde_norway::from_str(&text).expect("template.yaml is YAML")
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

struct Function<'a> {
    logical: String,
    handler: String,
    props: &'a Value,
    events: Vec<(String, &'a Value)>,
}

fn functions(t: &Value) -> Vec<Function<'_>> {
    let resources = t.get("Resources").and_then(Value::as_mapping).expect("Resources");
    resources
        .iter()
        .filter(|(_, r)| s(r, "Type") == Some("AWS::Serverless::Function"))
        .map(|(name, r)| {
            let props = r.get("Properties").expect("Properties");
            let events = props
                .get("Events")
                .and_then(Value::as_mapping)
                .map(|m| m.iter().map(|(_, e)| (s(e, "Type").unwrap_or_default().to_string(), e)).collect())
                .unwrap_or_default();
            Function {
                logical: name.as_str().unwrap_or_default().to_string(),
                handler: s(props, "Handler").unwrap_or_default().to_string(),
                props,
                events,
            }
        })
        .collect()
}

#[test]
fn every_route_has_exactly_one_function_and_http_event() {
    let t = template();
    let fns = functions(&t);
    for route in ROUTES {
        let mine: Vec<&Function> = fns.iter().filter(|f| f.handler == route.name).collect();
        assert_eq!(
            mine.len(),
            1,
            "{}: functions {:?}",
            route.name,
            mine.iter().map(|f| &f.logical).collect::<Vec<_>>()
        );
        let http: Vec<&Value> = mine[0].events.iter().filter(|(t, _)| t == "HttpApi").map(|(_, e)| *e).collect();
        assert_eq!(http.len(), 1, "{}: one HTTP event", route.name);
        let p = http[0].get("Properties").expect("event properties");
        assert_eq!(s(p, "Method"), Some(route.method.as_str()), "{}", route.name);
        assert_eq!(s(p, "Path"), Some(route.full_path().as_str()), "{}", route.name);
    }
    // And no HTTP event anywhere else, nor two for one method and path.
    let mut seen = BTreeMap::new();
    for f in &fns {
        for (kind, e) in &f.events {
            if kind != "HttpApi" {
                continue;
            }
            let p = e.get("Properties").unwrap();
            let (method, path) = (s(p, "Method").unwrap().to_string(), s(p, "Path").unwrap().to_string());
            assert!(seen.insert((method.clone(), path.clone()), f.logical.clone()).is_none(), "{method} {path} twice");
            let route = by_pattern(&method.parse().unwrap(), &path).expect("the event's path is a route");
            assert_eq!(route.name, f.handler, "{}: its event is another route's", f.logical);
        }
    }
    assert_eq!(seen.len(), ROUTES.len());
}

#[test]
fn every_handler_resolves_in_the_binary() {
    let t = template();
    let fns = functions(&t);
    assert!(!fns.is_empty());
    for f in &fns {
        assert!(Handler::parse(&f.handler).is_some(), "{}: Handler {:?} is unknown to bootstrap", f.logical, f.handler);
        let meta = t["Resources"][f.logical.as_str()].get("Metadata").expect("Metadata");
        assert_eq!(s(meta, "BuildMethod"), Some("rust-cargolambda"), "{}", f.logical);
        // Only the function that renders PDFs runs the binary that links Typst.
        let renders_pdf = Handler::parse(&f.handler).is_some_and(|h| h.renders_pdf());
        let binary = if renders_pdf { "report-pdf" } else { "bootstrap" };
        assert_eq!(meta["BuildProperties"]["Binary"].as_str(), Some(binary), "{}", f.logical);
    }
    let globals = &t["Globals"]["Function"];
    assert_eq!(s(globals, "Runtime"), Some("provided.al2023"));
    assert_eq!(s(&t["Parameters"]["Architecture"], "Default"), Some("x86_64"), "builds with the host's target alone");
}

/// One run per invocation: a tenant that Graph throttles spends only its own run's time, never
/// its batch-mates' (a batch shares one time limit).
#[test]
fn the_runs_worker_takes_one_message_per_invocation() {
    let t = template();
    let fns = functions(&t);
    let runner = fns.iter().find(|f| f.handler == RUNS_WORKER).expect("the runs worker");
    let sqs = runner.events.iter().find(|(k, _)| k == "SQS").map(|(_, e)| *e).expect("an SQS event");
    assert_eq!(sqs["Properties"]["BatchSize"].as_u64(), Some(1));
    assert!(sqs["Properties"].get("MaximumBatchingWindowInSeconds").is_none(), "no window to fill a batch of one");
}

/// A stream batch the relay keeps failing must not hold the shard: bounded retries, bisection
/// to isolate a bad record, and a dead-letter queue the relay may send to.
#[test]
fn the_outbox_stream_mapping_gives_up_on_a_poison_batch() {
    let t = template();
    let fns = functions(&t);
    let relay = fns.iter().find(|f| f.handler == OUTBOX_RELAY).expect("the outbox relay");
    let stream = relay.events.iter().find(|(k, _)| k == "DynamoDB").map(|(_, e)| *e).expect("the stream event");
    let p = &stream["Properties"];
    assert!(p["MaximumRetryAttempts"].as_u64().is_some_and(|n| n <= 5), "bounded retries");
    assert_eq!(p["BisectBatchOnFunctionError"].as_bool(), Some(true));
    let on_failure = &p["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"].as_str(), Some("SQS"));
    let dlq = serde_norway::to_string(&on_failure["Destination"]).unwrap();
    assert!(dlq.contains("OutboxSignalsDeadLetterQueue"), "{dlq}");
    assert!(t["Resources"]["OutboxSignalsDeadLetterQueue"]["Type"].as_str() == Some("AWS::SQS::Queue"));
    let policies = serde_norway::to_string(&relay.props["Policies"]).unwrap();
    assert!(policies.contains("OutboxSignalsDeadLetterQueue"), "the relay may send to it");
}

#[test]
fn workers_are_wired_to_their_queue_and_schedule() {
    let t = template();
    let fns = functions(&t);
    let runner = fns.iter().find(|f| f.handler == RUNS_WORKER).expect("the runs worker");
    let sqs: Vec<&Value> = runner.events.iter().filter(|(k, _)| k == "SQS").map(|(_, e)| *e).collect();
    assert_eq!(sqs.len(), 1);
    let p = sqs[0].get("Properties").unwrap();
    let types: Vec<&str> = p["FunctionResponseTypes"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(types, ["ReportBatchItemFailures"]);
    assert!(p.get("BatchSize").and_then(Value::as_u64).is_some());
    assert!(p["ScalingConfig"].get("MaximumConcurrency").and_then(Value::as_u64).is_some());

    // The queue's visibility is at least six times the worker's timeout, and it is the lease.
    let timeout = runner.props.get("Timeout").and_then(Value::as_u64).expect("runner timeout");
    let runs = &t["Resources"]["RunsQueue"]["Properties"];
    let visibility = runs["VisibilityTimeout"].as_u64().unwrap();
    assert!(visibility >= 6 * timeout, "visibility {visibility} < 6 x {timeout}");
    let lease = runner.props["Environment"]["Variables"]["RUNS_VISIBILITY_SECS"].as_str().unwrap();
    assert_eq!(lease.parse::<u64>().unwrap(), visibility);
    let attempts: u64 = runner.props["Environment"]["Variables"]["RUN_MAX_ATTEMPTS"].as_str().unwrap().parse().unwrap();
    assert!(runs["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap() > attempts, "the run fails before the DLQ");
    for q in ["RunsQueue", "WebhooksQueue"] {
        assert!(t["Resources"][q]["Properties"].get("RedrivePolicy").is_some(), "{q} has a DLQ");
    }

    // The webhook dispatcher: its queue, partial batch failures, visibility ≥ 6 × its timeout.
    let dispatcher = fns.iter().find(|f| f.handler == WEBHOOK_DISPATCHER).expect("the webhook dispatcher");
    let sqs: Vec<&Value> = dispatcher.events.iter().filter(|(k, _)| k == "SQS").map(|(_, e)| *e).collect();
    assert_eq!(sqs.len(), 1);
    let p = sqs[0].get("Properties").unwrap();
    assert_eq!(p["FunctionResponseTypes"][0].as_str(), Some("ReportBatchItemFailures"));
    assert!(p["ScalingConfig"].get("MaximumConcurrency").and_then(Value::as_u64).is_some());
    let timeout = dispatcher.props.get("Timeout").and_then(Value::as_u64).expect("dispatcher timeout");
    let visibility = t["Resources"]["WebhooksQueue"]["Properties"]["VisibilityTimeout"].as_u64().unwrap();
    assert!(visibility >= 6 * timeout, "visibility {visibility} < 6 x {timeout}");
    // The outbox relay: woken by the table's stream (outbox inserts only) and a schedule.
    let relay = fns.iter().find(|f| f.handler == OUTBOX_RELAY).expect("the outbox relay");
    assert_eq!(relay.events.iter().filter(|(k, _)| k == "DynamoDB").count(), 1);
    assert_eq!(relay.events.iter().filter(|(k, _)| k == "ScheduleV2").count(), 1);
    let stream = relay.events.iter().find(|(k, _)| k == "DynamoDB").unwrap().1;
    let pattern = stream["Properties"]["FilterCriteria"]["Filters"][0]["Pattern"].as_str().unwrap();
    let pattern: serde_json::Value = serde_json::from_str(pattern).expect("the filter is JSON");
    assert_eq!(pattern["eventName"], serde_json::json!(["INSERT"]));
    // Every partition the outbox writes to (its shards, and `OUTBOX` as written before them)
    // wakes the relay; its quarantine and the rest of the table do not.
    let pk = pattern["dynamodb"]["Keys"]["PK"]["S"].as_array().expect("a PK filter");
    let wakes = |key: &str| {
        pk.iter().any(|p| match p {
            serde_json::Value::String(exact) => exact == key,
            other => other["prefix"].as_str().is_some_and(|prefix| key.starts_with(prefix)),
        })
    };
    for partition in shared::store::dynamo::outbox_partitions() {
        assert!(wakes(&partition), "{partition} does not wake the relay: {pk:?}");
    }
    for other in [shared::store::dynamo::QUARANTINE_PK, "PARTNER#prt_1", "WHKD#whk_1", "OUTBOXES"] {
        assert!(!wakes(other), "{other} wakes the relay: {pk:?}");
    }
    assert!(t["Resources"]["Table"]["Properties"].get("StreamSpecification").is_some());

    let report = fns.iter().find(|f| f.handler == USAGE_REPORT).expect("the usage report");
    assert_eq!(report.events.iter().filter(|(k, _)| k == "ScheduleV2").count(), 1);
    // The scheduler of customers' schedules: one EventBridge schedule, every 15 minutes (issue 19).
    let scheduler = fns.iter().find(|f| f.handler == SCHEDULER).expect("the scheduler");
    let schedules: Vec<&Value> = scheduler.events.iter().filter(|(k, _)| k == "ScheduleV2").map(|(_, e)| *e).collect();
    assert_eq!(schedules.len(), 1, "{:?}", scheduler.events);
    assert_eq!(schedules[0]["Properties"]["ScheduleExpression"].as_str(), Some("rate(15 minutes)"));

    let table = &t["Resources"]["Table"]["Properties"];
    assert_eq!(table["TimeToLiveSpecification"]["AttributeName"].as_str(), Some("ttl"));
    assert_eq!(table["GlobalSecondaryIndexes"][0]["IndexName"].as_str(), Some(shared::store::dynamo::GSI1));
}

#[test]
fn nothing_secret_is_in_the_template_or_samconfig() {
    for file in ["template.yaml", "samconfig.toml"] {
        let text = std::fs::read_to_string(format!("{}/../{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        for needle in ["pk_live_", "dk_live_", "whsec_", "SecretString", "aws_secret_access_key"] {
            assert!(!text.contains(needle), "{file} contains {needle}");
        }
    }
}
