//! CIS Microsoft 365 Foundations Benchmark (v4.0.0): the automated recommendations whose
//! evidence is in Graph (or the Exchange audit settings). Each check carries the
//! recommendation number and its profile level; a level-1 run counts level-1
//! recommendations, a level-2 run both.

use serde_json::json;

use super::essential_eight as e8;
use super::nist_csf as nist;
use super::probes::{self as p, judged, Risk};
use super::{Check, Outcome, Reference, Severity};
use crate::assess::snapshot::{ids, ConditionalAccessPolicy, Field as F, TenantSnapshot};

const fn cis(recommendation: &'static str, level: u8) -> Reference {
    Reference::CisM365 { recommendation, level }
}

/// CIS 5.2.2.4: administrators re-authenticate at least every four hours.
const ADMIN_SIGN_IN_FREQUENCY_HOURS: u32 = 4;

pub static CHECKS: &[Check] = &[
    Check {
        id: "CIS-1.1.1",
        title: "Administrative accounts are cloud-only",
        reference: cis("1.1.1", 1),
        severity: Severity::High,
        rationale: "A synchronised admin account falls with the on-premises directory; cloud-only admins keep a compromise of AD from becoming a compromise of Microsoft 365.",
        remediation: "Create cloud-only (onmicrosoft.com or unsynchronised) accounts for administrators and remove roles from synchronised accounts.",
        reads: p::reads::ADMIN_ACCOUNTS,
        evaluate: cloud_only_admins,
    },
    Check {
        id: "CIS-1.1.3",
        title: "Between two and four Global Administrators are designated",
        reference: cis("1.1.3", 1),
        severity: Severity::High,
        rationale: "One Global Administrator is a single point of failure; more than four is more tenant-wide power than is needed.",
        remediation: "Keep two to four Global Administrators and move other admins to least-privileged roles.",
        reads: p::reads::ROLES,
        evaluate: nist::global_admins_two_to_four,
    },
    Check {
        id: "CIS-1.1.4",
        title: "Administrative accounts use licences with a reduced application footprint",
        reference: cis("1.1.4", 1),
        severity: Severity::Medium,
        rationale: "An admin account with a mailbox and Office apps is exposed to phishing and malicious attachments.",
        remediation: "Remove productivity licences (Exchange Online in particular) from administrative accounts; use Entra ID P1/P2-only licences.",
        reads: p::reads::ADMIN_ACCOUNTS,
        evaluate: e8::dedicated_admins,
    },
    Check {
        id: "CIS-3.1.1",
        title: "Microsoft 365 audit log search is enabled",
        reference: cis("3.1.1", 1),
        severity: Severity::High,
        rationale: "Without the unified audit log there is no record of user and admin activity to investigate.",
        remediation: "Turn on auditing in Microsoft Purview (Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true).",
        reads: &[F::AdminAuditLogConfig],
        evaluate: e8::unified_audit_log,
    },
    Check {
        id: "CIS-4.1",
        title: "Devices without a compliance policy are marked not compliant",
        reference: cis("4.1", 2),
        severity: Severity::Medium,
        rationale: "By default a device with no compliance policy counts as compliant and passes device-based Conditional Access.",
        remediation: "In Intune compliance policy settings, set 'Mark devices with no compliance policy assigned as' to Not compliant.",
        reads: &[F::DeviceManagementSettings],
        evaluate: secure_by_default,
    },
    Check {
        id: "CIS-5.1.2.2",
        title: "Users cannot register third-party applications",
        reference: cis("5.1.2.2", 2),
        severity: Severity::Medium,
        rationale: "App registrations by ordinary users can be turned into persistence or data-exfiltration channels.",
        remediation: "Set 'Users can register applications' to No in Entra ID user settings.",
        reads: &[F::AuthorizationPolicy],
        evaluate: no_app_registration,
    },
    Check {
        id: "CIS-5.1.2.3",
        title: "Non-admin users cannot create tenants",
        reference: cis("5.1.2.3", 1),
        severity: Severity::Low,
        rationale: "Tenants created by users sit outside the organisation's governance and can hold its data.",
        remediation: "Set 'Restrict non-admin users from creating tenants' to Yes.",
        reads: &[F::AuthorizationPolicy],
        evaluate: no_tenant_creation,
    },
    Check {
        id: "CIS-5.1.5.1",
        title: "User consent to applications is not allowed",
        reference: cis("5.1.5.1", 2),
        severity: Severity::Medium,
        rationale: "Consent phishing gets users to grant a malicious app lasting access to their mail and files.",
        remediation: "Set user consent to 'Do not allow user consent' and enable the admin consent workflow.",
        reads: &[F::AuthorizationPolicy],
        evaluate: no_user_consent,
    },
    Check {
        id: "CIS-5.1.6.2",
        title: "Guest user access is restricted",
        reference: cis("5.1.6.2", 1),
        severity: Severity::Medium,
        rationale: "Guests with member-level directory access can enumerate users, groups and roles for an attack.",
        remediation: "Set guest user access to 'limited access' or 'restricted to properties and memberships of their own directory objects'.",
        reads: &[F::AuthorizationPolicy],
        evaluate: guest_access,
    },
    Check {
        id: "CIS-5.1.6.3",
        title: "Guest invitations are limited to the Guest Inviter role",
        reference: cis("5.1.6.3", 2),
        severity: Severity::Medium,
        rationale: "When anyone can invite guests, external access grows without review.",
        remediation: "Set guest invite restrictions to 'Only users assigned to specific admin roles can invite guest users'.",
        reads: &[F::AuthorizationPolicy],
        evaluate: guest_invites,
    },
    Check {
        id: "CIS-5.2.2.1",
        title: "MFA is enabled for all users in administrative roles",
        reference: cis("5.2.2.1", 1),
        severity: Severity::Critical,
        rationale: "Administrator accounts are the most valuable target; a password alone must never be enough.",
        remediation: "Create a Conditional Access policy for the administrator roles requiring MFA for all cloud apps.",
        reads: p::reads::MFA_POLICY,
        evaluate: |s| judged(p::mfa_for_admins(s)),
    },
    Check {
        id: "CIS-5.2.2.2",
        title: "MFA is enabled for all users",
        reference: cis("5.2.2.2", 1),
        severity: Severity::Critical,
        rationale: "MFA blocks the great majority of account-takeover attempts.",
        remediation: "Create a Conditional Access policy for All users and All cloud apps requiring MFA.",
        reads: p::reads::MFA_POLICY,
        evaluate: |s| judged(p::mfa_for_all_users(s)),
    },
    Check {
        id: "CIS-5.2.2.3",
        title: "Conditional Access blocks legacy authentication",
        reference: cis("5.2.2.3", 1),
        severity: Severity::High,
        rationale: "Legacy authentication cannot do MFA and is the main target of password spraying.",
        remediation: "Create a Conditional Access policy blocking 'Exchange ActiveSync' and 'Other clients' for All users.",
        reads: p::reads::MFA_POLICY,
        evaluate: |s| judged(p::legacy_auth_blocked(s)),
    },
    Check {
        id: "CIS-5.2.2.4",
        title: "Admin sign-in frequency is limited and browser sessions are not persistent",
        reference: cis("5.2.2.4", 1),
        severity: Severity::Medium,
        rationale: "Long-lived admin sessions on shared or stolen browsers give an attacker standing admin access.",
        remediation: "For the administrator roles, set sign-in frequency to 4 hours or less and persistent browser session to 'Never persistent'.",
        reads: p::reads::CONDITIONAL_ACCESS,
        evaluate: admin_sessions,
    },
    Check {
        id: "CIS-5.2.2.5",
        title: "Phishing-resistant MFA strength is required for administrators",
        reference: cis("5.2.2.5", 2),
        severity: Severity::High,
        rationale: "Adversary-in-the-middle kits defeat push and code-based MFA; FIDO2 and certificates resist them.",
        remediation: "Require the 'Phishing-resistant MFA' authentication strength for administrator roles.",
        reads: p::reads::CONDITIONAL_ACCESS,
        evaluate: |s| judged(p::phishing_resistant_for_admins(s)),
    },
    Check {
        id: "CIS-5.2.2.6",
        title: "Identity Protection user risk policies are enabled",
        reference: cis("5.2.2.6", 1),
        severity: Severity::High,
        rationale: "Leaked credentials and anomalous behaviour raise user risk; a policy forces a secure password change.",
        remediation: "Create a Conditional Access policy for All users with user risk High requiring MFA and password change.",
        reads: &[F::ConditionalAccessPolicies, F::SubscribedSkus],
        evaluate: |s| risk_policy(s, Risk::User),
    },
    Check {
        id: "CIS-5.2.2.7",
        title: "Identity Protection sign-in risk policies are enabled",
        reference: cis("5.2.2.7", 1),
        severity: Severity::High,
        rationale: "Risky sign-ins (anonymous IPs, impossible travel, token replay) should be challenged or blocked.",
        remediation: "Create a Conditional Access policy for All users with sign-in risk High (and Medium) requiring MFA.",
        reads: &[F::ConditionalAccessPolicies, F::SubscribedSkus],
        evaluate: |s| risk_policy(s, Risk::SignIn),
    },
    Check {
        id: "CIS-5.2.3.4",
        title: "All member users are MFA capable",
        reference: cis("5.2.3.4", 1),
        severity: Severity::High,
        rationale: "A user who is not MFA capable cannot be protected by MFA policies.",
        remediation: "Have the listed users register a strong method (registration campaign, Conditional Access for security info registration).",
        reads: &[F::UserRegistrationDetails],
        evaluate: e8::mfa_capable,
    },
    Check {
        id: "CIS-5.2.3.5",
        title: "Weak authentication methods are disabled",
        reference: cis("5.2.3.5", 1),
        severity: Severity::Medium,
        rationale: "SMS, voice and email one-time codes are phishable and subject to SIM swapping.",
        remediation: "Disable SMS, Voice call and Email OTP in the authentication methods policy.",
        reads: &[F::AuthenticationMethodsPolicy],
        evaluate: e8::weak_methods,
    },
    Check {
        id: "CIS-6.1.1",
        title: "Mailbox auditing is not disabled for the organisation",
        reference: cis("6.1.1", 1),
        severity: Severity::Medium,
        rationale: "Mailbox audit records show who read or sent what from a compromised mailbox.",
        remediation: "Run Set-OrganizationConfig -AuditDisabled $false.",
        reads: &[F::OrganizationConfig],
        evaluate: mailbox_auditing,
    },
    Check {
        id: "CIS-7.2.1",
        title: "Modern authentication for SharePoint applications is required",
        reference: cis("7.2.1", 1),
        severity: Severity::Medium,
        rationale: "Legacy SharePoint authentication bypasses Conditional Access and MFA.",
        remediation: "Turn off 'Apps that don't use modern authentication' in the SharePoint admin center (Set-SPOTenant -LegacyAuthProtocolsEnabled $false).",
        reads: &[F::SharepointSettings],
        evaluate: sharepoint_modern_auth,
    },
    Check {
        id: "CIS-7.2.3",
        title: "External content sharing is restricted",
        reference: cis("7.2.3", 1),
        severity: Severity::High,
        rationale: "'Anyone' links share content without authentication or audit of who opened it.",
        remediation: "Set SharePoint external sharing to 'New and existing guests' or more restrictive.",
        reads: &[F::SharepointSettings],
        evaluate: nist::no_anyone_links,
    },
    Check {
        id: "CIS-7.2.6",
        title: "SharePoint external sharing is limited by domain",
        reference: cis("7.2.6", 2),
        severity: Severity::Medium,
        rationale: "Limiting sharing to (or away from) named domains keeps data with known partners.",
        remediation: "Configure an allow list (or block list) of domains for SharePoint external sharing.",
        reads: &[F::SharepointSettings],
        evaluate: sharing_domains,
    },
];

