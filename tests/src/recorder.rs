//! Records every AWS operation the SDK clients send, as what IAM checks it against: the
//! action, the resource and (DynamoDB) the partition key. An SDK interceptor on the clients the
//! tests build (`lambda::build_with` takes them); the clients production makes carry none.
//!
//! How an operation becomes IAM actions (the DynamoDB and SQS API permission references):
//! - DynamoDB: `TransactWriteItems` is authorised item by item as `PutItem`, `UpdateItem`,
//!   `DeleteItem` or `ConditionCheckItem`, and `TransactGetItems` as `GetItem`; every other
//!   operation is the action of its name (`BatchGetItem`, `BatchWriteItem`, `Query`, …). Each
//!   item of a batch or transaction is one access, with its own partition key, which is what
//!   `dynamodb:LeadingKeys` is matched against. A `Query` on an index acts on the index
//!   (`…/index/GSI1`) and its partition is the index's partition key value.
//! - SQS: `SendMessageBatch` is `sqs:SendMessage`, `DeleteMessageBatch` `sqs:DeleteMessage`,
//!   `ChangeMessageVisibilityBatch` `sqs:ChangeMessageVisibility`; the resource is the queue.
//! - Secrets Manager: the operation's name; the resource is the secret id.
//! - SES v2: the operation's name, and for `SendEmail` with raw content also
//!   `ses:SendRawEmail` (SES authorises raw content under that action: the AccessDenied
//!   messages reported for v2 raw sends name it; that `ses:SendEmail` is not checked too is
//!   undocumented, so both are recorded and granted); the resource is the identity of the
//!   sender's domain.
//!
//! An execution is recorded once however often the SDK retries it, and whether or not it
//! succeeds (IAM decides before a condition fails).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;

use functions::lambda::AwsClients;

/// What an access acts on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// The table (its base items).
    Table,
    /// A secondary index of the table, by name.
    Index(String),
    /// An SQS queue, by name (the last segment of its URL).
    Queue(String),
    /// A Secrets Manager secret, by the id the call named it with.
    Secret(String),
    /// An SES identity (the sender's domain).
    Identity(String),
}

/// One IAM-checked access of one operation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    /// The IAM action, e.g. `dynamodb:PutItem`.
    pub action: String,
    pub resource: Resource,
    /// DynamoDB: the partition key value the access names (the table's `PK`, or the index's
    /// partition key for a query on an index); `None` elsewhere.
    pub partition: Option<String>,
}

/// A predicate on one access (fault injection).
type Matcher = Box<dyn Fn(&Access) -> bool + Send + Sync>;

#[derive(Default)]
struct State {
    seen: Vec<Access>,
    /// Every execution, as `Service.Operation` (e.g. `DynamoDB.GetItem`), in order: what the
    /// call-count test counts (one per request sent, retries aside).
    calls: Vec<String>,
    /// Armed fault: once a call with an access matching `.0` was seen, the next call with an
    /// access matching `.1` fails (before it is sent), once.
    fault: Option<(Matcher, Matcher, bool)>,
    faults_injected: usize,
}

/// The recorder: clone it into every client of one function; read what it saw.
#[derive(Clone, Default)]
pub struct Recorder {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every access seen so far, deduplicated and sorted.
    pub fn accesses(&self) -> BTreeSet<Access> {
        self.state.lock().unwrap().seen.iter().cloned().collect()
    }

    /// Every operation executed since the last [`Recorder::clear`], as `Service.Operation`.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Forgets what was seen (fault settings stay).
    pub fn clear(&self) {
        let mut st = self.state.lock().unwrap();
        st.seen.clear();
        st.calls.clear();
    }

    /// Arms one fault: after a call with an access matching `after`, the next call with an
    /// access matching `then` fails without being sent (it is still recorded: IAM would have
    /// been asked). Stands in for a throttle or an outage at that point.
    pub fn fail_once_after(
        &self,
        after: impl Fn(&Access) -> bool + Send + Sync + 'static,
        then: impl Fn(&Access) -> bool + Send + Sync + 'static,
    ) {
        self.state.lock().unwrap().fault = Some((Box::new(after), Box::new(then), false));
    }

    /// How many faults were injected so far.
    pub fn faults_injected(&self) -> usize {
        self.state.lock().unwrap().faults_injected
    }

