//! The operator CLI (`functions::admin`), run as a function against moto: a table and a
//! secret on the emulator, the command line as the binary gets it, and the printed key
//! checked by signing in with it.

use aws_config::SdkConfig;
use serde_json::json;
use shared::auth::{authenticate, AuthError, Principal};
use shared::aws_secrets;
use shared::config::Secrets;
use shared::domain::account::{AccountStatus, Owner, Surface};
use shared::domain::event::{Event, EventType};
use shared::domain::ids::{random_base62, IdGen};
use shared::store::dynamo::DynamoStore;
use shared::store::{AccountStore, CustomerStore, KeyStore, Outbox};
use tests::T0;

use functions::admin::{self, AdminError, Command, USAGE};

/// A fresh table and secret on moto, and the store and secrets to check the results with.
struct Env {
    sdk: SdkConfig,
    table: String,
    secret_id: String,
    store: DynamoStore,
    secrets: Secrets,
}

impl Env {
    async fn new() -> Option<Self> {
        let sdk = tests::aws::config()?;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("test-{}", random_base62(12));
        DynamoStore::create_table(&ddb, &table).await.expect("create the test table");
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let secret_id = format!("test/{}", random_base62(10));
        assert!(aws_secrets::create_if_missing(&sm, &secret_id).await.unwrap());
        let secrets = aws_secrets::load(&sm, &secret_id).await.unwrap().secrets;
        let store = DynamoStore::new(ddb, table.clone());
        Some(Self { sdk, table, secret_id, store, secrets })
    }

    /// Runs `admin ARGS` with only TABLE_NAME and SECRET_ID set (no queue URLs).
    async fn admin(&self, args: &[&str]) -> Result<String, AdminError> {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let var = |name: &str| match name {
            "TABLE_NAME" => Some(self.table.clone()),
            "SECRET_ID" => Some(self.secret_id.clone()),
            _ => None,
        };
        admin::run(&self.sdk, var, &args, T0).await
    }

    async fn sign_in(&self, surface: Surface, key: &str) -> Result<Principal, AuthError> {
        authenticate(&self.store, &self.secrets.key_hashing, surface, Some(key)).await
    }
}

/// The `id`, `slot` and `key` lines of a command's output.
fn printed(out: &str) -> (String, u8, String) {
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} line in {out:?}"))
            .to_string()
    };
    (field("id"), field("slot").parse().unwrap(), field("key"))
}

#[tokio::test]
async fn create_distributor_prints_a_key_that_signs_in_to_an_active_distributor() {
    let Some(env) = Env::new().await else { return };
    let out = env
        .admin(&["create-distributor", "--company", "Acme Distribution", "--email", "Ops@Acme.example"])
        .await
        .unwrap();
    let (id, slot, key) = printed(&out);
    assert!(id.starts_with("dist_"), "{out}");
    assert_eq!(slot, 1);
    assert!(key.starts_with("dk_live_"), "{out}");
    assert_eq!(out.matches(&key).count(), 1, "the key is printed once");

    match env.sign_in(Surface::Distributor, &key).await.unwrap() {
        Principal::Distributor { distributor, .. } => {
            assert_eq!(distributor.id, id);
            assert_eq!(distributor.status, AccountStatus::Active);
            assert_eq!(distributor.company, "Acme Distribution");
            assert_eq!(distributor.email, "ops@acme.example");
        }
        other => panic!("signed in as {:?}", other.owner()),
    }

    // A second key for the distributor fills slot 2; both work; a third is refused.
    let (id2, slot2, key2) = printed(&env.admin(&["issue-key", "--distributor", &id]).await.unwrap());
    assert_eq!((id2.as_str(), slot2), (id.as_str(), 2));
    assert_ne!(key2, key);
    assert_eq!(env.sign_in(Surface::Distributor, &key2).await.unwrap().owner(), Owner::distributor(&id));
    let third = env.admin(&["issue-key", "--distributor", &id]).await.unwrap_err();
    assert!(third.to_string().contains("already has two keys"), "{third}");
    assert!(env.sign_in(Surface::Distributor, &key).await.is_ok(), "the first key still works");
    let events = env.store.pending_events(10).await.unwrap();
    assert!(
        events.iter().all(|e| e.kind == EventType::Mail),
        "no key.created event for a distributor (only its key-created mail): {events:?}"
    );
}

