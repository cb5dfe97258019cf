//! NIST Cybersecurity Framework 2.0, mapped onto what a Microsoft 365 tenant shows. Each check
//! names one CSF 2.0 subcategory and the implementation tier (1 Partial, 2 Risk Informed,
//! 3 Repeatable, 4 Adaptive) from which an organisation is expected to have it; a run's
//! maturity target is the tier it is assessed against.

use serde_json::json;

use super::essential_eight as e8;
use super::probes::{self as p, judged, Risk};
use super::{Check, Outcome, Reference, Severity};
use crate::assess::snapshot::{ids, Field as F, TenantSnapshot, WINDOWS_COMPLIANCE_POLICY};

const fn csf(subcategory: &'static str, tier: u8) -> Reference {
    Reference::NistCsf { subcategory, tier }
}

/// Enabled member accounts without a sign-in for this long are stale identities.
const STALE_ACCOUNT_DAYS: i64 = 90;
/// Open high-severity alerts older than this were not triaged.
const ALERT_TRIAGE_DAYS: i64 = 7;

pub static CHECKS: &[Check] = &[
    // ---- Govern -----------------------------------------------------------------------------
    Check {
        id: "NIST-GV-01",
        title: "Security and technical contacts are set for the tenant",
        reference: csf("GV.RR-02", 1),
        severity: Severity::Low,
        rationale: "Microsoft sends security and compliance notices to these addresses; without them nobody is accountable for acting on them.",
        remediation: "Set the technical and security/compliance notification contacts on the organisation (Entra admin center, Properties).",
        reads: &[F::Organization],
        evaluate: contacts,
    },
    Check {
        id: "NIST-GV-02",
        title: "A cybersecurity policy is established and communicated",
        reference: csf("GV.PO-01", 1),
        severity: Severity::Medium,
        rationale: "Policy is the basis for every control below; it lives in documents, not in the tenant.",
        remediation: "Write, approve and publish an information security policy and review it yearly.",
        reads: &[],
        evaluate: |_| Outcome::manual("Policies are documents; review the organisation's approved security policy"),
    },
    Check {
        id: "NIST-GV-03",
        title: "Third-party apps need admin review before they get company data",
        reference: csf("GV.SC-06", 2),
        severity: Severity::Medium,
        rationale: "Letting any user consent to any app hands data to suppliers nobody vetted (illicit consent grants).",
        remediation: "Allow user consent only for verified publishers' low-impact permissions (or not at all) and enable the admin consent workflow.",
        reads: &[F::AuthorizationPolicy],
        evaluate: app_consent,
    },
    Check {
        id: "NIST-GV-04",
        title: "Microsoft Secure Score is at least 50%",
        reference: csf("GV.OV-03", 2),
        severity: Severity::Medium,
        rationale: "Secure Score is the tenant's own measure of control coverage; below half, risk management is not keeping up.",
        remediation: "Work through the Secure Score recommendations and review the score monthly.",
        reads: &[F::SecureScores],
        evaluate: |s| p::secure_score_at_least(s, 50.0),
    },
    Check {
        id: "NIST-GV-05",
        title: "Microsoft Secure Score is at least 80%",
        reference: csf("GV.OV-03", 4),
        severity: Severity::Low,
        rationale: "An adaptive organisation keeps its posture near the maximum and explains the remaining gaps.",
        remediation: "Close or formally accept the remaining Secure Score recommendations.",
        reads: &[F::SecureScores],
        evaluate: |s| p::secure_score_at_least(s, 80.0),
    },
    // ---- Identify ---------------------------------------------------------------------------
    Check {
        id: "NIST-ID-01",
        title: "Windows devices are inventoried in device management",
        reference: csf("ID.AM-01", 2),
        severity: Severity::Medium,
        rationale: "An inventory of hardware is the basis for patching and protection; unmanaged devices are unknown devices.",
        remediation: "Enrol Windows devices in Intune and clean up stale device records.",
        reads: &[F::Devices],
        evaluate: e8::devices_managed,
    },
    Check {
        id: "NIST-ID-02",
        title: "No Windows device runs a release past end of support",
        reference: csf("ID.AM-08", 1),
        severity: Severity::High,
        rationale: "Assets are managed through their life cycle: releases out of support get no fixes.",
        remediation: "Upgrade or replace devices on unsupported releases.",
        reads: p::reads::WINDOWS_FLEET,
        evaluate: e8::supported_windows,
    },
    // ---- Protect ----------------------------------------------------------------------------
    Check {
        id: "NIST-PR-01",
        title: "MFA is enforced for all users",
        reference: csf("PR.AA-03", 1),
        severity: Severity::Critical,
        rationale: "Users must be authenticated with more than a password, which is phished, guessed or reused.",
        remediation: "Require MFA for All users and All cloud apps in Conditional Access (or enable security defaults).",
        reads: p::reads::MFA_POLICY,
        evaluate: |s| judged(p::mfa_for_all_users(s)),
    },
    Check {
        id: "NIST-PR-02",
        title: "Legacy authentication is blocked",
        reference: csf("PR.AA-03", 1),
        severity: Severity::High,
        rationale: "Legacy protocols authenticate with a password only and bypass MFA.",
        remediation: "Block 'Exchange ActiveSync' and 'Other clients' for All users in Conditional Access.",
        reads: p::reads::MFA_POLICY,
        evaluate: |s| judged(p::legacy_auth_blocked(s)),
    },
    Check {
        id: "NIST-PR-03",
        title: "Two to four Global Administrators",
        reference: csf("PR.AA-05", 1),
        severity: Severity::High,
        rationale: "Least privilege: tenant-wide admin rights for a handful of people, but never a single point of failure.",
        remediation: "Keep between two and four Global Administrators (including emergency access accounts); use narrower roles for the rest.",
        reads: p::reads::ROLES,
        evaluate: global_admins_two_to_four,
    },
    Check {
        id: "NIST-PR-04",
        title: "Stale member accounts are disabled",
        reference: csf("PR.AA-01", 2),
        severity: Severity::Medium,
        rationale: "Identities are managed through their life cycle; accounts nobody uses are unmonitored entry points.",
        remediation: "Disable enabled member accounts without a sign-in for 90 days and run access reviews.",
        reads: &[F::Users],
        evaluate: stale_accounts,
    },
    Check {
        id: "NIST-PR-05",
        title: "Managed Windows devices are encrypted",
        reference: csf("PR.DS-01", 2),
        severity: Severity::High,
        rationale: "A lost laptop without BitLocker is a data breach.",
        remediation: "Require BitLocker in a Windows compliance policy and deploy a disk encryption policy.",
        reads: &[F::ManagedDevices],
        evaluate: devices_encrypted,
    },
    Check {
        id: "NIST-PR-06",
        title: "Windows quality updates are installed within one month",
        reference: csf("PR.PS-02", 2),
        severity: Severity::High,
        rationale: "Software is maintained commensurate with risk: an update ring with a deadline makes patching happen.",
        remediation: "Assign an update ring with quality deferral + deadline + grace of 30 days or less.",
        reads: p::reads::INTUNE_PROFILE,
        evaluate: |s| p::rings_within(s, 30),
    },
    Check {
        id: "NIST-PR-07",
        title: "A Windows compliance policy requires encryption and protection",
        reference: csf("PR.PS-01", 2),
        severity: Severity::Medium,
        rationale: "Configuration management needs a baseline devices are measured against, and Conditional Access needs a compliance verdict.",
        remediation: "Assign a Windows compliance policy requiring BitLocker, Secure Boot, firewall and Defender, and mark devices without a policy as not compliant.",
        reads: &[F::ManagedDevices, F::DeviceCompliancePolicies, F::DeviceManagementSettings],
        evaluate: compliance_policy,
    },
    Check {
        id: "NIST-PR-08",
        title: "SharePoint and OneDrive do not allow 'Anyone' links",
        reference: csf("PR.DS-01", 2),
        severity: Severity::Medium,
        rationale: "Anonymous links are forwarded, indexed and never expire: data at rest leaves without authentication.",
        remediation: "Set SharePoint external sharing to 'New and existing guests' or stricter.",
        reads: &[F::SharepointSettings],
        evaluate: no_anyone_links,
    },
    Check {
        id: "NIST-PR-09",
        title: "Microsoft 365 data is backed up",
        reference: csf("PR.DS-11", 2),
        severity: Severity::High,
        rationale: "Backups of data are created, protected and maintained so they can be restored after ransomware or deletion.",
        remediation: "Enable Microsoft 365 Backup for Exchange, SharePoint and OneDrive, or document the third-party backup.",
        reads: &[F::BackupRestore],
        evaluate: e8::m365_backup,
    },
    Check {
        id: "NIST-PR-10",
        title: "Phishing-resistant MFA is required for administrators",
        reference: csf("PR.AA-03", 3),
        severity: Severity::High,
        rationale: "Repeatable protection of privileged access withstands adversary-in-the-middle phishing.",
        remediation: "Require the 'Phishing-resistant MFA' authentication strength for administrator roles.",
        reads: p::reads::CONDITIONAL_ACCESS,
        evaluate: |s| judged(p::phishing_resistant_for_admins(s)),
    },
    Check {
        id: "NIST-PR-11",
        title: "Privileged roles are held just in time",
        reference: csf("PR.AA-05", 3),
        severity: Severity::High,
        rationale: "Least privilege in time as well as scope: standing admin rights are always exposed.",
        remediation: "Make privileged role assignments eligible in PIM; keep only the emergency access accounts permanent.",
        reads: p::reads::JUST_IN_TIME,
        evaluate: e8::just_in_time,
    },
    Check {
        id: "NIST-PR-12",
        title: "Only approved software can run on Windows",
        reference: csf("PR.PS-05", 3),
        severity: Severity::High,
        rationale: "Installation and execution of unauthorised software are prevented.",
        remediation: "Enforce App Control for Business or AppLocker through Intune.",
        reads: &[F::ManagedDevices, F::ConfigurationPolicies, F::DeviceConfigurations],
        evaluate: e8::application_control,
    },
    Check {
        id: "NIST-PR-13",
        title: "Phishing-resistant MFA is required for all users",
        reference: csf("PR.AA-03", 4),
        severity: Severity::Medium,
        rationale: "An adaptive organisation removes phishable factors for everyone.",
        remediation: "Require the 'Phishing-resistant MFA' authentication strength for All users.",
        reads: p::reads::CONDITIONAL_ACCESS,
        evaluate: |s| judged(p::phishing_resistant_for_all(s)),
    },
    // ---- Detect -----------------------------------------------------------------------------
    Check {
        id: "NIST-DE-01",
        title: "The unified audit log is enabled",
        reference: csf("DE.CM-03", 1),
        severity: Severity::High,
        rationale: "Personnel activity is monitored only if it is recorded; the unified audit log is Microsoft 365's record.",
        remediation: "Turn on auditing in Microsoft Purview.",
        reads: &[F::AdminAuditLogConfig],
        evaluate: e8::unified_audit_log,
    },
    Check {
        id: "NIST-DE-02",
        title: "Sign-in logs are retained for at least 30 days",
        reference: csf("DE.AE-03", 2),
        severity: Severity::Medium,
        rationale: "Correlating events needs history; Entra ID Free keeps 7 days of sign-ins.",
        remediation: "License Entra ID P1 and export sign-in logs to a SIEM for longer retention.",
        reads: &[F::SubscribedSkus],
        evaluate: e8::sign_in_logs,
    },
    Check {
        id: "NIST-DE-03",
        title: "Defender Antivirus real-time protection is on and current",
        reference: csf("DE.CM-09", 2),
        severity: Severity::High,
        rationale: "Endpoints and their runtime are monitored for malicious code.",
        remediation: "Enforce real-time protection and investigate devices with overdue security intelligence.",
        reads: &[F::ManagedDevices],
        evaluate: realtime_protection,
    },
    Check {
        id: "NIST-DE-04",
        title: "Risky sign-ins and risky users trigger Conditional Access",
        reference: csf("DE.AE-02", 3),
        severity: Severity::Medium,
        rationale: "Adverse events are analysed and acted on automatically: Identity Protection's risk detections should challenge or block.",
        remediation: "Create Conditional Access policies for high user risk (secure password change) and high sign-in risk (MFA).",
        reads: p::reads::CONDITIONAL_ACCESS,
        evaluate: risk_policies,
    },
    // ---- Respond ----------------------------------------------------------------------------
    Check {
        id: "NIST-RS-01",
        title: "An incident response plan exists and is exercised",
        reference: csf("RS.MA-01", 1),
        severity: Severity::Medium,
        rationale: "The plan is executed with third parties once an incident is declared; it is a document and a practice, not a setting.",
        remediation: "Maintain an incident response plan with Microsoft 365 playbooks and exercise it yearly.",
        reads: &[],
        evaluate: |_| Outcome::manual("Incident response plans are documents; review the plan and its last exercise"),
    },
    Check {
        id: "NIST-RS-02",
        title: "No user is left at high risk",
        reference: csf("RS.MI-01", 2),
        severity: Severity::High,
        rationale: "A user Identity Protection flags at high risk is a probable compromise that has not been contained.",
        remediation: "Investigate the listed users, reset credentials and revoke sessions, then remediate or dismiss the risk.",
        reads: &[F::RiskyUsers],
        evaluate: risky_users,
    },
    Check {
        id: "NIST-RS-03",
        title: "High-severity security alerts are triaged within a week",
        reference: csf("RS.MA-02", 3),
        severity: Severity::Medium,
        rationale: "Incident reports are triaged and validated; a high alert left 'new' for a week was never looked at.",
        remediation: "Assign an owner to Defender XDR alerts and triage high-severity ones within a day.",
        reads: &[F::Alerts],
        evaluate: alert_triage,
    },
    // ---- Recover ----------------------------------------------------------------------------
    Check {
        id: "NIST-RC-01",
        title: "Restore points cannot be altered (immutable backup)",
        reference: csf("RC.RP-03", 2),
        severity: Severity::Medium,
        rationale: "The integrity of backups is verified before restoring; immutable restore points cannot have been tampered with.",
        remediation: "Use Microsoft 365 Backup or an immutable third-party backup.",
        reads: &[F::BackupRestore],
        evaluate: e8::immutable_backup,
    },
    Check {
        id: "NIST-RC-02",
        title: "The recovery plan is executed and tested",
        reference: csf("RC.RP-01", 1),
        severity: Severity::Medium,
        rationale: "Recovery is a practised process; Graph shows no trace of it.",
        remediation: "Document recovery procedures for Microsoft 365 data and test a restore at least yearly.",
        reads: &[],
        evaluate: |_| Outcome::manual("Recovery plans and tests are not visible in Graph; review the plan and test records"),
    },
];