    /// The three clients of a function, made from `sdk` as `AwsClients::new` makes them, with
    /// this recorder on each.
    pub fn clients(&self, sdk: &aws_config::SdkConfig) -> AwsClients {
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(sdk).interceptor(self.clone()).build(),
            ),
            sqs: aws_sdk_sqs::Client::from_conf(
                aws_sdk_sqs::config::Builder::from(sdk).interceptor(self.clone()).build(),
            ),
            secrets: aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(sdk).interceptor(self.clone()).build(),
            ),
            ses: aws_sdk_sesv2::Client::from_conf(
                aws_sdk_sesv2::config::Builder::from(sdk).interceptor(self.clone()).build(),
            ),
        }
    }

    fn record(&self, accesses: Vec<Access>) -> Result<(), BoxError> {
        let mut st = self.state.lock().unwrap();
        let mut fail = false;
        if let Some((after, then, triggered)) = &mut st.fault {
            if *triggered && accesses.iter().any(then) {
                fail = true;
            } else if accesses.iter().any(after) {
                *triggered = true;
            }
        }
        st.seen.extend(accesses);
        if fail {
            st.fault = None;
            st.faults_injected += 1;
            return Err("injected by the test's recorder".into());
        }
        Ok(())
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    // Not `read_before_execution`: a client's interceptors run that before the operation's
    // configuration (its `Metadata`) is in the bag. This hook runs once per execution too,
    // before the retry loop, so an injected fault is never retried.
    fn read_before_serialization(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let meta = cfg.load::<Metadata>().expect("every operation has its metadata");
        let accesses = accesses(meta.service(), meta.name(), context.input());
        assert!(!accesses.is_empty(), "{} {}: nothing recorded", meta.service(), meta.name());
        self.state.lock().unwrap().calls.push(format!("{}.{}", meta.service(), meta.name()));
        self.record(accesses)
    }
}

type Item = HashMap<String, AttributeValue>;

fn pk(item: &Item, attr: &str) -> Option<String> {
    item.get(attr).and_then(|v| v.as_s().ok()).cloned()
}

fn dynamo(action: &str, item: Option<&Item>) -> Access {
    Access {
        action: format!("dynamodb:{action}"),
        resource: Resource::Table,
        partition: item.and_then(|i| pk(i, "PK")),
    }
}

fn queue_name(url: Option<&str>) -> Resource {
    Resource::Queue(url.unwrap_or_default().rsplit('/').next().unwrap_or_default().to_string())
}

/// The partition a key condition names: the value bound to `attr` (directly or through a
/// `#name`) by `=`.
fn query_partition(input: &aws_sdk_dynamodb::operation::query::QueryInput, attr: &str) -> Option<String> {
    let expr = input.key_condition_expression()?;
    let names = input.expression_attribute_names().cloned().unwrap_or_default();
    let values = input.expression_attribute_values().cloned().unwrap_or_default();
    expr.split(" AND ").find_map(|clause| {
        let (lhs, rhs) = clause.split_once('=')?;
        let (lhs, rhs) = (lhs.trim(), rhs.trim());
        let name = names.get(lhs).map(String::as_str).unwrap_or(lhs);
        (name == attr).then(|| values.get(rhs).and_then(|v| v.as_s().ok()).cloned()).flatten()
    })
}

