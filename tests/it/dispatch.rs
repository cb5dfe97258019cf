//! The webhook dispatcher and the relay on both adapters (the embedded store, and DynamoDB on
//! moto): an attempt is claimed before it is sent, so two copies of one message make one POST;
//! a redelivery leaves the automatic retries in place; a deleted endpoint's deliveries end
//! without a POST; an event whose fan-out keeps failing is quarantined; the sweep of lost
//! retries does not starve. Each case runs once per
//! adapter, as the store contract suite does.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use shared::compose::{Parts, Service, Tenants};
use shared::config::{Config, Secrets};
use shared::domain::account::Owner;
use shared::domain::ids::IdGen;
use shared::domain::time::{Clock, ManualClock};
use shared::domain::webhook::{Delivery, DeliveryStatus, Endpoint};
use shared::queue::memory::MemoryQueue;
use shared::queue::{Ack, RunMessage};
use shared::store::memory::MemoryStore;
use shared::store::{AttemptClaim, Store};
use shared::webhooks::transport::{Answer, SendError, Transport};
use shared::webhooks::WebhookMessage;
use tests::{Timestamp, T0};
use tokio::sync::oneshot;

/// `on_both_adapters!(case, …)`: each case (an `async fn(Arc<dyn Store>)`) becomes a test on
/// the embedded store and one on DynamoDB (skipped where moto is not running).
macro_rules! on_both_adapters {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(std::sync::Arc::new(super::MemoryStore::new())).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let Some(store) = tests::aws::fresh_dynamo().await else { return };
                    super::$case(std::sync::Arc::new(store)).await;
                }
            )*
        }
    };
}

on_both_adapters!(
    two_copies_of_one_message_make_one_post,
    an_attempt_whose_sender_died_is_sent_after_its_lease,
    a_redelivery_leaves_the_automatic_retries_in_place,
    a_deleted_endpoints_deliveries_end_without_a_post,
    an_event_whose_fan_out_keeps_failing_is_quarantined,
    a_newer_lost_delivery_is_requeued_past_older_stuck_ones,
);

/// A receiver standing in for the transport: counts POSTs, answers from a script (default
/// 200), and can hold the first POST until the test lets it go.
#[derive(Default)]
struct Receiver {
    posts: AtomicUsize,
    /// The `webhook-timestamp` of each POST: when it was sent.
    sent_at: Mutex<Vec<i64>>,
    answers: Mutex<VecDeque<u16>>,
    hold_first: Mutex<Option<oneshot::Receiver<()>>>,
}

impl Receiver {
    fn posts(&self) -> usize {
        self.posts.load(Ordering::SeqCst)
    }

    /// When each POST was sent, in seconds after `T0`.
    fn sent_after_t0(&self) -> Vec<i64> {
        self.sent_at.lock().unwrap().iter().map(|t| t - T0.unix()).collect()
    }

