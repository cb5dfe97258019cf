//! The typed ids of `domain::ids`: the bare string on the wire and in storage, new ids with
//! their kind's prefix in creation order, and any text kept as read back.

use std::collections::HashSet;

use serde_json::json;
use shared::domain::ids::{
    kind, prefix, CustomerId, DeliveryId, DistributorId, EndpointId, EventId, Id, IdGen, IdKind, PartnerId, RunId,
};
use shared::domain::time::ManualClock;
use shared::usecases::Ids;
use tests::T0;

const MS: u64 = 1_780_000_000_000;

#[test]
fn an_id_serialises_as_the_bare_string_and_reads_back_from_it() {
    let id = CustomerId::from_stored("cust_0ABCdef".into());
    assert_eq!(serde_json::to_string(&id).unwrap(), r#""cust_0ABCdef""#);
    assert_eq!(serde_json::to_value(&id).unwrap(), json!("cust_0ABCdef"));
    let back: CustomerId = serde_json::from_str(r#""cust_0ABCdef""#).unwrap();
    assert_eq!(back, id);

    let some: Option<DistributorId> = Some("dist_1".into());
    assert_eq!(serde_json::to_value(&some).unwrap(), json!("dist_1"));
    let none: Option<DistributorId> = None;
    assert_eq!(serde_json::to_value(&none).unwrap(), json!(null));

    // Anything but a string is refused, as it was for a `String` field.
    assert!(serde_json::from_value::<RunId>(json!(7)).is_err());
    assert!(serde_json::from_value::<RunId>(json!({ "id": "run_1" })).is_err());
}

#[test]
fn a_new_id_starts_with_its_kinds_prefix() {
    let ids = IdGen::new();
    fn check<K: IdKind>(id: Id<K>, want: &str) {
        assert_eq!(K::PREFIX, want);
        assert!(id.starts_with(want), "{id} should start with {want}");
        assert!(id.has_prefix());
        // prefix + 8 (milliseconds) + 3 (sequence) + 9 (random), all base62 after the prefix.
        assert_eq!(id.len(), want.len() + 20, "{id}");
        assert!(id[want.len()..].bytes().all(|b| b.is_ascii_alphanumeric()), "{id}");
    }
    check(DistributorId::new(&ids, MS), "dist_");
    check(PartnerId::new(&ids, MS), "prt_");
    check(ids.new_id::<kind::Customer>(MS), "cust_");
    check(ids.new_id::<kind::Run>(MS), "run_");
    check(ids.new_id::<kind::Event>(MS), "evt_");
    check(ids.new_id::<kind::Endpoint>(MS), "whk_");
    check(ids.new_id::<kind::Delivery>(MS), "dlv_");
    assert_eq!(kind::Request::PREFIX, "req_");
}

#[test]
fn the_text_prefixes_are_the_kinds_and_all_differ() {
    assert_eq!(prefix::DISTRIBUTOR, kind::Distributor::PREFIX);
    assert_eq!(prefix::PARTNER, kind::Partner::PREFIX);
    assert_eq!(prefix::CUSTOMER, kind::Customer::PREFIX);
    assert_eq!(prefix::RUN, kind::Run::PREFIX);
    assert_eq!(prefix::EVENT, kind::Event::PREFIX);
    assert_eq!(prefix::ENDPOINT, kind::Endpoint::PREFIX);
    assert_eq!(prefix::DELIVERY, kind::Delivery::PREFIX);
    assert_eq!(prefix::REQUEST, kind::Request::PREFIX);
    let all = [
        prefix::DISTRIBUTOR,
        prefix::PARTNER,
        prefix::CUSTOMER,
        prefix::RUN,
        prefix::EVENT,
        prefix::ENDPOINT,
        prefix::DELIVERY,
        prefix::REQUEST,
    ];
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
    let names = [
        kind::Distributor::NAME,
        kind::Partner::NAME,
        kind::Customer::NAME,
        kind::Run::NAME,
        kind::Event::NAME,
        kind::Endpoint::NAME,
        kind::Delivery::NAME,
        kind::Request::NAME,
    ];
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
}

#[test]
fn ids_made_in_sequence_sort_in_creation_order() {
    let ids = IdGen::new();
    // The same millisecond (a clock standing still), then later ones, then an earlier one
    // (a clock stepping back): each id sorts after the one made before it.
    let times = [MS, MS, MS, MS + 1, MS + 1000, MS + 86_400_000, MS + 5, MS + 86_400_000];
    let made: Vec<RunId> = times.iter().map(|&ms| RunId::new(&ids, ms)).collect();
    let mut sorted = made.clone();
    sorted.sort();
    assert_eq!(sorted, made);
    assert!(made.windows(2).all(|w| w[0] < w[1]), "{made:?}");
    assert!(made.windows(2).all(|w| w[0].as_str() < w[1].as_str()), "text order is the same");
}

#[test]
fn the_use_cases_ids_make_time_ordered_ids_from_their_clock() {
    let gen = IdGen::new();
    let clock = ManualClock::at(T0);
    let ids = Ids { gen: &gen, clock: &clock, actor: None };
    let a: EventId = ids.new_id();
    let b: EventId = ids.new_id();
    clock.advance(1);
    let c: EventId = ids.new_id();
    assert!(a.starts_with("evt_") && b.starts_with("evt_") && c.starts_with("evt_"));
    assert!(a < b && b < c, "{a} {b} {c}");
    let e: EndpointId = ids.new_id();
    assert!(e.starts_with("whk_"), "{e}");
}

#[test]
fn an_id_read_back_keeps_any_text() {
    for text in ["cust_0ABCdef", "not-ours", "", "whk_other_kind", "cust_ with space/and%2F", "ünïcode"] {
        let id = CustomerId::from_stored(text.to_string());
        assert_eq!(id.as_str(), text);
        assert_eq!(id.to_string(), text);
        assert_eq!(&*id, text);
        assert_eq!(id.clone().into_string(), text);
        assert_eq!(CustomerId::from(text), id);
        assert_eq!(CustomerId::from(text.to_string()), id);
        let back: CustomerId = serde_json::from_value(json!(text)).unwrap();
        assert_eq!(back, id);
        assert_eq!(serde_json::to_value(&id).unwrap(), json!(text));
    }
    assert!(!CustomerId::from("run_1").has_prefix());
    assert!(!DeliveryId::from("").has_prefix());
}

#[test]
fn an_id_compares_with_plain_text_either_way_round() {
    let id = PartnerId::from("prt_1");
    let text = String::from("prt_1");
    assert!(id == "prt_1");
    assert!(id == *"prt_1");
    assert!(id == text);
    assert!("prt_1" == id);
    assert!(*"prt_1" == id);
    assert!(text == id);
    assert!(json!("prt_1") == id);
    assert!(id != "prt_2");
    assert!("prt_2" != id);
    assert!(json!(1) != id);
    assert_eq!(format!("{id:?}"), r#""prt_1""#, "Debug is the string's");

    // Hashing is the text's: a set of ids answers a lookup by `&str`.
    let set: HashSet<PartnerId> = [id.clone()].into();
    assert!(set.contains("prt_1"));
    assert!(!set.contains("prt_2"));
}