/// The IAM accesses of one operation.
fn accesses(
    service: &str,
    op: &str,
    input: &aws_smithy_runtime_api::client::interceptors::context::Input,
) -> Vec<Access> {
    use aws_sdk_dynamodb::operation as ddb;
    match service {
        "DynamoDB" => match op {
            "GetItem" => vec![dynamo(op, input.downcast_ref::<ddb::get_item::GetItemInput>().and_then(|i| i.key()))],
            "PutItem" => vec![dynamo(op, input.downcast_ref::<ddb::put_item::PutItemInput>().and_then(|i| i.item()))],
            "UpdateItem" => {
                vec![dynamo(op, input.downcast_ref::<ddb::update_item::UpdateItemInput>().and_then(|i| i.key()))]
            }
            "DeleteItem" => {
                vec![dynamo(op, input.downcast_ref::<ddb::delete_item::DeleteItemInput>().and_then(|i| i.key()))]
            }
            "Query" => {
                let q = input.downcast_ref::<ddb::query::QueryInput>().expect("a QueryInput");
                match q.index_name() {
                    // GSI1's partition key attribute; another index would need its own.
                    Some(index) => vec![Access {
                        action: "dynamodb:Query".into(),
                        resource: Resource::Index(index.to_string()),
                        partition: query_partition(q, &format!("{index}PK")),
                    }],
                    None => vec![Access {
                        action: "dynamodb:Query".into(),
                        resource: Resource::Table,
                        partition: query_partition(q, "PK"),
                    }],
                }
            }
            "BatchGetItem" => {
                let b = input.downcast_ref::<ddb::batch_get_item::BatchGetItemInput>().expect("a BatchGetItemInput");
                b.request_items()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .flat_map(|k| k.keys())
                    .map(|k| dynamo(op, Some(k)))
                    .collect()
            }
            "BatchWriteItem" => {
                let b =
                    input.downcast_ref::<ddb::batch_write_item::BatchWriteItemInput>().expect("a BatchWriteItemInput");
                b.request_items()
                    .into_iter()
                    .flat_map(|m| m.values())
                    .flatten()
                    .map(|w| {
                        let item = w.put_request().map(|p| p.item()).or_else(|| w.delete_request().map(|d| d.key()));
                        dynamo(op, item)
                    })
                    .collect()
            }
            "TransactWriteItems" => {
                let t = input
                    .downcast_ref::<ddb::transact_write_items::TransactWriteItemsInput>()
                    .expect("a TransactWriteItemsInput");
                t.transact_items()
                    .iter()
                    .map(|i| {
                        if let Some(p) = i.put() {
                            dynamo("PutItem", Some(p.item()))
                        } else if let Some(u) = i.update() {
                            dynamo("UpdateItem", Some(u.key()))
                        } else if let Some(d) = i.delete() {
                            dynamo("DeleteItem", Some(d.key()))
                        } else if let Some(c) = i.condition_check() {
                            dynamo("ConditionCheckItem", Some(c.key()))
                        } else {
                            panic!("a transaction item of no known kind: {i:?}")
                        }
                    })
                    .collect()
            }
            "TransactGetItems" => {
                let t = input
                    .downcast_ref::<ddb::transact_get_items::TransactGetItemsInput>()
                    .expect("a TransactGetItemsInput");
                t.transact_items().iter().map(|i| dynamo("GetItem", i.get().map(|g| g.key()))).collect()
            }
            // Anything else (Scan, DescribeTable, …) is the action of its name on the table,
            // with no partition: a policy that limits partitions would not cover it.
            other => vec![dynamo(other, None)],
        },
        "SQS" => {
            use aws_sdk_sqs::operation as sqs;
            let (action, url) = match op {
                "SendMessage" => (
                    "SendMessage",
                    input.downcast_ref::<sqs::send_message::SendMessageInput>().and_then(|i| i.queue_url()),
                ),
                "SendMessageBatch" => (
                    "SendMessage",
                    input.downcast_ref::<sqs::send_message_batch::SendMessageBatchInput>().and_then(|i| i.queue_url()),
                ),
                "ReceiveMessage" => (
                    "ReceiveMessage",
                    input.downcast_ref::<sqs::receive_message::ReceiveMessageInput>().and_then(|i| i.queue_url()),
                ),
                "DeleteMessage" => (
                    "DeleteMessage",
                    input.downcast_ref::<sqs::delete_message::DeleteMessageInput>().and_then(|i| i.queue_url()),
                ),
                "DeleteMessageBatch" => (
                    "DeleteMessage",
                    input
                        .downcast_ref::<sqs::delete_message_batch::DeleteMessageBatchInput>()
                        .and_then(|i| i.queue_url()),
                ),
                "ChangeMessageVisibility" => (
                    "ChangeMessageVisibility",
                    input
                        .downcast_ref::<sqs::change_message_visibility::ChangeMessageVisibilityInput>()
                        .and_then(|i| i.queue_url()),
                ),
                "ChangeMessageVisibilityBatch" => (
                    "ChangeMessageVisibility",
                    input
                        .downcast_ref::<sqs::change_message_visibility_batch::ChangeMessageVisibilityBatchInput>()
                        .and_then(|i| i.queue_url()),
                ),
                "GetQueueAttributes" => (
                    "GetQueueAttributes",
                    input
                        .downcast_ref::<sqs::get_queue_attributes::GetQueueAttributesInput>()
                        .and_then(|i| i.queue_url()),
                ),
                // CreateQueue, GetQueueUrl, …: named by queue name, not URL; recorded without
                // a queue so no queue grant can cover them.
                other => (other, None),
            };
            vec![Access { action: format!("sqs:{action}"), resource: queue_name(url), partition: None }]
        }
        "Secrets Manager" => {
            use aws_sdk_secretsmanager::operation as sm;
            let id = input
                .downcast_ref::<sm::get_secret_value::GetSecretValueInput>()
                .and_then(|i| i.secret_id())
                .or_else(|| {
                    input.downcast_ref::<sm::describe_secret::DescribeSecretInput>().and_then(|i| i.secret_id())
                })
                .unwrap_or_default();
            vec![Access {
                action: format!("secretsmanager:{op}"),
                resource: Resource::Secret(id.to_string()),
                partition: None,
            }]
        }
        "SESv2" => {
            use aws_sdk_sesv2::operation as ses;
            let send = input.downcast_ref::<ses::send_email::SendEmailInput>();
            // The identity SES sends as: the sender's domain (what the template grants on).
            let domain = send
                .and_then(|i| i.from_email_address())
                .and_then(|a| a.rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            let identity = Resource::Identity(domain);
            let mut actions = vec![format!("ses:{op}")];
            if send.and_then(|i| i.content()).is_some_and(|c| c.raw().is_some()) {
                actions.push("ses:SendRawEmail".into());
            }
            actions.into_iter().map(|action| Access { action, resource: identity.clone(), partition: None }).collect()
        }
        other => panic!("an AWS service the recorder does not know: {other} ({op})"),
    }
}