fn contacts(s: &TenantSnapshot) -> Outcome {
    let o = &s.organization;
    let ok = !o.security_compliance_notification_mails.is_empty() && !o.technical_notification_mails.is_empty();
    Outcome::judge(
        ok,
        if ok {
            "Security/compliance and technical notification contacts are set"
        } else {
            "Security/compliance or technical notification contacts are missing"
        },
    )
    .with_details(json!({
        "securityComplianceNotificationMails": o.security_compliance_notification_mails,
        "technicalNotificationMails": o.technical_notification_mails,
    }))
}

fn app_consent(s: &TenantSnapshot) -> Outcome {
    let Some(policy) = &s.authorization_policy else {
        return Outcome::manual("The authorization policy could not be read");
    };
    let grants = &policy.default_user_role_permissions.permission_grant_policies_assigned;
    let open = grants.iter().any(|g| g.starts_with("ManagePermissionGrantsForSelf.") && !g.ends_with("-low"));
    let workflow = s.admin_consent_request_policy.as_ref().is_some_and(|w| w.is_enabled);
    Outcome::judge(
        !open,
        match (open, workflow) {
            (true, _) => "Users can consent to any app's access to company data".to_string(),
            (false, true) => "User consent is limited and the admin consent workflow is on".to_string(),
            (false, false) => "User consent is limited (the admin consent workflow is off)".to_string(),
        },
    )
    .with_details(json!({ "permissionGrantPoliciesAssigned": grants }))
}