#[tokio::test]
async fn create_partner_makes_an_active_partner_without_a_distributor_and_issue_key_fills_slot_2_only() {
    let Some(env) = Env::new().await else { return };
    let out = env.admin(&["create-partner", "--company", "Solo MSP", "--email", "it@solo.example"]).await.unwrap();
    let (id, slot, key) = printed(&out);
    assert!(id.starts_with("prt_"), "{out}");
    assert_eq!(slot, 1);
    assert!(key.starts_with("pk_live_"), "{out}");

    let Principal::Partner { partner, .. } = env.sign_in(Surface::Partner, &key).await.unwrap() else {
        panic!("not a partner")
    };
    assert_eq!(partner.id, id);
    assert_eq!(partner.status, AccountStatus::Active);
    assert_eq!(partner.distributor_id, None);
    assert_eq!(partner.plan, "starter", "the default plan");
    assert_eq!(partner.billing, None, "no distributor's billing terms");

    let (id2, slot2, key2) = printed(&env.admin(&["issue-key", "--partner", &id]).await.unwrap());
    assert_eq!((id2.as_str(), slot2), (id.as_str(), 2));
    assert!(key2.starts_with("pk_live_"));
    assert_eq!(env.sign_in(Surface::Partner, &key2).await.unwrap().owner(), Owner::partner(&id));
    // The API's key.created event, for the second key (create-partner's first key has none,
    // as with the API's provisioning).
    let events = env.store.pending_events(10).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].kind, EventType::KeyCreated);
    assert_eq!(events[0].account, Owner::partner(&id));
    assert_eq!(events[0].data["slot"], json!(2));

    let third = env.admin(&["issue-key", "--partner", &id]).await.unwrap_err();
    assert!(matches!(third, AdminError::Provision(_)), "{third:?}");
    assert!(third.to_string().contains("already has two keys"), "{third}");
    assert_eq!(env.store.keys_of(&Owner::partner(&id)).await.unwrap().len(), 2);

    let pro = env
        .admin(&["create-partner", "--company", "Pro MSP", "--email", "it@pro.example", "--plan", "professional"])
        .await
        .unwrap();
    let Principal::Partner { partner, .. } = env.sign_in(Surface::Partner, &printed(&pro).2).await.unwrap() else {
        panic!("not a partner")
    };
    assert_eq!(partner.plan, "professional");
}

