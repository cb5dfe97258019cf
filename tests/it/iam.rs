//! Least privilege, checked against the code: every function of `template.yaml` is built as
//! the Lambda entry point builds it (`lambda::build_with`), on moto, with SDK clients that
//! record every AWS operation it sends (`tests::recorder`). Each route is then served through
//! its own function's router (success, and the failure paths that send other operations:
//! idempotent replays and mismatches, conditional failures, a store fault right after an
//! idempotency claim, which releases it), and each worker is driven through its paths: the
//! runner's claim and finish, a last attempt, a duplicate and an early message; the
//! dispatcher's success, retry, final failure, early message and deleted endpoint; the relay's
//! drain, re-drain, quarantine, sweep and stale-run resend; the usage report's close, twice.
//! (Paths not driven, such as the runner's release after a transient failure, send the same
//! actions on the same partitions as paths that are.)
//!
//! Then, per function, what it did is compared with its policy, both ways: every recorded
//! access is allowed by a statement (action, resource, and the `dynamodb:LeadingKeys` patterns
//! where the statement has them), and every action × resource × pattern a statement grants is
//! used by some recorded access, except the entries of [`ALLOWED_UNUSED`], each saying why the
//! code cannot show it. The failure messages name each pattern to grant (`family`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::SqsEvent;
use bytes::Bytes;
use functions::lambda::{
    self, AwsApp, AwsClients, AwsSettings, OUTBOX_RELAY, RUNS_WORKER, SCHEDULER, USAGE_REPORT, WEBHOOK_DISPATCHER,
};
use http::{Method, Request};
use serde_json::{json, Value};
use serde_norway::Value as Yaml;
use shared::api::routes::{Route, ROUTES};
use shared::config::Config;
use shared::domain::ids::random_base62;
use shared::domain::time::{ManualClock, Timestamp};
use shared::queue::sqs::{SqsQueue, NOT_BEFORE};
use tests::recorder::{Access, Recorder, Resource};
use tests::stub::{Reply, Stub};
use tests::{assessment_body, customer_body, partner_body, tenant, webhook_body, Resp, T0};

/// Grants no test can show used, each with the reason: (function's Handler, action, resource).
const ALLOWED_UNUSED: &[(&str, &str, &str, &str)] = &[(
    OUTBOX_RELAY,
    "sqs:SendMessage",
    "OutboxSignalsDeadLetterQueue",
    "the stream mapping's on-failure destination: Lambda sends failed batches there with the \
     function's role; the code never does",
)];

/// Functions whose route sends nothing to AWS after the cold start (which reads the secret),
/// so the scenario cannot show more: the OpenAPI document is built from the code.
const COLD_START_ONLY: &[&str] = &["public.openapi.get"];

// ---- the functions, on moto ---------------------------------------------------------------

/// One function as deployed: the app `lambda::build_with` made, and what its clients sent.
struct Function {
    aws: AwsApp,
    rec: Recorder,
}

/// Every function of the template on one table, two queues and one secret on moto, built
/// lazily (one cold start each), plus an unrecorded app for setting things up.
struct Fleet {
    sdk: SdkConfig,
    settings: AwsSettings,
    config: Config,
    clock: Arc<ManualClock>,
    setup: AwsApp,
    functions: tokio::sync::Mutex<BTreeMap<String, Arc<Function>>>,
    partner_key: String,
    distributor_key: String,
}

impl Fleet {
    async fn new(config: Config) -> Option<Self> {
        let sdk = tests::aws::config()?;
        let id = random_base62(10);
        let table = format!("iam-{id}");
        shared::store::dynamo::DynamoStore::create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await.unwrap();
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        // Visibility 0: what the test receives to hand to a worker is never held back.
        let runs_queue_url = SqsQueue::create(&sqs, &format!("iam-runs-{id}"), 0).await.unwrap();
        let webhooks_queue_url = SqsQueue::create(&sqs, &format!("iam-webhooks-{id}"), 0).await.unwrap();
        let mail_queue_url = SqsQueue::create(&sqs, &format!("iam-mail-{id}"), 0).await.unwrap();
        let secret_id = format!("iam/{id}");
        shared::aws_secrets::create_if_missing(&aws_sdk_secretsmanager::Client::new(&sdk), &secret_id).await.unwrap();
        with_stripe_webhook_secret(&aws_sdk_secretsmanager::Client::new(&sdk), &secret_id).await;
        let settings = AwsSettings { table, runs_queue_url, webhooks_queue_url, mail_queue_url, secret_id };
        // SES sends only from a verified identity: MAIL_FROM's domain, as in production.
        tests::aws::verify_mail_identity(&sdk, &mail_domain(&config)).await;
        let clock = Arc::new(ManualClock::at(T0));
        let setup =
            lambda::build_with(AwsClients::new(&sdk), &settings, config.clone(), clock.clone(), None).await.unwrap();
        let accounts = functions::dev_server::bootstrap(&setup.app, None, None).await.unwrap();
        Some(Self {
            sdk,
            settings,
            config,
            clock,
            setup,
            functions: Default::default(),
            partner_key: accounts.partner_key,
            distributor_key: accounts.distributor_key,
        })
    }

    /// The function whose `Handler` is `name`, cold-started on first use.
    async fn function(&self, name: &str) -> Arc<Function> {
        let mut fns = self.functions.lock().await;
        if let Some(f) = fns.get(name) {
            return f.clone();
        }
        let rec = Recorder::new();
        // With the PDF renderer only where it is deployed with it (the report-pdf binary).
        let renders_pdf = lambda::Handler::parse(name).is_some_and(|h| h.renders_pdf());
        let pdf = renders_pdf.then_some(shared::report_pdf::render as shared::report_pdf::PdfRenderer);
        let config = self.config.clone();
        let aws = lambda::build_with(rec.clients(&self.sdk), &self.settings, config, self.clock.clone(), pdf)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let f = Arc::new(Function { aws, rec });
        fns.insert(name.to_string(), f.clone());
        f
    }

    /// What each function sent, by `Handler`.
    async fn recorded(&self) -> BTreeMap<String, BTreeSet<Access>> {
        self.functions.lock().await.iter().map(|(k, f)| (k.clone(), f.rec.accesses())).collect()
    }