/// Between two and four Global Administrators (shared with CIS 1.1.3).
pub(crate) fn global_admins_two_to_four(s: &TenantSnapshot) -> Outcome {
    let admins = p::role_holders(s, &[ids::GLOBAL_ADMINISTRATOR]);
    let names: Vec<String> = admins.iter().map(|id| p::principal_name(s, id)).collect();
    Outcome::judge(
        (2..=4).contains(&admins.len()),
        format!("{} Global Administrator(s), active or eligible (two to four expected)", admins.len()),
    )
    .with_details(json!({ "globalAdministrators": names }))
}

fn stale_accounts(s: &TenantSnapshot) -> Outcome {
    let members: Vec<_> = s
        .users
        .iter()
        .filter(|u| {
            u.account_enabled != Some(false) && !u.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("guest"))
        })
        .collect();
    if members.is_empty() || members.iter().all(|u| u.sign_in_activity.is_none()) {
        return Outcome::manual("Sign-in activity was not available (it needs Entra ID P1)");
    }
    let stale: Vec<&str> = members
        .iter()
        .filter(|u| {
            // A new account that has not signed in yet is not stale.
            let last = u.sign_in_activity.as_ref().and_then(|a| a.last_sign_in_date_time.as_deref());
            let age = p::days_before_collection(s, last.or(u.created_date_time.as_deref()));
            age.is_none_or(|d| d > STALE_ACCOUNT_DAYS)
        })
        .map(|u| u.user_principal_name.as_str())
        .collect();
    Outcome::judge(
        stale.is_empty(),
        format!(
            "{} of {} enabled member account(s) have not signed in for {STALE_ACCOUNT_DAYS} days",
            stale.len(),
            members.len()
        ),
    )
    .with_details(json!({ "staleAccounts": stale }))
}

