//! Webhooks: signing, endpoint rules, the SSRF guard, delivery and its retry schedule.
//!
//! Events wait in the store's outbox (written with the change that caused them); the relay
//! fans each out to the subscribed endpoints as deliveries and queues their first attempt;
//! the dispatcher makes each attempt and queues the next after a failure, with SQS delays
//! (chained past 15 minutes). A sweep re-queues deliveries whose next attempt was lost.

pub mod dispatcher;
pub mod guard;
pub mod relay;
pub mod schedule;
pub mod secrets;
pub mod signing;
pub mod transport;

/// A message on the webhooks queue: one attempt of one delivery.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMessage {
    pub owner: crate::domain::account::Owner,
    pub endpoint_id: crate::domain::ids::EndpointId,
    pub delivery_id: crate::domain::ids::DeliveryId,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Not to be attempted before this (serialised as unix seconds): SQS delays stop at 15
    /// minutes, so a longer wait is several hops.
    pub not_before: crate::domain::time::Timestamp,
    /// A redelivery asked for by the owner: one attempt outside the retry schedule, no
    /// retries of its own.
    #[serde(default)]
    pub manual: bool,
}

impl WebhookMessage {
    /// The next attempt of `delivery` (the one after those it records), due at `now`; `manual`
    /// for an owner's redelivery.
    pub fn next_attempt(
        delivery: &crate::domain::webhook::Delivery,
        now: crate::domain::time::Timestamp,
        manual: bool,
    ) -> Self {
        Self {
            owner: delivery.owner.clone(),
            endpoint_id: delivery.endpoint_id.clone(),
            delivery_id: delivery.id.clone(),
            attempt: delivery.next_attempt_number(),
            not_before: now,
            manual,
        }
    }
}