    /// A form post (`application/x-www-form-urlencoded`, `body` as is), served by its route's
    /// function: the questionnaire form.
    async fn form(&self, path: &str, body: &str) -> Resp {
        let route = route_of(&Method::POST, path).unwrap_or_else(|| panic!("no route for POST {path}"));
        let f = self.function(route.name).await;
        let req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Bytes::from(body.to_string()))
            .unwrap();
        let router = shared::api::route_router(f.aws.app.clone(), route.id);
        Resp::from_http(Box::pin(tests::oneshot(&router, req)).await)
    }

    /// One request, served by the function of the route it is for (as API Gateway routes it).
    async fn request(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Resp {
        let route = route_of(&method, path).unwrap_or_else(|| panic!("no route for {method} {path}"));
        let f = self.function(route.name).await;
        let mut req = Request::builder().method(method).uri(path).header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let router = shared::api::route_router(f.aws.app.clone(), route.id);
        Resp::from_http(Box::pin(tests::oneshot(&router, req.body(body).unwrap())).await)
    }

    async fn partner(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.partner_as(&self.partner_key, method, path, body).await
    }

    async fn partner_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.request(method, &format!("/api/v1/partner{path}"), &[("x-partner-key", key)], body).await
    }

    async fn distributor(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let key = self.distributor_key.clone();
        self.request(method, &format!("/api/v1/distributor{path}"), &[("x-distributor-key", &key)], body).await
    }

    /// A POST with an idempotency key, as the partner (`distributor` false) or the distributor.
    async fn post_once(&self, distributor: bool, path: &str, body: Option<Value>, key: &str) -> Resp {
        let (base, header, account) = if distributor {
            ("/api/v1/distributor", "x-distributor-key", &self.distributor_key)
        } else {
            ("/api/v1/partner", "x-partner-key", &self.partner_key)
        };
        self.request(Method::POST, &format!("{base}{path}"), &[(header, account), ("idempotency-key", key)], body).await
    }

    /// The idempotent paths of one POST route: the first answer, its replay, the same key with
    /// another body, and a store fault right after the claim (500, and the claim released).
    async fn post_idempotent(&self, distributor: bool, path: &str, body: Value, status: u16) -> Resp {
        let key = format!("iam-{}", random_base62(12));
        let first = self.post_once(distributor, path, Some(body.clone()), &key).await;
        first.assert_status(status);
        let again = self.post_once(distributor, path, Some(body.clone()), &key).await;
        assert_eq!(again.status, first.status, "{path}: the replay");
        assert_eq!(again.header("idempotent-replayed"), Some("true"), "{path}");
        let other = json!({ "other": body });
        self.post_once(distributor, path, Some(other), &key).await.assert_error(422, "IDEMPOTENCY_MISMATCH");
        self.fault_after_claim(distributor, path, body).await;
        first
    }

    /// A POST whose first store operation after its idempotency claim fails: 500, and the
    /// claim is released so the client may try again.
    async fn fault_after_claim(&self, distributor: bool, path: &str, body: Value) {
        let full = format!("{}{path}", if distributor { "/api/v1/distributor" } else { "/api/v1/partner" });
        let route = route_of(&Method::POST, &full).unwrap();
        let f = self.function(route.name).await;
        let idem = |a: &Access| a.partition.as_deref().is_some_and(|p| p.starts_with("IDEM#"));
        f.rec.fail_once_after(move |a| idem(a) && a.action == "dynamodb:PutItem", move |a| !idem(a));
        let before = f.rec.faults_injected();
        let key = format!("iam-{}", random_base62(12));
        let r = self.post_once(distributor, path, Some(body), &key).await;
        assert_eq!(f.rec.faults_injected(), before + 1, "{path}: the fault was injected");
        r.assert_status(500);
    }

    /// Every message on `queue` now, taken off it (as Lambda's poller does) and shaped as the
    /// SQS event Lambda hands the function.
    async fn take(&self, queue: &SqsQueue) -> SqsEvent {
        let mut records = Vec::new();
        loop {
            let got = queue.receive_raw(10, 0).await.unwrap();
            if got.is_empty() {
                break;
            }
            for m in got {
                queue.ack(&m.receipt).await.unwrap();
                records.push(sqs_record(&m.body, m.receive_count, None));
            }
        }
        serde_json::from_value(json!({ "Records": records })).unwrap()
    }

    /// The runs worker on every run message now queued; `receive_count` overrides the count.
    async fn run_worker(&self, receive_count: Option<u32>) -> usize {
        let f = self.function(RUNS_WORKER).await;
        let mut event = self.take(&self.setup.runs).await;
        if let Some(n) = receive_count {
            for r in &mut event.records {
                r.attributes.insert("ApproximateReceiveCount".into(), n.to_string());
            }
        }
        let n = event.records.len();
        let runner = f.aws.service.runner();
        let resp = lambda::runs_batch(&runner, &f.aws.runs, event).await;
        n - resp.batch_item_failures.len()
    }

    /// The dispatcher on every webhook message now queued; returns how many it handled.
    async fn dispatch(&self) -> usize {
        let f = self.function(WEBHOOK_DISPATCHER).await;
        let event = self.take(&self.setup.webhooks).await;
        let n = event.records.len();
        lambda::webhooks_batch(&f.aws.service.dispatcher(), &f.aws.webhooks, event).await;
        n
    }

    /// The mail worker on every mail job now queued; returns how many it handled. The first
    /// job is handed over once more first with its due time an hour on (so the worker puts it
    /// back: the path of a retry's wait).
    async fn send_mail(&self) -> usize {
        let f = self.function(lambda::MAIL_SENDER).await;
        let event = self.take(&self.setup.mail).await;
        let n = event.records.len();
        if let Some(first) = event.records.first() {
            let mut m: Value = serde_json::from_str(first.body.as_deref().unwrap()).unwrap();
            m["notBefore"] = json!((self.now() + 3600).unix());
            let early = serde_json::from_value(json!({ "Records": [sqs_record(&m.to_string(), 1, None)] })).unwrap();
            lambda::mail_batch(&f.aws.service.mail_sender(), &f.aws.mail, early).await;
            self.take(&self.setup.mail).await;
        }
        lambda::mail_batch(&f.aws.service.mail_sender(), &f.aws.mail, event).await;
        n
    }

    /// One relay invocation.
    async fn relay(&self) -> lambda::RelayTick {
        let f = self.function(OUTBOX_RELAY).await;
        let relay = f.aws.service.relay();
        let tick = lambda::relay_tick(
            &relay,
            f.aws.app.store.as_ref(),
            f.aws.runs.as_ref(),
            f.aws.app.now(),
            f.aws.app.config.run_stale_after_secs,
        )
        .await;
        assert!(!tick.failed(), "{tick:?}");
        tick
    }
}

/// The outbox's partitions as `docs/storage.md` gives them (16 shards, and the partition of
/// before sharding, still read): the scenario copies outbox items and writes a poison one by
/// hand, below the store port.
fn outbox_partitions() -> Vec<String> {
    shared::store::dynamo::outbox_partitions()
}

type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

impl Fleet {
    fn now(&self) -> Timestamp {
        shared::domain::time::Clock::now(self.clock.as_ref())
    }

    /// The outbox's items as stored (to put back after the relay took them: a relay that died
    /// between creating the deliveries and acknowledging the events).
    async fn outbox_items(&self) -> Vec<Item> {
        use aws_sdk_dynamodb::types::AttributeValue as AV;
        let mut items = Vec::new();
        for pk in outbox_partitions() {
            let out = self
                .setup
                .store
                .client()
                .query()
                .table_name(&self.settings.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", AV::S(pk))
                .consistent_read(true)
                .send()
                .await
                .unwrap();
            items.extend(out.items.unwrap_or_default());
        }
        assert!(!items.is_empty(), "events in the outbox");
        items
    }

    async fn put_items(&self, items: Vec<Item>) {
        for item in items {
            let c = self.setup.store.client();
            c.put_item().table_name(&self.settings.table).set_item(Some(item)).send().await.unwrap();
        }
    }

    /// An outbox item that does not decode, sorting first.
    async fn put_poison(&self) {
        use aws_sdk_dynamodb::types::AttributeValue as AV;
        let item = Item::from([
            // The partition of before sharding: still read, and where an old poison item would be.
            ("PK".to_string(), AV::S("OUTBOX".into())),
            ("SK".to_string(), AV::S("EVT#evt_0000000poison".into())),
            ("event".to_string(), AV::S("{not json".into())),
        ]);
        self.put_items(vec![item]).await;
    }
}

/// One SQS record as Lambda shapes it.
fn sqs_record(body: &str, receive_count: u32, not_before: Option<Timestamp>) -> Value {
    let attributes = match not_before {
        Some(t) => json!({ NOT_BEFORE: { "stringValue": t.unix().to_string(), "dataType": "Number" } }),
        None => json!({}),
    };
    json!({
        "messageId": format!("m-{}", random_base62(8)),
        "receiptHandle": "r",
        "body": body,
        "attributes": { "ApproximateReceiveCount": receive_count.to_string() },
        "messageAttributes": attributes,
        "eventSource": "aws:sqs",
        "awsRegion": "us-east-1"
    })
}

/// The route API Gateway would send `path` to: same method, the pattern's literal segments
/// equal, the most literal pattern first (`/customers/bulk` over `/customers/{id}`).
fn route_of(method: &Method, path: &str) -> Option<&'static Route> {
    let path = path.split('?').next().unwrap_or_default();
    let segs: Vec<&str> = path.split('/').collect();
    ROUTES
        .iter()
        .filter(|r| r.method == method)
        .filter(|r| {
            let full = r.full_path();
            let pat: Vec<&str> = full.split('/').collect();
            pat.len() == segs.len() && pat.iter().zip(&segs).all(|(p, s)| p.starts_with('{') || p == s)
        })
        .max_by_key(|r| r.literal_segments())
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_else(|| panic!("no id in {v}")).to_string()
}