fn devices_encrypted(s: &TenantSnapshot) -> Outcome {
    let devices = match p::require_intune_windows(s) {
        Ok(d) => d,
        Err(manual) => return manual,
    };
    let clear: Vec<&str> =
        devices.iter().filter(|d| d.is_encrypted != Some(true)).map(|d| d.device_name.as_str()).collect();
    Outcome::judge(
        clear.is_empty(),
        format!("{} of {} managed Windows device(s) are not encrypted", clear.len(), devices.len()),
    )
    .with_details(json!({ "unencryptedDevices": clear }))
}

fn compliance_policy(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    let policies: Vec<_> = s
        .device_compliance_policies
        .iter()
        .filter(|c| c.odata_type == WINDOWS_COMPLIANCE_POLICY && p::is_assigned(&c.assignments))
        .collect();
    let strong = policies.iter().any(|c| {
        c.bit_locker_enabled == Some(true)
            && c.secure_boot_enabled == Some(true)
            && c.active_firewall_required == Some(true)
            && (c.defender_enabled == Some(true) || c.antivirus_required == Some(true))
    });
    let default_noncompliant = s.device_management_settings.as_ref().and_then(|d| d.secure_by_default) == Some(true);
    Outcome::judge(
        strong && default_noncompliant,
        match (policies.is_empty(), strong, default_noncompliant) {
            (true, _, _) => "No Windows compliance policy is assigned".to_string(),
            (false, false, _) => "No assigned Windows compliance policy requires BitLocker, Secure Boot, firewall and antivirus together".to_string(),
            (false, true, false) => "Devices without a compliance policy are treated as compliant".to_string(),
            (false, true, true) => "An assigned Windows compliance policy requires BitLocker, Secure Boot, firewall and antivirus; devices without a policy are not compliant".to_string(),
        },
    )
}