fn cloud_only_admins(s: &TenantSnapshot) -> Outcome {
    let admins = p::privileged_users(s);
    if admins.is_empty() {
        return Outcome::manual("The privileged accounts' user objects were not collected");
    }
    let synced: Vec<&str> = admins
        .iter()
        .filter(|u| u.on_premises_sync_enabled == Some(true))
        .map(|u| u.user_principal_name.as_str())
        .collect();
    Outcome::judge(
        synced.is_empty(),
        format!("{} of {} privileged account(s) are synchronised from on-premises", synced.len(), admins.len()),
    )
    .with_details(json!({ "synchronisedAdmins": synced }))
}

fn secure_by_default(s: &TenantSnapshot) -> Outcome {
    match s.device_management_settings.as_ref().and_then(|d| d.secure_by_default) {
        None => Outcome::manual("Intune tenant settings could not be read"),
        Some(v) => Outcome::judge(
            v,
            if v {
                "Devices with no compliance policy are marked not compliant"
            } else {
                "Devices with no compliance policy are marked compliant"
            },
        ),
    }
}

fn permissions(s: &TenantSnapshot) -> Result<&crate::assess::snapshot::AuthorizationPolicy, Outcome> {
    s.authorization_policy.as_ref().ok_or_else(|| Outcome::manual("The authorization policy could not be read"))
}