// ---- the template's policies --------------------------------------------------------------

/// One Allow statement as the test models it.
#[derive(Debug)]
struct Statement {
    actions: Vec<String>,
    /// `Table`, `Table/index/<name or *>`, a queue's logical id, `Secret`, or `MailIdentity`.
    resources: Vec<String>,
    /// The `dynamodb:LeadingKeys` patterns (`ForAllValues:StringLike`: `*` and `?` wildcards),
    /// if the statement is conditioned on them.
    leading_keys: Option<Vec<String>>,
}

fn as_list(v: &Yaml) -> Vec<&Yaml> {
    match v {
        Yaml::Sequence(s) => s.iter().collect(),
        other => vec![other],
    }
}

/// The SES identity the senders send as: `MAIL_FROM`'s domain (the template grants on it).
fn mail_domain(config: &Config) -> String {
    config.mail_from.as_str().rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default()
}

/// A statement's resource as the test names it.
fn resource_name(v: &Yaml) -> String {
    let text = serde_norway::to_string(v).unwrap();
    if text.contains(":secretsmanager:") {
        return "Secret".into();
    }
    if text.contains(":ses:") && text.contains(":identity/") {
        return "MailIdentity".into();
    }
    if let Some(at) = text.find("${Table.Arn}/index/") {
        let rest = &text[at + "${Table.Arn}/index/".len()..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '*' || *c == '_').collect();
        return format!("Table/index/{name}");
    }
    if let Yaml::Tagged(t) = v {
        if t.tag == "GetAtt" {
            if let Some(logical) = t.value.as_str().and_then(|s| s.strip_suffix(".Arn")) {
                return logical.to_string();
            }
        }
    }
    panic!("a resource the test does not model: {text}")
}

fn statements(handler: &str, props: &Yaml) -> Vec<Statement> {
    let mut out = Vec::new();
    for policy in props.get("Policies").and_then(Yaml::as_sequence).unwrap_or_else(|| panic!("{handler}: Policies")) {
        let doc = policy.get("Statement").unwrap_or_else(|| panic!("{handler}: only inline policy documents"));
        for st in doc.as_sequence().unwrap() {
            assert_eq!(st.get("Effect").and_then(Yaml::as_str), Some("Allow"), "{handler}: {st:?}");
            let actions = as_list(&st["Action"]).into_iter().map(|a| a.as_str().unwrap().to_string()).collect();
            let resources = as_list(&st["Resource"]).into_iter().map(resource_name).collect();
            let leading_keys = st.get("Condition").map(|c| {
                let m = c.as_mapping().unwrap();
                assert_eq!(m.len(), 1, "{handler}: one condition operator");
                let (op, keys) = m.iter().next().unwrap();
                let op = op.as_str().unwrap();
                let values = keys.get("dynamodb:LeadingKeys").unwrap_or_else(|| panic!("{handler}: {c:?}"));
                assert_eq!(keys.as_mapping().unwrap().len(), 1, "{handler}: only dynamodb:LeadingKeys");
                let values: Vec<String> =
                    as_list(values).into_iter().map(|v| v.as_str().unwrap().to_string()).collect();
                assert_eq!(op, "ForAllValues:StringLike", "{handler}: a condition operator the test does not model");
                values
            });
            out.push(Statement { actions, resources, leading_keys });
        }
    }
    out
}

/// Every function's statements, by `Handler`.
fn policies() -> BTreeMap<String, Vec<Statement>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let t: Yaml = serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        if r.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let props = &r["Properties"];
        let handler = props["Handler"].as_str().unwrap().to_string();
        let st = statements(&handler, props);
        out.insert(handler, st);
    }
    out
}

/// IAM's `StringLike`: `*` any run of characters, `?` any one.
fn like(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A recorded access as the template names things: (action, resource, partition).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Named {
    action: String,
    resource: String,
    partition: Option<String>,
}

impl Fleet {
    fn name(&self, a: &Access) -> Named {
        let resource = match &a.resource {
            Resource::Table => "Table".to_string(),
            Resource::Index(i) => format!("Table/index/{i}"),
            Resource::Queue(q) if self.settings.runs_queue_url.ends_with(&format!("/{q}")) => "RunsQueue".into(),
            Resource::Queue(q) if self.settings.webhooks_queue_url.ends_with(&format!("/{q}")) => {
                "WebhooksQueue".into()
            }
            Resource::Queue(q) if self.settings.mail_queue_url.ends_with(&format!("/{q}")) => "MailQueue".into(),
            Resource::Queue(q) => format!("queue {q:?} (not one of the stack's)"),
            Resource::Secret(s) if *s == self.settings.secret_id => "Secret".into(),
            Resource::Secret(s) => format!("secret {s:?} (not the stack's)"),
            Resource::Identity(d) if *d == mail_domain(&self.config) => "MailIdentity".into(),
            Resource::Identity(d) => format!("SES identity {d:?} (not MAIL_FROM's domain)"),
        };
        Named { action: a.action.clone(), resource, partition: a.partition.clone() }
    }
}

fn resource_covers(granted: &str, used: &str) -> bool {
    granted == used || (granted == "Table/index/*" && used.starts_with("Table/index/"))
}

/// Whether `st` allows `a`.
fn allows(st: &Statement, a: &Named) -> bool {
    st.actions.contains(&a.action)
        && st.resources.iter().any(|r| resource_covers(r, &a.resource))
        && match (&st.leading_keys, &a.partition) {
            (None, _) => true,
            (Some(keys), Some(p)) => keys.iter().any(|k| like(k, p)),
            // IAM's ForAllValues is true for a request naming no key; the test refuses it, so
            // a keyless operation (a Scan) under a LeadingKeys grant is seen and decided on.
            (Some(_), None) => false,
        }
}

/// What `handler`'s statements grant that it never used: each action × resource × pattern
/// must be used by some recorded access, unless [`ALLOWED_UNUSED`] says why not.
fn never_used(handler: &str, statements: &[Statement], used: &BTreeSet<Named>) -> Vec<String> {
    let mut unused = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let keys: Vec<Option<&String>> = match &st.leading_keys {
            None => vec![None],
            Some(k) => k.iter().map(Some).collect(),
        };
        for action in &st.actions {
            for resource in &st.resources {
                for key in &keys {
                    let hit = used.iter().any(|a| {
                        a.action == *action
                            && resource_covers(resource, &a.resource)
                            && key.is_none_or(|k| a.partition.as_deref().is_some_and(|p| like(k, p)))
                    });
                    if !hit && allowed_unused(handler, action, resource).is_none() {
                        let k = key.map(|k| format!(" for LeadingKeys {k:?}")).unwrap_or_default();
                        unused.push(format!("{handler}: statement {i} grants {action} on {resource}{k}, never used"));
                    }
                }
            }
        }
    }
    unused
}

fn allowed_unused(handler: &str, action: &str, resource: &str) -> Option<&'static str> {
    ALLOWED_UNUSED.iter().find(|(h, a, r, _)| *h == handler && *a == action && *r == resource).map(|e| e.3)
}

/// What `handler` used that no statement allows.
fn not_granted(handler: &str, statements: &[Statement], used: &BTreeSet<Named>) -> Vec<String> {
    let mut missing = Vec::new();
    for a in used {
        if !statements.iter().any(|st| allows(st, a)) {
            let p = a.partition.as_deref().map(|p| format!(" (partition {p}: {})", family(p))).unwrap_or_default();
            missing.push(format!("{handler}: {} on {}{p} is not granted", a.action, a.resource));
        }
    }
    missing
}

// ---- the scenario -------------------------------------------------------------------------

/// What each function sent during the scenario, by `Handler`, named as the template names
/// resources; `None` when there is no emulator. The scenario runs once for both tests, on its
/// own thread and runtime (the tests only compare).
fn used_by_function() -> Option<&'static BTreeMap<String, BTreeSet<Named>>> {
    static USED: std::sync::OnceLock<Option<BTreeMap<String, BTreeSet<Named>>>> = std::sync::OnceLock::new();
    USED.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(scenario())
        })
        .join()
        .unwrap_or_else(|_| panic!("the scenario failed (its panic is printed above)"))
    })
    .as_ref()
}