/// No "Anyone" links in SharePoint/OneDrive (shared with CIS 7.2.3).
pub(crate) fn no_anyone_links(s: &TenantSnapshot) -> Outcome {
    match s.sharepoint_settings.as_ref().and_then(|x| x.sharing_capability.as_deref()) {
        None => Outcome::manual("SharePoint tenant settings could not be read"),
        Some(cap) => {
            Outcome::judge(cap != "externalUserAndGuestSharing", format!("SharePoint external sharing is '{cap}'"))
        }
    }
}

fn realtime_protection(s: &TenantSnapshot) -> Outcome {
    let reporting = match p::protection_states(s) {
        Ok(r) => r,
        Err(manual) => return manual,
    };
    let weak: Vec<&str> = reporting
        .iter()
        .filter(|(_, w)| w.real_time_protection_enabled != Some(true) || w.signature_update_overdue == Some(true))
        .map(|(d, _)| d.device_name.as_str())
        .collect();
    Outcome::judge(
        weak.is_empty(),
        format!(
            "{} of {} reporting Windows device(s) lack real-time protection or current signatures",
            weak.len(),
            reporting.len()
        ),
    )
    .with_details(json!({ "devices": weak }))
}

fn risk_policies(s: &TenantSnapshot) -> Outcome {
    let user = p::risk_policy(s, Risk::User);
    let sign_in = p::risk_policy(s, Risk::SignIn);
    let mut why = Vec::new();
    for r in [&user, &sign_in] {
        match r {
            Ok(w) | Err(w) => why.push(w.clone()),
        }
    }
    if !p::has_plan(s, ids::PLAN_ENTRA_P2) && (user.is_err() || sign_in.is_err()) {
        why.push("Risk-based Conditional Access needs Entra ID P2, which is not licensed".into());
    }
    Outcome::judge(user.is_ok() && sign_in.is_ok(), why.join("; "))
}