fn no_app_registration(s: &TenantSnapshot) -> Outcome {
    match permissions(s) {
        Err(o) => o,
        Ok(a) => {
            let allowed = a.default_user_role_permissions.allowed_to_create_apps != Some(false);
            Outcome::judge(
                !allowed,
                if allowed { "Users can register applications" } else { "Users cannot register applications" },
            )
        }
    }
}

fn no_tenant_creation(s: &TenantSnapshot) -> Outcome {
    match permissions(s) {
        Err(o) => o,
        Ok(a) => {
            let allowed = a.default_user_role_permissions.allowed_to_create_tenants != Some(false);
            Outcome::judge(
                !allowed,
                if allowed { "Non-admin users can create tenants" } else { "Non-admin users cannot create tenants" },
            )
        }
    }
}

fn no_user_consent(s: &TenantSnapshot) -> Outcome {
    match permissions(s) {
        Err(o) => o,
        Ok(a) => {
            let grants = &a.default_user_role_permissions.permission_grant_policies_assigned;
            let consent: Vec<&String> =
                grants.iter().filter(|g| g.starts_with("ManagePermissionGrantsForSelf.")).collect();
            Outcome::judge(
                consent.is_empty(),
                if consent.is_empty() {
                    "Users cannot consent to applications".to_string()
                } else {
                    format!(
                        "Users can consent to applications under {}",
                        consent.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")
                    )
                },
            )
        }
    }
}