/// Every function's routes or paths, on moto; returns what each sent.
async fn scenario() -> Option<BTreeMap<String, BTreeSet<Named>>> {
    let config = Config {
        // Far above what the scenario sends in one (manual) minute: the 429 path sends nothing
        // the counted path does not.
        rate_limit_partner_per_min: 100_000,
        rate_limit_distributor_per_min: 100_000,
        plan_changes_per_hour: 1000,
        webhook_allow_private_targets: true,
        // Retries at once: SQS delays on moto are real seconds.
        webhook_retry_schedule: vec![0, 0],
        webhook_max_endpoints: 3,
        mail_from: shared::domain::email::Email::parse("no-reply@iam-mail.example").unwrap(),
        ..tests::with_runs(&[("professional", None), ("starter", Some(1))])
    };
    let fleet = Fleet::new(config).await?;
    let rx = Stub::start(|seen| {
        if seen.target.contains("fail") {
            Reply::json(500, json!({}))
        } else {
            Reply::json(200, json!({}))
        }
    })
    .await;
    let (f, base) = (&fleet, rx.base.as_str());
    // Each stage is boxed: one future holding them all overflows a thread's stack.
    let pid = Box::pin(partner_account(f)).await;
    let hooks = Box::pin(partner_webhooks(f, base)).await;
    let (c1, c2) = Box::pin(partner_customers(f)).await;
    let r1 = Box::pin(runs_and_the_runner(f, &pid, &c1, &c2)).await;
    Box::pin(run_reads_and_the_public_report(f, &c1, &r1)).await;
    Box::pin(deliveries(f, &hooks.1)).await;
    let c3 = Box::pin(relay_paths(f)).await;
    Box::pin(partner_keys(f)).await;
    Box::pin(partner_branding(f)).await;
    Box::pin(questionnaire(f, &pid, &c1)).await;
    Box::pin(tenant_context_and_exceptions(f, &pid, &c1)).await;
    Box::pin(schedules(f, &pid, &c1)).await;
    Box::pin(partner_billing(f)).await;
    Box::pin(partner_deletions(f, &c2, &c3, &hooks.1)).await;
    Box::pin(distributor_routes(f, &c1)).await;
    Box::pin(distributor_webhooks(f, base)).await;
    Box::pin(usage_report(f)).await;
    let recorded = fleet.recorded().await;
    Some(recorded.into_iter().map(|(h, used)| (h, used.iter().map(|a| fleet.name(a)).collect())).collect())
}

/// One function of the template: its policy and what it used.
struct FunctionUse {
    handler: String,
    statements: Vec<Statement>,
    used: &'static BTreeSet<Named>,
}

/// Each function of the template with what it used; every function was exercised, and nothing
/// ran that the template has no function for.
fn functions_and_use() -> Option<Vec<FunctionUse>> {
    let used = used_by_function()?;
    let policies = policies();
    for handler in used.keys() {
        assert!(policies.contains_key(handler), "{handler} ran but has no function in the template");
    }
    Some(
        policies
            .into_iter()
            .map(|(handler, statements)| {
                let u = used.get(&handler).unwrap_or_else(|| panic!("{handler}: the scenario never ran this function"));
                assert!(
                    u.len() > 1 || COLD_START_ONLY.contains(&handler.as_str()),
                    "{handler}: the scenario never got past its cold start"
                );
                FunctionUse { handler, statements, used: u }
            })
            .collect(),
    )
}

/// Recorded ⊆ granted: nothing a function's code sends on its paths is refused on AWS.
#[test]
fn every_operation_a_function_sends_is_granted() {
    let Some(all) = functions_and_use() else { return };
    let mut missing = Vec::new();
    for f in &all {
        eprintln!("iam: {}: {}", f.handler, summary(f.used));
        missing.extend(not_granted(&f.handler, &f.statements, f.used));
    }
    assert!(missing.is_empty(), "\nnot granted:\n{}\n", missing.join("\n"));
}

/// Granted ⊆ recorded: nothing is granted that a function's code never sends, but for the few
/// entries of [`ALLOWED_UNUSED`], each still granted and still unused.
#[test]
fn nothing_is_granted_that_a_function_never_sends() {
    let Some(all) = functions_and_use() else { return };
    let mut unused = Vec::new();
    for f in &all {
        unused.extend(never_used(&f.handler, &f.statements, f.used));
    }
    for (handler, action, resource, why) in ALLOWED_UNUSED {
        let f = all.iter().find(|f| f.handler == *handler).expect("an allowed grant's function");
        let granted = f
            .statements
            .iter()
            .any(|st| st.actions.iter().any(|a| a == action) && st.resources.iter().any(|r| r == resource));
        let seen = f.used.iter().any(|a| a.action == *action && a.resource == *resource);
        assert!(granted && !seen, "ALLOWED_UNUSED is stale: {handler} {action} {resource} ({why})");
    }
    assert!(unused.is_empty(), "\ngranted, never used:\n{}\n", unused.join("\n"));
}