fn risky_users(s: &TenantSnapshot) -> Outcome {
    let Some(users) = &s.risky_users else {
        return Outcome::manual("Risky users could not be read (Identity Protection needs Entra ID P1/P2)");
    };
    let open: Vec<&str> = users
        .iter()
        .filter(|u| u.risk_level == "high" && matches!(u.risk_state.as_str(), "atRisk" | "confirmedCompromised"))
        .map(|u| u.user_principal_name.as_str())
        .collect();
    Outcome::judge(open.is_empty(), format!("{} user(s) at high risk not remediated", open.len()))
        .with_details(json!({ "highRiskUsers": open }))
}

fn alert_triage(s: &TenantSnapshot) -> Outcome {
    let Some(alerts) = &s.alerts else {
        return Outcome::manual("Security alerts could not be read");
    };
    let untriaged: Vec<&str> = alerts
        .iter()
        .filter(|a| {
            a.severity == "high"
                && a.status == "new"
                && p::days_before_collection(s, a.created_date_time.as_deref()).is_some_and(|d| d > ALERT_TRIAGE_DAYS)
        })
        .map(|a| a.title.as_str())
        .collect();
    Outcome::judge(
        untriaged.is_empty(),
        format!("{} high-severity alert(s) still new after {ALERT_TRIAGE_DAYS} days", untriaged.len()),
    )
    .with_details(json!({ "untriagedAlerts": untriaged }))
}
