//! The domain's parsed values: each can only be had by parsing, and reads and writes as the
//! plain string (or number) it replaced.

use serde_json::json;
use shared::domain::account::Surface;
use shared::domain::api_key::ApiKey;
use shared::domain::email::Email;
use shared::domain::idempotency_key::IdempotencyKey;
use shared::domain::run::{CheckStatus, Finding, Severity};
use shared::domain::tenant::TenantId;

const GUID: &str = "d4f5a678-1234-5678-9abc-def012345678";

#[test]
fn a_tenant_id_is_a_guid_kept_lower_case_without_braces() {
    assert_eq!(TenantId::parse(GUID).unwrap().as_str(), GUID);
    assert_eq!(TenantId::parse("{D4F5A678-1234-5678-9ABC-DEF012345678}").unwrap(), GUID);
    for bad in [
        "",
        "nope",
        "d4f5a678-1234-5678-9abc-def01234567",
        "d4f5a678-1234-5678-9abc-def0123456789",
        "d4f5a678123456789abcdef012345678",
        "g4f5a678-1234-5678-9abc-def012345678",
        " d4f5a678-1234-5678-9abc-def012345678",
        "{d4f5a678-1234-5678-9abc-def012345678",
    ] {
        assert!(TenantId::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn a_tenant_id_serialises_as_its_string_and_is_checked_when_read() {
    let t = TenantId::parse(GUID).unwrap();
    assert_eq!(serde_json::to_value(&t).unwrap(), json!(GUID));
    assert_eq!(t.to_string(), GUID);
    let read: TenantId = serde_json::from_value(json!("D4F5A678-1234-5678-9ABC-DEF012345678")).unwrap();
    assert_eq!(read, t);
    assert!(serde_json::from_value::<TenantId>(json!("not-a-guid")).is_err());
}

#[test]
fn an_email_is_checked_and_keeps_its_case() {
    let e = Email::parse("CISO@Contoso.com").unwrap();
    assert_eq!(e.as_str(), "CISO@Contoso.com");
    assert_eq!(e.lowercased(), "ciso@contoso.com");
    assert!(e.eq_ignore_ascii_case(&Email::parse("ciso@contoso.COM").unwrap()));
    for good in ["a@b.co", "first.last+tag@sub.example.org", "x@xn--bcher-kva.example"] {
        assert!(Email::parse(good).is_ok(), "{good:?}");
    }
    let long_local = format!("{}@example.com", "a".repeat(65));
    let too_long = format!("a@{}.com", "b".repeat(260));
    for bad in [
        "",
        "nope",
        "@example.com",
        "a@b",
        "a@@b.com",
        "a b@c.com",
        " a@b.com",
        "a@-b.com",
        "a@b-.com",
        "a@b..com",
        "a@b_c.com",
        long_local.as_str(),
        too_long.as_str(),
    ] {
        assert!(Email::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(Email::parse("nope").unwrap_err().to_string(), "not an email address: nope");
}

#[test]
fn an_email_serialises_as_its_string_and_is_checked_when_read() {
    let e = Email::parse("It@Contoso.com").unwrap();
    assert_eq!(serde_json::to_value(&e).unwrap(), json!("It@Contoso.com"));
    assert_eq!(serde_json::from_value::<Email>(json!("It@Contoso.com")).unwrap(), e);
    assert!(serde_json::from_value::<Email>(json!("bad")).is_err());
}

#[test]
fn an_api_key_is_its_surface_prefix_and_32_to_128_base62_characters() {
    let body = "a".repeat(32);
    let key = ApiKey::parse(Surface::Partner, &format!("pk_live_{body}")).unwrap();
    assert_eq!(key.surface(), Surface::Partner);
    assert_eq!(key.expose(), format!("pk_live_{body}"));
    assert!(ApiKey::parse(Surface::Distributor, &format!("dk_live_{}", "Z9".repeat(64))).is_ok());
    for bad in [
        String::new(),
        format!("pk_live_{}", "a".repeat(31)),
        format!("pk_live_{}", "a".repeat(129)),
        format!("pk_live_{}-", "a".repeat(32)),
        format!("dk_live_{body}"),
        format!(" pk_live_{body}"),
        format!("PK_LIVE_{body}"),
    ] {
        assert!(ApiKey::parse(Surface::Partner, &bad).is_err(), "{bad:?}");
    }
}

#[test]
fn an_api_key_never_shows_its_secret_in_debug() {
    let key = ApiKey::generate(Surface::Distributor);
    assert!(key.expose().starts_with("dk_live_") && key.expose().len() == 48);
    assert_eq!(ApiKey::parse(Surface::Distributor, key.expose()).unwrap(), key);
    let shown = format!("{key:?} {:?}", Some(&key));
    assert!(!shown.contains(&key.expose()[8..]), "{shown}");
    assert_eq!(format!("{key:?}"), "ApiKey(dk_live_…)");
}

#[test]
fn the_fixed_key_check_and_authentication_share_the_rule_but_keep_their_words() {
    let err =
        shared::usecases::accounts::check_fixed_key(Surface::Partner, "pk_live_short", "DEV_PARTNER_KEY").unwrap_err();
    assert_eq!(err.to_string(), "DEV_PARTNER_KEY must be pk_live_ followed by 32 to 128 letters and digits");
    let ok = format!("pk_live_{}", "b".repeat(40));
    assert_eq!(shared::usecases::accounts::check_fixed_key(Surface::Partner, &ok, "X").unwrap().expose(), ok);
}

#[test]
fn an_idempotency_key_is_1_to_255_characters() {
    assert_eq!(IdempotencyKey::parse("k").unwrap(), "k");
    assert!(IdempotencyKey::parse(&"x".repeat(255)).is_ok());
    assert!(IdempotencyKey::parse("").is_err());
    assert!(IdempotencyKey::parse(&"x".repeat(256)).is_err());
    assert_eq!(IdempotencyKey::parse("").unwrap_err().to_string(), "Idempotency-Key must be 1 to 255 characters.");
}

#[test]
fn severity_and_check_status_read_and_write_the_engine_strings() {
    for (s, text) in [
        (Severity::Critical, "critical"),
        (Severity::High, "high"),
        (Severity::Medium, "medium"),
        (Severity::Low, "low"),
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(text));
        assert_eq!(serde_json::from_value::<Severity>(json!(text)).unwrap(), s);
        assert_eq!(Severity::parse(text), Some(s));
        assert_eq!(s.to_string(), text);
    }
    for (s, text) in [
        (CheckStatus::Pass, "pass"),
        (CheckStatus::Fail, "fail"),
        (CheckStatus::Manual, "manual"),
        (CheckStatus::NotApplicable, "not-applicable"),
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), json!(text));
        assert_eq!(serde_json::from_value::<CheckStatus>(json!(text)).unwrap(), s);
        assert_eq!(CheckStatus::parse(text), Some(s));
        assert_eq!(s, text);
    }
    assert_eq!(Severity::parse("CRITICAL"), None);
    assert_eq!(CheckStatus::parse("not_applicable"), None);
    // The engine's enums are these very types.
    let _: shared::assess::Severity = Severity::High;
    let _: shared::assess::Status = CheckStatus::Manual;
}

#[test]
fn a_finding_reads_and_writes_the_json_it_always_had() {
    let text = json!({
        "checkId": "E8-MFA-01",
        "title": "MFA",
        "severity": "critical",
        "outcome": "not-applicable",
        "evidence": "e",
        "rationale": "r",
        "remediation": "m",
        "references": [{ "framework": "essential-eight", "id": "mfa", "level": 1 }]
    });
    let f: Finding = serde_json::from_value(text.clone()).unwrap();
    assert_eq!((f.severity, f.outcome), (Severity::Critical, CheckStatus::NotApplicable));
    assert_eq!(serde_json::to_value(&f).unwrap(), text);
}

#[test]
fn a_timestamp_is_unix_seconds_written_as_the_bare_number() {
    use shared::domain::time::{Clock, ManualClock, Month, Timestamp};
    let t = Timestamp::from_unix(1_775_210_400);
    assert_eq!(serde_json::to_value(t).unwrap(), json!(1_775_210_400));
    assert_eq!(serde_json::from_value::<Timestamp>(json!(1_775_210_400)).unwrap(), t);
    assert_eq!(t.rfc3339(), "2026-04-03T10:00:00Z");
    assert_eq!(shared::domain::time::rfc3339(t), t.rfc3339(), "the free function takes a Timestamp too");
    assert_eq!(shared::domain::time::rfc3339(1_775_210_400), t.rfc3339(), "or unix seconds");
    assert_eq!(t + 60 - t, 60, "adding seconds, and the seconds between");
    assert_eq!(t.plus_secs(60).unix(), 1_775_210_460);
    assert_eq!(t.minus_secs(60).secs_since(t), -60);
    assert!(t < t.plus_secs(1) && Timestamp::EPOCH < t);
    assert_eq!(Month::of(t), Month::of(1_775_210_400), "the same month from either");
    assert_eq!(Month::of(t).to_string(), "2026-04");
    assert_eq!(Month::of(t).start().rfc3339(), "2026-04-01T00:00:00Z");
    assert_eq!(t.day_start().rfc3339(), "2026-04-03T00:00:00Z");
    assert_eq!(Timestamp::from_unix(1_769_817_600).add_months(1).rfc3339(), "2026-02-28T00:00:00Z");
    assert_eq!(Timestamp::from_unix_ms(-1), Timestamp::from_unix(-1));
    let clock = ManualClock::at(1_775_210_400);
    assert_eq!(clock.now(), t);
    assert_eq!(clock.now().unix() * 1000, clock.now_ms());
    // Inside a JSON body (or an item), a Timestamp is what the i64 was.
    assert_eq!(serde_json::to_string(&json!({ "at": t })).unwrap(), r#"{"at":1775210400}"#);
}