/// P1 (and an unknown key), the products, P2; returns the partner's id.
async fn partner_account(f: &Fleet) -> String {
    let pid = id(f.partner(Method::GET, "/me", None).await.assert_status(200));
    f.partner_as(tests::UNKNOWN_PARTNER_KEY, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
    f.partner(Method::GET, "/products", None).await.assert_status(200);
    f.post_idempotent(false, "/plan", json!({ "plan": "enterprise" }), 200).await;
    f.partner(Method::POST, "/plan", Some(json!({ "plan": "professional" }))).await.assert_status(200);
    pid
}

/// The partner's endpoints (made first, so later events are delivered): one answering 200,
/// one answering 500, and the endpoint limit; returns (ok, failing).
async fn partner_webhooks(f: &Fleet, base: &str) -> (String, String) {
    let hook = |path: &str| webhook_body(&format!("{base}/{path}"), &["customer.created", "assessment.completed"]);
    let ok = id(&f.post_idempotent(false, "/webhooks", hook("ok"), 201).await.body["webhook"]);
    let failing = id(&f.partner(Method::POST, "/webhooks", Some(hook("fail"))).await.assert_status(201)["webhook"]);
    // The endpoint limit (a conditional failure in the create transaction).
    f.partner(Method::POST, "/webhooks", Some(hook("third"))).await.assert_status(201);
    f.partner(Method::POST, "/webhooks", Some(hook("fourth"))).await.assert_error(400, "TOO_MANY");
    f.partner(Method::GET, "/webhooks?limit=1", None).await.assert_status(200);
    let patch = json!({ "description": "rotated", "rotateSecret": true });
    f.partner(Method::PATCH, &format!("/webhooks/{ok}"), Some(patch)).await.assert_status(200);
    let unknown = "/webhooks/whk_unknown0000000000";
    f.partner(Method::PATCH, unknown, Some(json!({ "enabled": false }))).await.assert_error(404, "NOT_FOUND");
    f.post_idempotent(false, &format!("/webhooks/{ok}/test"), json!({}), 200).await;
    f.partner(Method::POST, &format!("{unknown}/test"), None).await.assert_error(404, "NOT_FOUND");
    (ok, failing)
}

/// Customers: create (and a taken tenant), bulk, list and page, get, update (a tenant moved,
/// and onto a taken one); returns two customers.
async fn partner_customers(f: &Fleet) -> (String, String) {
    let c1 = id(&f.post_idempotent(false, "/customers", customer_body("Contoso", &tenant(1)), 201).await.body);
    let again = Some(customer_body("Again", &tenant(1)));
    f.partner(Method::POST, "/customers", again).await.assert_error(409, "CUSTOMER_EXISTS");
    let bulk = json!({ "customers": [customer_body("Fabrikam", &tenant(2)), customer_body("Dup", &tenant(1))] });
    f.post_idempotent(false, "/customers/bulk", bulk, 201).await;
    let listed = f.partner(Method::GET, "/customers?limit=1", None).await;
    let cursor = listed.assert_status(200)["nextCursor"].as_str().unwrap().to_string();
    f.partner(Method::GET, &format!("/customers?limit=1&cursor={cursor}"), None).await.assert_status(200);
    f.partner(Method::GET, &format!("/customers/{c1}"), None).await.assert_status(200);
    f.partner(Method::GET, "/customers/cust_unknown000000000", None).await.assert_error(404, "NOT_FOUND");
    let c2 =
        id(f.partner(Method::POST, "/customers", Some(customer_body("Tailspin", &tenant(3)))).await.assert_status(201));
    let path = format!("/customers/{c2}");
    f.partner(Method::PATCH, &path, Some(json!({ "name": "Tailspin Toys" }))).await.assert_status(200);
    f.partner(Method::PATCH, &path, Some(json!({ "tenantId": tenant(4) }))).await.assert_status(200);
    f.partner(Method::PATCH, &path, Some(json!({ "tenantId": tenant(1) }))).await.assert_error(409, "CUSTOMER_EXISTS");
    // Consent: a trigger before it (nothing written), a refused state, then each admin grants.
    let early = f.partner(Method::POST, "/assessments", Some(assessment_body(&c1, "essential-eight"))).await;
    assert_eq!(early.assert_status(200)["status"], "consent_required");
    f.request(Method::GET, "/consent/callback?admin_consent=True&tenant=x&state=forged.state", &[], None).await;
    for c in [&c1, &c2] {
        grant(f, f.partner(Method::GET, &format!("/customers/{c}/consent"), None).await).await;
    }
    consent_emails(f, &c1).await;
    (c1, c2)
}

/// The consent email: sent through SES (and replayed, mismatched, a store fault after the
/// claim), to a customer with no email (skipped: nothing sent), to an unknown customer.
async fn consent_emails(f: &Fleet, c1: &str) {
    let with_email = json!({ "name": "Wingtip", "tenantId": tenant(7), "email": "it@wingtip.example" });
    let c = id(f.partner(Method::POST, "/customers", Some(with_email)).await.assert_status(201));
    let body = json!({ "product": "essential-eight", "maturityTarget": "2" });
    let sent = f.post_idempotent(false, &format!("/customers/{c}/consent/email"), body, 200).await;
    assert_eq!(sent.body["sent"], 1, "{}", sent.body);
    let skipped = f.partner(Method::POST, &format!("/customers/{c1}/consent/email"), None).await;
    assert_eq!(skipped.assert_status(200)["skipReason"], "customer_missing");
    let unknown = "/customers/cust_unknown000000000/consent/email";
    f.partner(Method::POST, unknown, None).await.assert_error(404, "NOT_FOUND");
}

/// Branding: read unset, changed (and a change racing none), refused, previewed; the report page
/// and the consent email read it too (above).
async fn partner_branding(f: &Fleet) {
    f.partner(Method::GET, "/branding", None).await.assert_status(200);
    let body = json!({ "brandColor": "#0a7cff", "contactEmail": "help@msp.example", "footerText": "MSP Ltd" });
    f.partner(Method::PUT, "/branding", Some(body.clone())).await.assert_status(200);
    f.partner(Method::PUT, "/branding", Some(json!({ "footerText": null }))).await.assert_status(200);
    f.partner(Method::PUT, "/branding", Some(json!({ "brandColor": "red" }))).await.assert_error(400, "INVALID_FIELD");
    for kind in ["email-consent", "email-report", "report"] {
        let page =
            f.partner(Method::POST, &format!("/branding/preview/{kind}"), Some(json!({ "branding": body }))).await;
        assert!(page.raw.starts_with(b"<!doctype html>"), "{kind}");
    }
}

/// The questionnaire: the questions, answers (PUT, GET, an unknown customer) on both bases,
/// invitations (and a replay), the form (read, saved and submitted, a tampered link), and a
/// trigger's attestations.
async fn questionnaire(f: &Fleet, pid: &str, c1: &str) {
    f.partner(Method::GET, "/products/essential-eight/questions", None).await.assert_status(200);
    let recipients = json!({ "questionnaireRecipients": ["ciso@iam-mail.example"] });
    f.partner(Method::PATCH, &format!("/customers/{c1}"), Some(recipients)).await.assert_status(200);
    let answers = json!({ "product": "essential-eight", "answers": { "Q-RB-ML1-03": { "answer": "yes" } } });
    for q in [format!("/customers/{c1}/questionnaire"), format!("/partners/{pid}/customers/{c1}/questionnaire")] {
        let distributor = q.starts_with("/partners/");
        let call = |m: Method, p: String, b: Option<Value>| async move {
            if distributor {
                f.distributor(m, &p, b).await
            } else {
                f.partner(m, &p, b).await
            }
        };
        call(Method::PUT, q.clone(), Some(answers.clone())).await.assert_status(200);
        call(Method::GET, q.clone(), None).await.assert_status(200);
        f.post_idempotent(distributor, &format!("{q}/invitations"), json!({}), 200).await;
    }
    let unknown = "/customers/cust_unknown000000000/questionnaire";
    f.partner(Method::PUT, unknown, Some(answers)).await.assert_error(404, "NOT_FOUND");
    let link = shared::usecases::questionnaire::FormLink {
        partner_id: pid.to_string(),
        customer_id: c1.to_string(),
        product: "essential-eight".into(),
        recipient: "ciso@iam-mail.example".into(),
        expires_at: f.now() + 86_400,
    };
    let path = format!(
        "/questionnaires/{}",
        shared::usecases::questionnaire::sign(&f.setup.app.secrets.report_signing, &link)
    );
    assert_eq!(f.request(Method::GET, &path, &[], None).await.status, 200);
    assert_eq!(f.form(&path, "answer.Q-RB-ML1-03=no&action=save").await.status, 303);
    assert_eq!(f.form(&path, "answer.Q-RB-ML1-02=yes&action=submit").await.status, 303);
    assert_eq!(f.form(&format!("{path}x"), "action=submit").await.status, 400);
    // Attestations on P10, D12 and P11 (each writes answers before it queues).
    let attest = json!({ "Q-RB-ML1-03": "yes" });
    let trigger = json!({ "customerId": c1, "product": "essential-eight", "attestations": attest });
    f.post_idempotent(false, "/assessments", trigger.clone(), 202).await;
    f.post_idempotent(true, &format!("/partners/{pid}/assessments"), trigger, 202).await;
    let bulk = json!({ "customerIds": [c1], "product": "essential-eight", "attestations": attest });
    f.post_idempotent(false, "/assessments/bulk", bulk, 202).await;
    f.run_worker(None).await;
}

/// Tenant context and exceptions (issue 18) on both surfaces, and an exception 30 days or less
/// from its expiry noticed by the relay (`exception.expiring`).
async fn tenant_context_and_exceptions(f: &Fleet, pid: &str, c1: &str) {
    let expires = (f.now() + 10 * 86_400).rfc3339();
    let exception = json!({
        "requirementId": "MF-ML1-01", "kind": "risk_accepted", "rationale": "Until the upgrade",
        "owner": "it@contoso.example", "approvedBy": "ciso@contoso.example", "expiresAt": expires,
    });
    let context = json!({ "emergencyAccessAccounts": ["8be8930d-7754-3e0a-b95d-6b24e8c20108"] });
    for distributor in [false, true] {
        let base = if distributor { format!("/partners/{pid}/customers/{c1}") } else { format!("/customers/{c1}") };
        let call = |m: Method, path: String, body: Option<Value>| async move {
            if distributor {
                f.distributor(m, &path, body).await
            } else {
                f.partner(m, &path, body).await
            }
        };
        call(Method::PUT, format!("{base}/context"), Some(context.clone())).await.assert_status(200);
        call(Method::GET, format!("{base}/context"), None).await.assert_status(200);
        let made = call(Method::POST, format!("{base}/exceptions"), Some(exception.clone())).await;
        let e = id(made.assert_status(201));
        call(Method::GET, format!("{base}/exceptions"), None).await.assert_status(200);
        let owner = json!({ "owner": "ops@contoso.example" });
        call(Method::PATCH, format!("{base}/exceptions/{e}"), Some(owner)).await.assert_status(200);
        let tick = f.relay().await;
        assert_eq!(tick.exceptions_expiring, Ok(1), "{tick:?}");
        call(Method::DELETE, format!("{base}/exceptions/{e}"), None).await.assert_status(204);
    }
}

/// The schedule routes on both bases, then the scheduler function: a due period of a customer
/// with consent (a run), one of a customer without (a refusal and its `schedule.failed`), and
/// a second invocation with nothing due.
async fn schedules(f: &Fleet, pid: &str, c1: &str) {
    let pending =
        id(f.partner(Method::POST, "/customers", Some(customer_body("Pending", &tenant(9)))).await.assert_status(201));
    // Weekly, on the day and hour an hour from now: due after a short step of the clock.
    let soon = (f.now() + 3600).unix();
    // 1970-01-01 was a Thursday (3, counting from Monday).
    let day = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
        [((soon.div_euclid(86_400) + 3) % 7) as usize];
    let hour = soon.rem_euclid(86_400) / 3600;
    let body = json!({ "product": "essential-eight", "cadence": "weekly", "dayOfWeek": day, "hourUtc": hour });
    for distributor in [false, true] {
        let base = if distributor { format!("/partners/{pid}/customers/{c1}") } else { format!("/customers/{c1}") };
        let call = |m: Method, path: String, body: Option<Value>| async move {
            if distributor {
                f.distributor(m, &path, body).await
            } else {
                f.partner(m, &path, body).await
            }
        };
        let made = call(Method::POST, format!("{base}/schedules"), Some(body.clone())).await;
        let x = id(made.assert_status(201));
        call(Method::GET, format!("{base}/schedules"), None).await.assert_status(200);
        let off = json!({ "enabled": false });
        call(Method::PATCH, format!("{base}/schedules/{x}"), Some(off)).await.assert_status(200);
        call(Method::DELETE, format!("{base}/schedules/{x}"), None).await.assert_status(204);
    }
    for c in [c1, pending.as_str()] {
        f.partner(Method::POST, &format!("/customers/{c}/schedules"), Some(body.clone())).await.assert_status(201);
    }
    f.clock.advance(3600);
    let s = f.function(SCHEDULER).await;
    let tick = lambda::scheduler_tick(&s.aws.app).await.expect("the scheduler runs");
    assert_eq!((tick.runs, tick.refused), (1, 1), "{tick:?}");
    let again = lambda::scheduler_tick(&s.aws.app).await.expect("the scheduler runs");
    assert_eq!(again.runs + again.refused, 0, "{again:?}");
    f.partner(Method::DELETE, &format!("/customers/{pending}"), None).await.assert_status(204);
}

/// The secret gains `stripeWebhookSecret` (no `stripeSecretKey`: the local ledger, so nothing
/// is sent to Stripe), so the webhook function verifies and applies events.
async fn with_stripe_webhook_secret(sm: &aws_sdk_secretsmanager::Client, secret_id: &str) {
    let current = sm.get_secret_value().secret_id(secret_id).send().await.unwrap();
    let mut fields: Value = serde_json::from_str(current.secret_string().unwrap()).unwrap();
    fields["stripeWebhookSecret"] = json!(IAM_WHSEC);
    sm.put_secret_value().secret_id(secret_id).secret_string(fields.to_string()).send().await.unwrap();
}

const IAM_WHSEC: &str = "whsec_iam";

/// Billing: the local ledger's view and portal (404), and Stripe's webhook applying an event to
/// a partner with a Stripe subscription (given directly: the ledger makes none).
async fn partner_billing(f: &Fleet) {
    f.partner(Method::GET, "/billing", None).await.assert_status(200);
    f.partner(Method::POST, "/billing/portal", None).await.assert_error(404, "NOT_FOUND");
    let me = f.partner(Method::GET, "/me", None).await;
    let pid = me.assert_status(200)["id"].as_str().unwrap().to_string();
    let store = &f.setup.store;
    let p = shared::store::AccountStore::partner(store.as_ref(), &pid).await.unwrap().unwrap();
    let mut sub = p.subscription.clone();
    sub.stripe = Some(shared::domain::account::StripeRefs {
        customer_id: "cus_iam".into(),
        subscription_id: "sub_iam".into(),
        item_id: "si_iam".into(),
        lookup_key: "starter_monthly_usd".into(),
        event_at: 0,
        events: Vec::new(),
    });
    shared::store::AccountStore::update_partner_terms(
        store.as_ref(),
        &pid,
        p.terms_version,
        None,
        None,
        Some(&sub),
        T0,
    )
    .await
    .unwrap();
    let event = json!({"id": "evt_iam", "type": "customer.subscription.updated", "created": T0.unix(),
        "data": {"object": {"id": "sub_iam", "status": "active", "metadata": {"partnerId": pid}}}});
    let now = shared::domain::time::Clock::now(f.clock.as_ref()).unix();
    let sig = shared::stripe::webhook::sign(IAM_WHSEC, now, event.to_string().as_bytes());
    let r = f.request(Method::POST, "/stripe/webhook", &[("stripe-signature", sig.as_str())], Some(event)).await;
    assert_eq!(r.assert_status(200)["outcome"], "applied");
}

/// Answers a consent link (a `GET …/consent` answer) as the tenant's admin granting it would.
async fn grant(f: &Fleet, consent: Resp) {
    let url = consent.assert_status(200)["consentUrl"].as_str().unwrap().to_string();
    let granted = f.request(Method::GET, &tests::consent_callback(&url, true), &[], None).await;
    assert_eq!(granted.status, 200);
}

/// Runs queued one by one and in bulk, then the runs worker: claims and finishes, a last
/// attempt that fails its run, a message for a finished run, a chained delay received early;
/// returns a completed run.
async fn runs_and_the_runner(f: &Fleet, pid: &str, c1: &str, c2: &str) -> String {
    let r1 = id(&f.post_idempotent(false, "/assessments", assessment_body(c1, "essential-eight"), 202).await.body);
    let bulk = json!({ "customerIds": [c1, c2], "product": "nist-csf" });
    f.post_idempotent(false, "/assessments/bulk", bulk, 202).await;
    assert_eq!(f.run_worker(None).await, 3, "the runs were taken");
    let last = f.partner(Method::POST, "/assessments", Some(assessment_body(c2, "essential-eight"))).await;
    let last = id(last.assert_status(202));
    f.run_worker(Some(4)).await;
    let failed = f.partner(Method::GET, &format!("/assessments/{last}"), None).await;
    assert_eq!(failed.assert_status(200)["status"], "failed");
    let message = shared::queue::RunMessage { run_id: last.clone().into(), partner_id: pid.to_string().into() };
    let body = serde_json::to_string(&message).unwrap();
    let w = f.function(RUNS_WORKER).await;
    let runner = w.aws.service.runner();
    // The same message again: the run is finished, nothing changes.
    let dup: SqsEvent = serde_json::from_value(json!({ "Records": [sqs_record(&body, 2, None)] })).unwrap();
    assert!(lambda::runs_batch(&runner, &w.aws.runs, dup).await.batch_item_failures.is_empty());
    // A chained delay received early is sent on (to the runs queue), not handled.
    let early = json!({ "Records": [sqs_record(&body, 1, Some(T0 + 7200))] });
    lambda::runs_batch(&runner, &w.aws.runs, serde_json::from_value(early).unwrap()).await;
    f.take(&f.setup.runs).await;
    r1
}

/// The run reads (each list filter), the findings, the public report.
async fn run_reads_and_the_public_report(f: &Fleet, c1: &str, r1: &str) {
    f.partner(Method::GET, "/assessments?limit=1", None).await.assert_status(200);
    for q in [format!("customerId={c1}"), "month=2026-04".into(), "product=nist-csf".into(), "status=completed".into()]
    {
        f.partner(Method::GET, &format!("/assessments?{q}"), None).await.assert_status(200);
    }
    let run = f.partner(Method::GET, &format!("/assessments/{r1}"), None).await;
    let url = run.assert_status(200)["reportUrl"].as_str().expect("a completed run's report link").to_string();
    f.partner(Method::GET, "/assessments/run_unknown00000000000", None).await.assert_error(404, "NOT_FOUND");
    f.partner(Method::GET, &format!("/assessments/{r1}/findings?severity=high"), None).await.assert_status(200);
    f.partner(Method::GET, &format!("/assessments/{r1}/requirements?strategy=mfa"), None).await.assert_status(200);
    f.partner(Method::GET, &format!("/assessments/{r1}/report"), None).await.assert_status(200);
    f.request(Method::GET, "/api/v1/openapi.json", &[], None).await.assert_status(200);
    let report = f.request(Method::GET, &url[url.find("/reports/").unwrap()..], &[], None).await;
    assert_eq!(report.status, 200);
    // The same function renders the PDF (it runs the report-pdf binary).
    let pdf =
        f.request(Method::GET, &format!("{}?format=pdf", &url[url.find("/reports/").unwrap()..]), &[], None).await;
    assert_eq!(pdf.status, 200);
    f.request(Method::GET, "/reports/not-a-token", &[], None).await;
}

/// The relay fans the events out; the dispatcher delivers (200), retries (500) and gives up;
/// the deliveries list; a redelivery, and a redelivery's message received before it is due.
async fn deliveries(f: &Fleet, failing: &str) {
    let tick = f.relay().await;
    assert!(*tick.events.as_ref().unwrap() > 0, "{tick:?}");
    assert!(f.send_mail().await > 0, "the consent emails");
    // The messages, on both bases (a page with a cursor, a kind).
    let page = f.partner(Method::GET, "/mail/messages?limit=1", None).await;
    if let Some(cursor) = page.assert_status(200)["nextCursor"].as_str() {
        f.partner(Method::GET, &format!("/mail/messages?limit=1&cursor={cursor}"), None).await.assert_status(200);
    }
    f.distributor(Method::GET, "/mail/messages?kind=consent-request", None).await.assert_status(200);
    // The audit log, on both bases (each family: all, by action, by target).
    f.partner(Method::GET, "/audit?limit=1", None).await.assert_status(200);
    f.partner(Method::GET, "/audit?action=customer.created&from=2026-01-01T00:00:00Z", None).await.assert_status(200);
    f.distributor(Method::GET, "/audit?targetId=prt_x&to=2030-01-01T00:00:00Z", None).await.assert_status(200);
    // The portfolio, on both bases (issue 19): its entries and its customers' names.
    for (rows, surface) in [
        (f.partner(Method::GET, "/portfolio?product=essential-eight", None).await, "partner"),
        (f.distributor(Method::GET, "/portfolio?product=essential-eight", None).await, "distributor"),
    ] {
        assert!(!rows.assert_status(200)["customers"].as_array().unwrap().is_empty(), "{surface}: {}", rows.body);
    }
    assert!(f.dispatch().await > 0);
    f.clock.advance(60);
    assert!(f.dispatch().await > 0, "the retries");
    f.clock.advance(60);
    f.dispatch().await;
    let listed = f.partner(Method::GET, &format!("/webhooks/{failing}/deliveries?limit=1"), None).await;
    let dlv = id(&listed.assert_status(200)["deliveries"][0]);
    let unknown = "/webhooks/whk_unknown0000000000/deliveries";
    f.partner(Method::GET, unknown, None).await.assert_error(404, "NOT_FOUND");
    let redeliver = format!("/webhooks/{failing}/deliveries/{dlv}/redeliver");
    f.post_idempotent(false, &redeliver, json!({}), 202).await;
    f.dispatch().await;
    f.partner(Method::POST, &redeliver, None).await.assert_status(202);
    let mut event = f.take(&f.setup.webhooks).await;
    let mut m: Value = serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    m["notBefore"] = json!((f.now() + 3600).unix());
    event.records[0].body = Some(m.to_string());
    let d = f.function(WEBHOOK_DISPATCHER).await;
    lambda::webhooks_batch(&d.aws.service.dispatcher(), &d.aws.webhooks, event).await;
    f.take(&f.setup.webhooks).await;
}

/// The relay's other paths: an event drained again (its deliveries exist: a relay that died
/// before acknowledging it), an outbox item that does not decode (quarantined), deliveries
/// whose message was lost (swept), a run whose message was lost (sent again). Returns the
/// customer it made.
async fn relay_paths(f: &Fleet) -> String {
    let c3 = id(f
        .partner(Method::POST, "/customers", Some(customer_body("Northwind", &tenant(5))))
        .await
        .assert_status(201));
    let outbox = f.outbox_items().await;
    f.relay().await;
    f.take(&f.setup.webhooks).await; // lost: the sweep finds them
    f.put_items(outbox).await;
    f.put_poison().await;
    grant(f, f.partner(Method::GET, &format!("/customers/{c3}/consent"), None).await).await;
    f.partner(Method::POST, "/assessments", Some(assessment_body(&c3, "essential-eight"))).await.assert_status(202);
    f.take(&f.setup.runs).await; // lost: the stale-run resend finds it
    f.clock.advance(3600);
    let tick = f.relay().await;
    assert!(*tick.requeued.as_ref().unwrap() > 0, "{tick:?}");
    assert!(*tick.runs_resent.as_ref().unwrap() > 0, "{tick:?}");
    f.take(&f.setup.webhooks).await;
    f.run_worker(None).await;
    c3
}

/// P13 and P14: a key in the free slot, none past two, revoking, an empty slot, the last key.
async fn partner_keys(f: &Fleet) {
    f.post_idempotent(false, "/keys", json!({}), 201).await;
    f.partner(Method::POST, "/keys", None).await.assert_error(409, "MAX_KEYS");
    f.partner(Method::DELETE, "/keys/2", None).await.assert_status(204);
    f.partner(Method::DELETE, "/keys/2", None).await.assert_error(404, "NOT_FOUND");
    f.partner(Method::DELETE, "/keys/1", None).await.assert_error(409, "LAST_KEY");
}

/// Deleting a customer with few runs (one transaction) and one with more runs than a
/// transaction holds (marked, then its runs in batches), an unknown one; deleting an endpoint.
async fn partner_deletions(f: &Fleet, c2: &str, c3: &str, failing: &str) {
    for i in 0..34 {
        let product = ["essential-eight", "nist-csf"][i % 2];
        f.partner(Method::POST, "/assessments", Some(assessment_body(c3, product))).await.assert_status(202);
    }
    f.take(&f.setup.runs).await;
    f.partner(Method::DELETE, &format!("/customers/{c2}"), None).await.assert_status(204);
    f.partner(Method::DELETE, &format!("/customers/{c3}"), None).await.assert_status(204);
    f.partner(Method::DELETE, "/customers/cust_unknown000000000", None).await.assert_error(404, "NOT_FOUND");
    f.partner(Method::DELETE, &format!("/webhooks/{failing}"), None).await.assert_status(204);
    f.partner(Method::DELETE, "/webhooks/whk_unknown0000000000", None).await.assert_error(404, "NOT_FOUND");
}

/// Every distributor route but the webhooks': a partner provisioned (and a taken email),
/// in bulk, listed, read, updated, refused a run while inactive, activated, keyed, given a
/// customer and a run (and refused one past its plan's limit), its plan changed, suspended.
async fn distributor_routes(f: &Fleet, c1: &str) {
    f.distributor(Method::GET, "/me", None).await.assert_status(200);
    let p2 = id(&f.post_idempotent(true, "/partners", partner_body("a@msp2.example", "starter"), 201).await.body);
    let taken = Some(partner_body("a@msp2.example", "starter"));
    f.distributor(Method::POST, "/partners", taken).await.assert_error(409, "PARTNER_EXISTS");
    let batch =
        json!({ "partners": [partner_body("b@msp3.example", "starter"), partner_body("a@msp2.example", "starter")] });
    f.post_idempotent(true, "/partners/bulk", batch, 201).await;
    f.distributor(Method::GET, "/partners?limit=1", None).await.assert_status(200);
    f.distributor(Method::GET, &format!("/partners/{p2}"), None).await.assert_status(200);
    f.distributor(Method::GET, "/partners/prt_unknown0000000000", None).await.assert_error(404, "NOT_FOUND");
    let billing = json!({ "billing": { "interval": "annual" } });
    f.distributor(Method::PATCH, &format!("/partners/{p2}"), Some(billing)).await.assert_status(200);
    let runs = format!("/partners/{p2}/assessments");
    let refused = Some(assessment_body(c1, "essential-eight"));
    f.distributor(Method::POST, &runs, refused).await.assert_error(403, "PARTNER_INACTIVE");
    f.post_idempotent(true, &format!("/partners/{p2}/activate"), json!({}), 200).await;
    let key = f.post_idempotent(true, &format!("/partners/{p2}/keys"), json!({}), 201).await;
    let p2_key = key.body["key"].as_str().unwrap().to_string();
    let c4 =
        f.post_idempotent(true, &format!("/partners/{p2}/customers"), customer_body("Litware", &tenant(6)), 201).await;
    let c4 = id(&c4.body);
    grant(f, f.distributor(Method::GET, &format!("/partners/{p2}/customers/{c4}/consent"), None).await).await;
    let with_email = json!({ "name": "Litware Labs", "tenantId": tenant(8), "email": "it@litware.example" });
    let c5 = f.distributor(Method::POST, &format!("/partners/{p2}/customers"), Some(with_email)).await;
    let email = format!("/partners/{p2}/customers/{}/consent/email", id(c5.assert_status(201)));
    let sent = f.post_idempotent(true, &email, json!({}), 200).await;
    assert_eq!(sent.body["sent"], 1, "{}", sent.body);
    f.distributor(Method::GET, &format!("/partners/{p2}/customers"), None).await.assert_status(200);
    let r2 = id(&f.post_idempotent(true, &runs, assessment_body(&c4, "essential-eight"), 202).await.body);
    // The starter plan's one run a month is used: the limit's conditional failure.
    let over = Some(assessment_body(&c4, "essential-eight"));
    f.distributor(Method::POST, &runs, over.clone()).await.assert_error(403, "RUN_LIMIT_REACHED");
    f.partner_as(&p2_key, Method::POST, "/assessments", over).await.assert_error(403, "RUN_LIMIT_REACHED");
    f.run_worker(None).await;
    f.distributor(Method::GET, &format!("{runs}?customerId={c4}"), None).await.assert_status(200);
    f.distributor(Method::GET, &format!("{runs}/{r2}/findings"), None).await.assert_status(200);
    f.distributor(Method::GET, &format!("{runs}/{r2}/requirements"), None).await.assert_status(200);
    f.distributor(Method::GET, &format!("{runs}/{r2}/report"), None).await.assert_status(200);
    // A plan change through D5 and through D9 (each counted in the plan-change window).
    f.distributor(Method::PATCH, &format!("/partners/{p2}"), Some(json!({ "plan": "professional" })))
        .await
        .assert_status(200);
    f.post_idempotent(true, &format!("/partners/{p2}/plan"), json!({ "plan": "enterprise" }), 200).await;
    f.distributor(Method::GET, "/usage", None).await.assert_status(200);
    // D2's status filter queries its entries; so do D1, D2 and D14 for a distributor whose
    // partner-id set is not complete (made before it and not backfilled yet, docs/storage.md).
    f.distributor(Method::GET, "/partners?status=active", None).await.assert_status(200);
    let me = f.distributor(Method::GET, "/me", None).await.assert_status(200).clone();
    let members = aws_sdk_dynamodb::Client::new(&f.sdk)
        .delete_item()
        .table_name(&f.settings.table)
        .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("DIST#{}", me["id"].as_str().unwrap())))
        .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("MEMBERS".into()));
    members.send().await.unwrap();
    for path in ["/me", "/partners", "/usage"] {
        f.distributor(Method::GET, path, None).await.assert_status(200);
    }
    f.post_idempotent(true, &format!("/partners/{p2}/suspend"), json!({}), 200).await;
    f.partner_as(&p2_key, Method::GET, "/me", None).await.assert_error(401, "INVALID_KEY");
}