    fn answer(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    /// Holds the next POST until the returned sender is used (or dropped).
    fn hold_next(&self) -> oneshot::Sender<()> {
        let (tx, rx) = oneshot::channel();
        *self.hold_first.lock().unwrap() = Some(rx);
        tx
    }
}

#[async_trait]
impl Transport for Receiver {
    async fn post(&self, _: &str, headers: &[(&'static str, String)], _: &[u8]) -> Result<Answer, SendError> {
        self.posts.fetch_add(1, Ordering::SeqCst);
        let at = headers.iter().find(|(n, _)| *n == "webhook-timestamp").and_then(|(_, v)| v.parse().ok());
        self.sent_at.lock().unwrap().push(at.unwrap_or(-1));
        let held = self.hold_first.lock().unwrap().take();
        if let Some(rx) = held {
            let _ = rx.await;
        }
        let status = self.answers.lock().unwrap().pop_front().unwrap_or(200);
        Ok(Answer { status, body: "ok".into() })
    }
}

/// The service assembled on `store` with a manual clock, in-process queues and the
/// [`Receiver`] as its transport.
struct Rig {
    service: Service,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    queue: Arc<MemoryQueue<WebhookMessage>>,
    receiver: Arc<Receiver>,
    ids: IdGen,
}

impl Rig {
    fn on(store: Arc<dyn Store>) -> Self {
        let clock = Arc::new(ManualClock::at(T0));
        let queue = Arc::new(MemoryQueue::new(clock.clone(), functions::dev_server::WEBHOOKS_VISIBILITY_SECS));
        let receiver = Arc::new(Receiver::default());
        let service = Service::new(Parts {
            config: Config::default(),
            secrets: Secrets::random(),
            store: store.clone(),
            runs: Arc::new(MemoryQueue::<RunMessage>::new(clock.clone(), 120)),
            webhooks: queue.clone(),
            mail_queue: Arc::new(MemoryQueue::<shared::mail::MailJob>::new(clock.clone(), 60)),
            clock: clock.clone(),
            tenants: Tenants::Demo,
            transport: Some(receiver.clone()),
            billing: None,
            mailer: Arc::new(tests::mail::RecordingMailer::new()),
            pdf: None,
        });
        Self { service, store, clock, queue, receiver, ids: IdGen::new() }
    }

    /// An enabled endpoint of a new partner, subscribed to `customer.created`.
    async fn endpoint(&self) -> Endpoint {
        self.endpoint_of(Owner::partner(&self.ids.random("prt_"))).await
    }

    /// An enabled endpoint of `owner`, subscribed to `customer.created`.
    async fn endpoint_of(&self, owner: Owner) -> Endpoint {
        let secret = shared::webhooks::signing::generate_secret();
        let e = Endpoint {
            id: self.ids.random("whk_").into(),
            owner,
            url: "https://hooks.example.com/x".into(),
            events: vec!["customer.created".into()],
            description: None,
            enabled: true,
            secret: shared::webhooks::secrets::encrypt(&self.service.app.secrets.webhook_encryption, &secret),
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: T0,
            updated_at: None,
            version: 1,
        };
        self.store.create_endpoint(&e, 20).await.expect("endpoint");
        e
    }

    /// A pending delivery to `e`, made at `at` and due then, with no attempt yet.
    async fn delivery(&self, e: &Endpoint, at: Timestamp) -> Delivery {
        let d = Delivery {
            id: self.ids.time_ordered("dlv_", (at.unix() * 1000) as u64).into(),
            endpoint_id: e.id.clone(),
            owner: e.owner.clone(),
            event_id: self.ids.time_ordered("evt_", (at.unix() * 1000) as u64).into(),
            event_type: "customer.created".into(),
            payload: r#"{"id":"evt_1","type":"customer.created"}"#.into(),
            status: DeliveryStatus::Pending,
            attempts: vec![],
            created_at: at,
            next_attempt_at: Some(at),
            manual_attempts: 0,
        };
        self.store.create_delivery(&d).await.expect("delivery");
        d
    }

    async fn stored(&self, d: &Delivery) -> Delivery {
        self.store.delivery(&d.endpoint_id, &d.id).await.unwrap().expect("the delivery")
    }

    /// Receives every visible message and processes each with a dispatcher, one after the
    /// other, acknowledging what is done; returns the outcomes.
    async fn work(&self) -> Vec<Ack> {
        let dispatcher = self.service.dispatcher();
        let mut out = Vec::new();
        for r in self.queue.receive(1000) {
            let ack = dispatcher.process(&r.message).await;
            if ack == Ack::Done {
                self.queue.ack(&r.receipt);
            }
            out.push(ack);
        }
        out
    }

    /// Lets the clock run to each message as it becomes visible and processes it, until the
    /// queue is empty (at most `max_steps` steps).
    async fn work_through(&self, max_steps: usize) {
        for _ in 0..max_steps {
            let Some(ms) = self.queue.next_visible_in_ms() else { return };
            self.clock.advance((ms + 999) / 1000);
            self.work().await;
        }
        panic!("the queue did not empty in {max_steps} steps");
    }
}

/// Two relays (the stream's and the schedule's) can each queue a delivery's first attempt, and
/// two dispatchers can hold the copies at once: the attempt is claimed before the POST, so the
/// second dispatcher, arriving while the first is still sending, sends nothing; its copy comes
/// back and is then dropped, since the attempt was made.
async fn two_copies_of_one_message_make_one_post(store: Arc<dyn Store>) {
    let rig = Rig::on(store);
    let e = rig.endpoint().await;
    let d = rig.delivery(&e, T0).await;
    let message = WebhookMessage::next_attempt(&d, T0, false);
    rig.queue.send(message.clone(), 0);
    rig.queue.send(message, 0);
    let copies = rig.queue.receive(10);
    assert_eq!(copies.len(), 2);

    // The first dispatcher is held in its POST while the second handles the other copy.
    let release = rig.receiver.hold_next();
    let (first, second) = (rig.service.dispatcher(), rig.service.dispatcher());
    let m1 = copies[0].message.clone();
    let sending = tokio::spawn(async move { first.process(&m1).await });
    while rig.receiver.posts() == 0 {
        tokio::task::yield_now().await;
    }
    let second_ack = second.process(&copies[1].message).await;
    assert_eq!(rig.receiver.posts(), 1, "the second dispatcher did not POST while the first was sending");
    release.send(()).unwrap();
    assert_eq!(sending.await.unwrap(), Ack::Done);
    rig.queue.ack(&copies[0].receipt);
    if second_ack == Ack::Done {
        rig.queue.ack(&copies[1].receipt);
    }

    // The copy that was put back comes round again and is dropped: the attempt was made.
    rig.clock.advance(3600);
    rig.work().await;
    assert_eq!(rig.receiver.posts(), 1, "one POST in all");
    let after = rig.stored(&d).await;
    assert_eq!((after.status, after.attempts.len()), (DeliveryStatus::Delivered, 1));
    assert!(rig.queue.is_empty(), "nothing left on the queue");
}

/// A dispatcher that claimed an attempt and died before recording it holds it only until its
/// lease runs out: the message comes back (SQS's visibility timeout) and is then sent.
async fn an_attempt_whose_sender_died_is_sent_after_its_lease(store: Arc<dyn Store>) {
    let rig = Rig::on(store);
    let e = rig.endpoint().await;
    let d = rig.delivery(&e, T0).await;
    let lease = shared::webhooks::dispatcher::attempt_lease_secs(Config::default().webhook_timeout_ms);
    assert!(lease < functions::dev_server::WEBHOOKS_VISIBILITY_SECS, "a copy put back returns after the lease");
    // The dead dispatcher's claim.
    let dead = rig.store.claim_attempt(&e.id, &d.id, 1, false, T0, T0 + lease).await.unwrap();
    assert!(matches!(dead, AttemptClaim::Claimed(_)), "{dead:?}");
    rig.queue.send(WebhookMessage::next_attempt(&d, T0, false), 0);
    assert_eq!(rig.work().await, vec![Ack::Retry], "held: put back");
    assert_eq!(rig.receiver.posts(), 0);
    rig.clock.advance(functions::dev_server::WEBHOOKS_VISIBILITY_SECS);
    assert_eq!(rig.work().await, vec![Ack::Done]);
    assert_eq!(rig.receiver.posts(), 1, "sent once the lease ran out");
    assert_eq!(rig.stored(&d).await.status, DeliveryStatus::Delivered);
}

/// The owner redelivers a delivery that is still being retried, and the redelivery fails too:
/// the automatic retries go on as scheduled, all of them (the contract's 1 min, 5 min, 30 min,
/// 2 h, 12 h after the first attempt), with the redelivery as one attempt more.
async fn a_redelivery_leaves_the_automatic_retries_in_place(store: Arc<dyn Store>) {
    let rig = Rig::on(store);
    rig.receiver.answer(&[500; 7]);
    let e = rig.endpoint().await;
    let d = rig.delivery(&e, T0).await;
    rig.queue.send(WebhookMessage::next_attempt(&d, T0, false), 0);
    rig.work().await;
    assert_eq!(rig.stored(&d).await.next_attempt_at, Some(T0 + 60));

    rig.clock.set(T0 + 10);
    let reopened =
        shared::usecases::webhooks::redeliver(rig.store.as_ref(), rig.queue.as_ref(), &e.owner, &e.id, &d.id, T0 + 10)
            .await
            .unwrap();
    assert_eq!(reopened.status, DeliveryStatus::Pending);
    rig.work().await;
    assert_eq!(rig.receiver.sent_after_t0(), vec![0, 10], "the redelivery is sent now");
    let after = rig.stored(&d).await;
    assert_eq!(
        (after.status, after.next_attempt_at),
        (DeliveryStatus::Pending, Some(T0 + 60)),
        "still pending, the next automatic retry still due"
    );

    rig.work_through(200).await;
    assert_eq!(
        rig.receiver.sent_after_t0(),
        vec![0, 10, 60, 360, 2160, 9360, 52560],
        "every automatic retry, on the schedule"
    );
    let done = rig.stored(&d).await;
    assert_eq!((done.status, done.attempts.len()), (DeliveryStatus::Failed, 7));
}

/// Deleting an endpoint leaves its deliveries (the table's TTL removes them); a message still
/// queued for one, or found by the sweep, ends it without a POST, so it leaves the sweep's
/// index of due deliveries. The endpoint is 404 for its owner meanwhile.
async fn a_deleted_endpoints_deliveries_end_without_a_post(store: Arc<dyn Store>) {
    let rig = Rig::on(store);
    let e = rig.endpoint().await;
    let queued = rig.delivery(&e, T0).await;
    let lost = rig.delivery(&e, T0).await;
    rig.queue.send(WebhookMessage::next_attempt(&queued, T0, false), 0);
    let ids = shared::usecases::Ids { gen: &rig.ids, clock: &shared::domain::time::FixedClock(T0), actor: None };
    shared::usecases::webhooks::delete(rig.store.as_ref(), ids, &e.owner, &e.id, T0).await.unwrap();
    let gone = shared::usecases::webhooks::find(rig.store.as_ref(), &e.owner, &e.id).await;
    assert!(matches!(gone, Err(shared::usecases::UseCaseError::NotFound(_))), "{gone:?}");

    assert_eq!(rig.work().await, vec![Ack::Done]);
    // The other's message was lost: the sweep finds it overdue and queues it; it ends too.
    rig.clock.advance(shared::webhooks::relay::LOST_AFTER_SECS + 1);
    assert_eq!(rig.service.relay().sweep(100).await.unwrap(), 1);
    assert_eq!(rig.work().await, vec![Ack::Done]);
    assert_eq!(rig.receiver.posts(), 0, "nothing was sent");
    let now = rig.clock.now();
    assert!(rig.store.due_deliveries(now, 100).await.unwrap().is_empty(), "no delivery of it is due any more");
    for d in [&queued, &lost] {
        if let Some(ended) = rig.store.delivery(&e.id, &d.id).await.unwrap() {
            assert_eq!(ended.status, DeliveryStatus::Failed);
        }
    }
}

/// A webhooks queue that refuses every message.
struct Refuses;

#[async_trait]
impl shared::webhooks::relay::WebhookQueue for Refuses {
    async fn send_webhook(&self, _: &WebhookMessage, _: i64) -> Result<(), shared::queue::QueueError> {
        Err(shared::queue::QueueError::Backend("the queue refuses".into()))
    }
}

/// An event whose fan-out fails on every drain is counted, and after 10 failures over at
/// least an hour it is moved out of the outbox with the reason: it is no longer tried on every
/// drain for ever. Failures within a shorter outage (10 in 10 minutes) do not quarantine it.
async fn an_event_whose_fan_out_keeps_failing_is_quarantined(store: Arc<dyn Store>) {
    use shared::domain::event::EventType;
    let rig = Rig::on(store);
    let email = shared::domain::email::Email::parse("poison@msp.example").unwrap();
    let p = tests::stored::stored_partner(&rig.store, &rig.ids, email, "professional", None).await;
    rig.endpoint_of(Owner::partner(&p.id)).await;
    let customer = tests::stored::customer(&rig.ids.random("cust_"), &p.id, "Contoso", &tests::tenant(1));
    let event = tests::stored::event(&rig.ids, EventType::CustomerCreated, &p.id);
    rig.store.create_customer(&customer, &event).await.unwrap();
    let relay = shared::webhooks::relay::Relay {
        store: rig.store.clone(),
        queue: Arc::new(Refuses),
        mail: Arc::new(MemoryQueue::<shared::mail::MailJob>::new(rig.clock.clone(), 60)),
        clock: rig.clock.clone(),
        ids: Arc::new(IdGen::new()),
        lost_after_secs: shared::webhooks::relay::LOST_AFTER_SECS,
    };
    let pending =
        || async { rig.store.pending_events(100).await.unwrap().into_iter().map(|e| e.id).collect::<Vec<_>>() };
    for _ in 0..10 {
        assert!(relay.drain(100).await.is_err(), "the failure is reported");
        rig.clock.advance(60);
    }
    assert_eq!(pending().await, vec![event.id.clone()], "ten failures in ten minutes: still in the outbox");
    rig.clock.advance(3600);
    assert!(relay.drain(100).await.is_err());
    assert!(pending().await.is_empty(), "failing for over an hour: out of the outbox");
    let kept = rig.store.quarantined_events(10).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].id, event.id.as_str());
    assert!(kept[0].reason.contains("the queue refuses"), "the reason is kept: {}", kept[0].reason);
    assert_eq!(relay.drain(100).await.unwrap(), 0, "the next drain finds nothing to fail on");
    // Once the cause is fixed, the operator releases it: back in the outbox, its failures
    // forgotten, out of the quarantine; releasing it again finds nothing.
    assert!(rig.store.release_quarantined(event.id.as_str()).await.unwrap());
    assert_eq!(pending().await, vec![event.id.clone()], "handed out again");
    assert!(rig.store.quarantined_events(10).await.unwrap().is_empty());
    assert!(!rig.store.release_quarantined(event.id.as_str()).await.unwrap());
    assert_eq!(
        rig.store.event_failed(event.id.as_str(), "again", rig.clock.now()).await.unwrap().map(|f| f.count),
        Some(1),
        "counted from zero"
    );
}

/// The sweep re-queues at most 100 overdue deliveries per run, oldest due first. Deliveries
/// stuck for good (their attempts never get recorded) must not take those places on every run:
/// a newer lost delivery is re-queued by the next sweep, and the stuck ones come round again
/// once they are overdue again.
async fn a_newer_lost_delivery_is_requeued_past_older_stuck_ones(store: Arc<dyn Store>) {
    use shared::webhooks::relay::LOST_AFTER_SECS;
    let rig = Rig::on(store);
    let e = rig.endpoint().await;
    for i in 0..100 {
        rig.delivery(&e, T0 + i).await;
    }
    let newer = rig.delivery(&e, T0 + 500).await;
    let relay = rig.service.relay();
    // Queues the sweep's messages go to, and which deliveries they name; the messages of
    // the stuck ones are lost again (taken off the queue, never processed).
    let swept = || {
        let got: Vec<String> = rig
            .queue
            .receive(1000)
            .into_iter()
            .map(|r| {
                rig.queue.ack(&r.receipt);
                r.message.delivery_id.into_string()
            })
            .collect();
        got
    };
    rig.clock.set(T0 + 500 + LOST_AFTER_SECS + 1);
    assert_eq!(relay.sweep(100).await.unwrap(), 100);
    let first = swept();
    assert!(!first.contains(&newer.id.to_string()), "the 100 oldest first");
    rig.clock.advance(300);
    relay.sweep(100).await.unwrap();
    let second = swept();
    assert!(second.contains(&newer.id.to_string()), "the next sweep reaches the newer one ({} queued)", second.len());
    assert_eq!(second.len(), 1, "and no stuck one before it is overdue again");
    rig.clock.advance(LOST_AFTER_SECS);
    assert_eq!(relay.sweep(100).await.unwrap(), 100, "the stuck ones come round again");
    let third = swept();
    assert_eq!(third.len(), 100);
    assert!(!third.contains(&newer.id.to_string()));
}