#[tokio::test]
async fn unknown_accounts_suspended_partners_and_bad_input_are_clear_errors() {
    let Some(env) = Env::new().await else { return };
    let err = env.admin(&["issue-key", "--partner", "prt_doesnotexist"]).await.unwrap_err();
    assert_eq!(err.to_string(), r#"no partner with id "prt_doesnotexist""#);
    let err = env.admin(&["issue-key", "--distributor", "dist_doesnotexist"]).await.unwrap_err();
    assert_eq!(err.to_string(), r#"no distributor with id "dist_doesnotexist""#);

    let (id, _, key) =
        printed(&env.admin(&["create-partner", "--company", "S", "--email", "s@s.example"]).await.unwrap());
    let ids = IdGen::new();
    let suspended = Event {
        id: ids.time_ordered("evt_", (T0.unix() * 1000) as u64).into(),
        kind: EventType::PartnerSuspended,
        timestamp: T0,
        account: Owner::partner(&id),
        distributor_id: None,
        data: json!({}),
        mail: Vec::new(),
        audit: None,
    };
    assert!(env.store.suspend_partner(&id, T0, &suspended).await.unwrap().changed);
    let err = env.admin(&["issue-key", "--partner", &id]).await.unwrap_err();
    assert!(err.to_string().contains("is suspended"), "{err}");
    // Suspension removed the partner's keys; the refused command added none.
    assert!(env.store.keys_of(&Owner::partner(&id)).await.unwrap().is_empty(), "no key was issued");
    assert!(env.sign_in(Surface::Partner, &key).await.is_err());

    let err =
        env.admin(&["create-partner", "--company", "X", "--email", "x@x.example", "--plan", "gold"]).await.unwrap_err();
    assert!(err.to_string().contains("unknown plan gold"), "{err}");
    let err = env.admin(&["create-distributor", "--company", "X", "--email", "not-an-email"]).await.unwrap_err();
    assert!(err.to_string().contains("not an email address"), "{err}");
}

#[tokio::test]
async fn the_table_and_the_secret_come_from_the_environment() {
    // Checked before any AWS call, so no emulator is needed (nothing listens on port 1).
    let sdk = shared::aws::emulator_config("http://127.0.0.1:1");
    let args = vec!["create-partner".to_string(), "--company=C".into(), "--email=c@c.example".into()];
    let only = |set: &'static [(&'static str, &'static str)]| {
        move |name: &str| set.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    };
    let err = admin::run(&sdk, only(&[("SECRET_ID", "s")]), &args, T0).await.unwrap_err();
    assert_eq!(err.to_string(), "TABLE_NAME is not set");
    let err = admin::run(&sdk, only(&[("TABLE_NAME", "t"), ("SECRET_ID", "")]), &args, T0).await.unwrap_err();
    assert_eq!(err.to_string(), "SECRET_ID is not set");

    // The secret is read from Secrets Manager: a missing one is a configuration error.
    let Some(env) = Env::new().await else { return };
    let var = |name: &str| match name {
        "TABLE_NAME" => Some(env.table.clone()),
        "SECRET_ID" => Some("test/does-not-exist".to_string()),
        _ => None,
    };
    let err = admin::run(&env.sdk, var, &args, T0).await.unwrap_err();
    assert!(matches!(err, AdminError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("test/does-not-exist"), "{err}");
}

#[tokio::test]
async fn bad_arguments_give_the_usage_message() {
    let bad: &[&[&str]] = &[
        &[],
        &["make-coffee"],
        &["create-distributor", "--company", "A"],
        &["create-distributor", "--email", "a@a.example"],
        &["create-distributor", "--company", "A", "--email"],
        &["create-distributor", "--company", "", "--email", "a@a.example"],
        &["create-distributor", "--company", "A", "--email", "a@a.example", "--plan", "starter"],
        &["create-partner", "--company", "A", "--company", "B", "--email", "a@a.example"],
        &["create-partner", "A", "a@a.example"],
        &["issue-key"],
        &["issue-key", "--partner", "prt_1", "--distributor", "dist_1"],
        &["issue-key", "--partner", "dist_1"],
        &["issue-key", "--distributor", "prt_1"],
        &["backfill-list-entries", "--partner", "prt_1"],
    ];
    let sdk = shared::aws::emulator_config("http://127.0.0.1:1");
    for args in bad {
        let err = admin::parse(args).unwrap_err();
        assert!(matches!(err, AdminError::Usage(_)), "{args:?}: {err:?}");
        assert!(err.to_string().ends_with(USAGE), "{args:?}: {err}");
        // The whole run stops there too, before any configuration or AWS call.
        let owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let err = admin::run(&sdk, |_: &str| None, &owned, T0).await.unwrap_err();
        assert!(matches!(err, AdminError::Usage(_)), "{args:?}: {err:?}");
    }

    for help in [&["--help"][..], &["-h"], &["help"], &["issue-key", "--help"]] {
        assert_eq!(admin::parse(help).unwrap(), Command::Help, "{help:?}");
    }
    let owned = vec!["--help".to_string()];
    assert!(admin::run(&sdk, |_: &str| None, &owned, T0).await.unwrap().contains("create-distributor"));

    assert_eq!(
        admin::parse(&["create-partner", "--email=a@a.example", "--company", "A"]).unwrap(),
        Command::CreatePartner { company: "A".into(), email: "a@a.example".into(), plan: "starter".into() }
    );
    assert_eq!(
        admin::parse(&["issue-key", "--distributor", "dist_1"]).unwrap(),
        Command::IssueKey(Owner::distributor("dist_1"))
    );
}

/// `backfill-list-entries` runs on the table and reports what it read and wrote; on a table the
/// current version wrote there is nothing to write (the DynamoDB test of the backfill itself is
/// `dynamo::the_backfill_writes_the_entries_older_versions_did_not`).
#[tokio::test]
async fn backfill_list_entries_reports_its_counts() {
    let Some(env) = Env::new().await else { return };
    env.admin(&["create-partner", "--company", "Solo", "--email", "it@solo.example"]).await.unwrap();
    let out = env.admin(&["backfill-list-entries"]).await.unwrap();
    assert!(out.starts_with("scanned: "), "{out}");
    assert!(out.ends_with("written: 0\n"), "{out}");
}

/// `quarantine` lists what the relay moved aside, with the reason; `--release` puts an event
/// back in the outbox once its cause is fixed.
#[tokio::test]
async fn quarantined_events_are_listed_and_released() {
    let Some(env) = Env::new().await else { return };
    env.admin(&["create-distributor", "--company", "Acme", "--email", "ops@acme.example"]).await.unwrap();
    let events = env.store.pending_events(10).await.unwrap();
    assert!(events.is_empty(), "a distributor records no event");
    let admin_id = env.admin(&["create-partner", "--company", "Solo", "--email", "it@solo.example"]).await.unwrap();
    let (partner, _, _) = printed(&admin_id);
    let event = Event {
        id: IdGen::new().time_ordered("evt_", 1_000).into(),
        kind: EventType::CustomerCreated,
        timestamp: T0,
        account: Owner::partner(&partner),
        distributor_id: None,
        data: json!({ "id": "cust_x" }),
        mail: Vec::new(),
        audit: None,
    };
    env.store
        .create_customer(&tests::stored::customer("cust_x", &partner, "X", &tests::tenant(1)), &event)
        .await
        .unwrap();
    env.store.quarantine_event(event.id.as_str(), "the queue refused it 10 times").await.unwrap();
    let listed = env.admin(&["quarantine"]).await.unwrap();
    assert_eq!(listed, format!("{}\tthe queue refused it 10 times\n", event.id.as_str()));
    assert!(!env.store.pending_events(10).await.unwrap().iter().any(|e| e.id == event.id));

    let released = env.admin(&["quarantine", "--release", event.id.as_str()]).await.unwrap();
    assert_eq!(released, format!("released: {}\n", event.id.as_str()));
    assert!(env.store.pending_events(10).await.unwrap().iter().any(|e| e.id == event.id), "back in the outbox");
    assert_eq!(env.admin(&["quarantine"]).await.unwrap(), "");
    let again = env.admin(&["quarantine", "--release", event.id.as_str()]).await.unwrap_err();
    assert!(again.to_string().contains("no quarantined event"), "{again}");
    assert!(matches!(admin::parse(&["quarantine", "--release", "cust_x"]), Err(AdminError::Usage(_))));
}