/// The distributor's endpoints: made, listed, rotated, pinged; its partners' events relayed
/// and failing; a redelivery; deleted, with a message for it still queued.
async fn distributor_webhooks(f: &Fleet, base: &str) {
    let body = webhook_body(&format!("{base}/fail-d"), &["partner.activated", "partner.suspended"]);
    let dh = id(&f.post_idempotent(true, "/webhooks", body, 201).await.body["webhook"]);
    f.distributor(Method::GET, "/webhooks", None).await.assert_status(200);
    let rotate = Some(json!({ "rotateSecret": true }));
    f.distributor(Method::PATCH, &format!("/webhooks/{dh}"), rotate).await.assert_status(200);
    f.post_idempotent(true, &format!("/webhooks/{dh}/test"), json!({}), 200).await;
    let p3 = id(f
        .distributor(Method::POST, "/partners", Some(partner_body("c@msp4.example", "starter")))
        .await
        .assert_status(201));
    f.distributor(Method::POST, &format!("/partners/{p3}/activate"), None).await.assert_status(200);
    f.distributor(Method::POST, &format!("/partners/{p3}/suspend"), None).await.assert_status(200);
    f.relay().await;
    f.send_mail().await;
    f.dispatch().await;
    let listed = f.distributor(Method::GET, &format!("/webhooks/{dh}/deliveries"), None).await;
    let dlv = id(&listed.assert_status(200)["deliveries"][0]);
    f.post_idempotent(true, &format!("/webhooks/{dh}/deliveries/{dlv}/redeliver"), json!({}), 202).await;
    f.distributor(Method::DELETE, &format!("/webhooks/{dh}"), None).await.assert_status(204);
    // Messages for a deleted endpoint end quietly.
    f.dispatch().await;
}