fn guest_access(s: &TenantSnapshot) -> Outcome {
    match permissions(s) {
        Err(o) => o,
        Ok(a) => {
            let role = a.guest_user_role_id.as_deref().unwrap_or("");
            let ok = role == ids::GUEST_ROLE_RESTRICTED || role == ids::GUEST_ROLE_LIMITED;
            Outcome::judge(
                ok,
                if ok {
                    "Guest users have limited or restricted directory access"
                } else {
                    "Guest users have the same directory access as members"
                },
            )
        }
    }
}

fn guest_invites(s: &TenantSnapshot) -> Outcome {
    match permissions(s) {
        Err(o) => o,
        Ok(a) => {
            let from = a.allow_invites_from.as_deref().unwrap_or("everyone");
            Outcome::judge(
                matches!(from, "adminsAndGuestInviters" | "none"),
                format!("Guest invitations allowed from: {from}"),
            )
        }
    }
}

fn admin_sessions(s: &TenantSnapshot) -> Outcome {
    let ok = |c: &ConditionalAccessPolicy| {
        let Some(sc) = &c.session_controls else {
            return false;
        };
        let frequency = sc.sign_in_frequency.as_ref().is_some_and(|f| {
            f.is_enabled
                && (f.frequency_interval.as_deref() == Some("everyTime")
                    || (f.frequency_type.as_deref() == Some("hours")
                        && f.value.is_some_and(|v| v <= ADMIN_SIGN_IN_FREQUENCY_HOURS)))
        });
        let browser =
            sc.persistent_browser.as_ref().is_some_and(|b| b.is_enabled && b.mode.as_deref() == Some("never"));
        frequency && browser
    };
    let hit = p::enforced(s).find(|c| p::covers_roles(s, c, ids::TAKEOVER_ROLES) && p::covers_all_apps(c) && ok(c));
    match hit {
        Some(c) => Outcome::pass(format!("Conditional Access policy '{}' limits admin sign-in frequency and disables persistent browser sessions", c.display_name)),
        None => Outcome::fail(format!("No enabled Conditional Access policy for the administrator roles sets sign-in frequency of {ADMIN_SIGN_IN_FREQUENCY_HOURS} hours or less and non-persistent browser sessions")),
    }
}

/// The benchmark scopes risk policies to tenants with Entra ID P2 (E5): without it they are
/// not applicable rather than failed.
fn risk_policy(s: &TenantSnapshot, risk: Risk) -> Outcome {
    match p::risk_policy(s, risk) {
        Ok(why) => Outcome::pass(why),
        Err(_) if !p::has_plan(s, ids::PLAN_ENTRA_P2) => {
            Outcome::not_applicable("Risk-based Conditional Access needs Entra ID P2, which the tenant does not have")
        }
        Err(why) => Outcome::fail(why),
    }
}

fn mailbox_auditing(s: &TenantSnapshot) -> Outcome {
    match s.organization_config.as_ref().and_then(|c| c.audit_disabled) {
        None => Outcome::manual("The Exchange Online organisation configuration could not be read"),
        Some(disabled) => Outcome::judge(
            !disabled,
            if disabled {
                "Mailbox auditing is disabled for the organisation"
            } else {
                "Mailbox auditing is on by default for the organisation"
            },
        ),
    }
}

fn sharepoint_modern_auth(s: &TenantSnapshot) -> Outcome {
    match s.sharepoint_settings.as_ref().and_then(|x| x.is_legacy_auth_protocols_enabled) {
        None => Outcome::manual("SharePoint tenant settings could not be read"),
        Some(legacy) => Outcome::judge(
            !legacy,
            if legacy {
                "SharePoint accepts apps that do not use modern authentication"
            } else {
                "SharePoint requires modern authentication"
            },
        ),
    }
}

fn sharing_domains(s: &TenantSnapshot) -> Outcome {
    let Some(sp) = &s.sharepoint_settings else {
        return Outcome::manual("SharePoint tenant settings could not be read");
    };
    if sp.sharing_capability.as_deref() == Some("disabled") {
        return Outcome::not_applicable("External sharing is disabled");
    }
    let mode = sp.sharing_domain_restriction_mode.as_deref().unwrap_or("none");
    Outcome::judge(
        matches!(mode, "allowList" | "blockList"),
        format!("SharePoint sharing domain restriction mode is '{mode}'"),
    )
}