/// The usage report closes April (twice: the second close writes nothing); D14 then reads the
/// closed month from its snapshot.
async fn usage_report(f: &Fleet) {
    f.clock.advance(30 * 24 * 3600);
    let u = f.function(USAGE_REPORT).await;
    let closed = u.aws.service.usage_report().run().await.unwrap();
    assert!(closed.written > 0, "{closed:?}");
    let again = u.aws.service.usage_report().run().await.unwrap();
    assert_eq!(again.written, 0);
    f.distributor(Method::GET, "/usage?month=2026-04", None).await.assert_status(200);
}

/// A function's use as one line: each action with the partition prefixes it touched.
fn summary(used: &BTreeSet<Named>) -> String {
    let mut by: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for a in used {
        let family = a.partition.as_deref().map(family).unwrap_or_default();
        by.entry((a.action.clone(), a.resource.clone())).or_default().insert(family);
    }
    by.iter()
        .map(|((action, resource), fams)| {
            let fams: Vec<&str> = fams.iter().map(String::as_str).filter(|f| !f.is_empty()).collect();
            if fams.is_empty() {
                format!("{action} {resource}")
            } else {
                format!("{action} {resource} [{}]", fams.join(" "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `dynamodb:LeadingKeys` pattern of a partition key's family: its fixed words, then `*`
/// where the first id begins (`PARTNER#prt_…` → `PARTNER#*`, `OWNER#partner#prt_…` →
/// `OWNER#partner#*`, `LIMIT#RL#…` → `LIMIT#RL#*`); a key of fixed words only is itself
/// (`OUTBOX`).
fn family(pk: &str) -> String {
    let fixed = |w: &str| {
        !w.is_empty() && (w.chars().all(|c| c.is_ascii_uppercase() || c == '_') || w == "partner" || w == "distributor")
    };
    let words: Vec<&str> = pk.split('#').collect();
    let n = words.iter().take_while(|w| fixed(w)).count();
    if n == words.len() {
        pk.to_string()
    } else {
        format!("{}#*", words[..n].join("#"))
    }
}
