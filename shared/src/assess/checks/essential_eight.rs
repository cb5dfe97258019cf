//! Essential Eight (ASD Essential Eight Maturity Model, November 2023) as far as a Microsoft
//! 365 tenant shows it. Each check names its strategy and the lowest level of the requirements
//! it evidences; which requirements those are is data (`assess::requirements`), as is how
//! their outcomes make a level. A check no ASD requirement asks for is advisory: scored and
//! shown, never part of a level. Requirements Graph cannot show are `manual` checks.

use serde_json::json;

use super::probes::{self as p, judged};
use super::{Check, Outcome, Reference, Severity, Strategy};
use crate::assess::snapshot::{
    ids, setting, Field as F, TenantSnapshot, ENDPOINT_PROTECTION_CONFIGURATION, WINDOWS_HELLO_ENROLLMENT,
};

const fn e8(strategy: Strategy, maturity_level: u8) -> Reference {
    Reference::EssentialEight { strategy, maturity_level }
}

/// An admin account unused for this long should have been disabled (ML2).
const PRIVILEGED_INACTIVE_DAYS: i64 = 45;
/// More Global Administrators than this is more standing tenant-wide power than anyone needs.
const MAX_GLOBAL_ADMINS: usize = 4;
/// Standing privileged assignments tolerated under just-in-time administration: the two
/// emergency access accounts.
const MAX_STANDING_PRIVILEGED: usize = 2;
/// Share of active Windows devices in Entra ID that must be under MDM for discovery to count.
const MIN_MANAGED_PERCENT: f64 = 90.0;
/// Devices not seen for longer than this are stale records, not the fleet.
const ACTIVE_DEVICE_DAYS: i64 = 90;
/// An expedited quality update counts for the 48-hour rule when it is this month's: released
/// at most this many days before collection (monthly updates are 28–35 days apart).
const EXPEDITE_MAX_AGE_DAYS: i64 = 35;

pub static CHECKS: &[Check] = &[
    // ---- Multi-factor authentication -------------------------------------------------------
    Check {
        id: "E8-MFA-01",
        title: "MFA is enforced for all users",
        reference: e8(Strategy::Mfa, 1),
        severity: Severity::Critical,
        rationale: "Stolen or guessed passwords are the commonest way into Microsoft 365; a second factor stops most of those sign-ins.",
        remediation: "Create a Conditional Access policy for All users and All cloud apps that grants access only with MFA (exclude only the emergency access accounts), or turn on security defaults if the tenant has no Entra ID P1.",
        reads: p::reads::MFA_POLICY,
        evaluate: mfa_all_users,
    },
    Check {
        id: "E8-MFA-02",
        title: "Legacy authentication is blocked",
        reference: e8(Strategy::Mfa, 1),
        severity: Severity::High,
        rationale: "Basic-auth protocols (IMAP, POP, SMTP AUTH, Exchange ActiveSync with passwords) cannot do MFA, so leaving them open bypasses it.",
        remediation: "Create a Conditional Access policy for All users and All cloud apps with client apps 'Exchange ActiveSync' and 'Other clients' that blocks access.",
        reads: p::reads::MFA_POLICY,
        evaluate: legacy_auth,
    },
    Check {
        id: "E8-MFA-03",
        title: "Every member user can perform MFA",
        reference: e8(Strategy::Mfa, 1),
        severity: Severity::High,
        rationale: "An account without a registered method gets no second factor, and whoever signs in first with its password can register their own.",
        remediation: "Run the authentication methods registration campaign and follow up the users listed; require MFA registration through Conditional Access.",
        reads: &[F::UserRegistrationDetails],
        evaluate: mfa_capable,
    },
    Check {
        id: "E8-MFA-04",
        title: "Administrators must use MFA and all are registered",
        reference: e8(Strategy::Mfa, 2),
        severity: Severity::Critical,
        rationale: "A privileged account taken over with a password alone gives an attacker the whole tenant.",
        remediation: "Require MFA for the administrator roles in Conditional Access (or security defaults) and make sure every admin has registered a method.",
        reads: &[F::IdentitySecurityDefaultsEnforcementPolicy, F::ConditionalAccessPolicies, F::UserRegistrationDetails],
        evaluate: mfa_admins,
    },
    Check {
        id: "E8-MFA-05",
        title: "Phishing-resistant MFA is required for administrators",
        reference: e8(Strategy::Mfa, 2),
        severity: Severity::High,
        rationale: "Push approvals, codes and SMS can be relayed by adversary-in-the-middle phishing kits; FIDO2, Windows Hello for Business and certificates cannot.",
        remediation: "Require the built-in 'Phishing-resistant MFA' authentication strength for the administrator roles in Conditional Access and issue security keys or passkeys to admins.",
        reads: p::reads::CONDITIONAL_ACCESS,
        evaluate: |s| judged(p::phishing_resistant_for_admins(s)),
    },
    Check {
        id: "E8-MFA-06",
        title: "MFA events are centrally logged and retained",
        reference: e8(Strategy::Mfa, 2),
        severity: Severity::Medium,
        rationale: "Successful and failed MFA events show MFA fatigue and token theft; Entra ID Free keeps sign-in logs for 7 days only and cannot stream them to a SIEM.",
        remediation: "License Entra ID P1 (30-day sign-in logs, diagnostic export) and send sign-in logs to a SIEM or Log Analytics workspace.",
        reads: &[F::SubscribedSkus],
        evaluate: sign_in_logs,
    },
    Check {
        id: "E8-MFA-07",
        title: "Phishing-resistant MFA is required for all users",
        reference: e8(Strategy::Mfa, 2),
        severity: Severity::High,
        rationale: "From maturity level two every staff member's MFA on online services must resist phishing, not only administrators' (ISM-1872, MF-ML2-03).",
        remediation: "Roll out passkeys or Windows Hello for Business and require the 'Phishing-resistant MFA' authentication strength for All users.",
        reads: p::reads::CONDITIONAL_ACCESS,
        evaluate: |s| judged(p::phishing_resistant_for_all(s)),
    },
    Check {
        id: "E8-MFA-08",
        title: "Weak authentication methods (SMS, voice, email OTP) are disabled",
        reference: e8(Strategy::Mfa, 3),
        severity: Severity::Medium,
        rationale: "Advisory, not an ASD requirement (it never lowers a level): SMS and voice codes fall to SIM swapping and relay phishing; while enabled, users and attackers can fall back to them.",
        remediation: "Disable SMS, Voice call and Email OTP in the authentication methods policy once users hold stronger methods.",
        reads: &[F::AuthenticationMethodsPolicy],
        evaluate: weak_methods,
    },
    Check {
        id: "E8-MFA-09",
        title: "Windows Hello for Business is required to sign in to Windows",
        reference: e8(Strategy::Mfa, 2),
        severity: Severity::High,
        rationale: "From maturity level two users authenticate to their workstations with phishing-resistant MFA (ISM-0974, ISM-1682); Windows Hello for Business is that on Intune-managed Windows. Graph shows the policy, not whether password sign-in is still allowed, so an answer settles the rest.",
        remediation: "Enable Windows Hello for Business in the default Windows Hello enrollment policy (Devices > Enrollment) or in an account protection policy assigned to all devices, and remove password sign-in where possible.",
        reads: &[F::ManagedDevices, F::DeviceEnrollmentConfigurations, F::ConfigurationPolicies],
        evaluate: windows_hello,
    },
    // ---- Restrict administrative privileges -----------------------------------------------
    Check {
        id: "E8-RAP-01",
        title: "No more than four Global Administrators",
        reference: e8(Strategy::RestrictAdminPrivileges, 1),
        severity: Severity::Critical,
        rationale: "Advisory, not an ASD requirement (CIS 1.1.3; it never lowers a level): every Global Administrator can do anything in the tenant; each extra one is another account whose compromise is total.",
        remediation: "Move day-to-day admins to least-privileged roles (Exchange, User, Helpdesk Administrator) and keep two to four Global Administrators, emergency access accounts included.",
        reads: p::reads::ROLES,
        evaluate: global_admin_count,
    },
    Check {
        id: "E8-RAP-02",
        title: "Privileged accounts are dedicated (no mailbox)",
        reference: e8(Strategy::RestrictAdminPrivileges, 1),
        severity: Severity::High,
        rationale: "An admin account with a mailbox reads email and browses the web, the two ways malware reaches a user; privileged work needs a separate account.",
        remediation: "Give each administrator a separate cloud-only admin account without an Exchange Online licence and remove roles from everyday accounts.",
        reads: p::reads::ADMIN_ACCOUNTS,
        evaluate: dedicated_admins,
    },
    Check {
        id: "E8-RAP-03",
        title: "Requests for privileged access are validated",
        reference: e8(Strategy::RestrictAdminPrivileges, 1),
        severity: Severity::Medium,
        rationale: "Privileged access should be granted through an approval that someone can show; Graph shows who holds roles, not why.",
        remediation: "Keep a record of approvals for every role assignment (PIM approval workflows or a ticketing process) and review it.",
        reads: &[],
        evaluate: |_| Outcome::manual("Graph shows role assignments but not whether each was approved; review the approval records"),
    },
    Check {
        id: "E8-RAP-04",
        title: "Inactive privileged accounts are disabled",
        reference: e8(Strategy::RestrictAdminPrivileges, 2),
        severity: Severity::Medium,
        rationale: "Privileged accounts nobody uses are not watched; maturity level two disables them after 45 days of inactivity.",
        remediation: "Disable or remove role assignments of admin accounts unused for 45 days; use access reviews to catch them.",
        reads: p::reads::ADMIN_ACCOUNTS,
        evaluate: inactive_admins,
    },
    Check {
        id: "E8-RAP-05",
        title: "Administrative activity is centrally logged",
        reference: e8(Strategy::RestrictAdminPrivileges, 2),
        severity: Severity::Medium,
        rationale: "Without the unified audit log, changes made in Exchange, SharePoint and Teams by privileged users leave no trail.",
        remediation: "Turn on auditing in Microsoft Purview (Set-AdminAuditLogConfig -UnifiedAuditLogIngestionEnabled $true).",
        reads: &[F::AdminAuditLogConfig],
        evaluate: unified_audit_log,
    },
    Check {
        id: "E8-RAP-06",
        title: "Privileged roles are held just in time (PIM)",
        reference: e8(Strategy::RestrictAdminPrivileges, 3),
        severity: Severity::High,
        rationale: "Standing admin rights are usable by whoever steals the session; just-in-time activation limits the window and adds approval and MFA at activation.",
        remediation: "Convert permanent privileged assignments to eligible ones in Privileged Identity Management, leaving only the emergency access accounts permanent.",
        reads: p::reads::JUST_IN_TIME,
        evaluate: just_in_time,
    },
    Check {
        id: "E8-RAP-07",
        title: "Credential Guard is enabled on Windows",
        reference: e8(Strategy::RestrictAdminPrivileges, 3),
        severity: Severity::Medium,
        rationale: "Credential Guard isolates LSASS secrets so credential-dumping tools cannot lift admin hashes and tickets.",
        remediation: "Enable Credential Guard with UEFI lock in an Intune endpoint protection (or account protection) profile assigned to all Windows devices.",
        reads: p::reads::INTUNE_ASR,
        evaluate: credential_guard,
    },
    Check {
        id: "E8-RAP-08",
        title: "Windows LAPS manages local administrator passwords of at least 30 characters",
        reference: e8(Strategy::RestrictAdminPrivileges, 2),
        severity: Severity::High,
        rationale: "A local administrator password shared across devices lets one stolen hash open them all; ISM-1685 wants them long (ASD's FAQ: at least 30 characters), unique, random and managed. Graph shows Intune's LAPS policy; break-glass and service account credentials need an answer.",
        remediation: "Assign an Endpoint security account protection policy for Windows LAPS to all devices: back up to Entra ID, password length 30 or more, with rotation.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: windows_laps,
    },
    Check {
        id: "E8-RAP-09",
        title: "Privileged role assignments are re-approved at least every 12 months",
        reference: e8(Strategy::RestrictAdminPrivileges, 2),
        severity: Severity::Medium,
        rationale: "From maturity level two privileged access expires after 12 months unless revalidated (ISM-1647); a recurring access review of the directory roles is how Entra ID shows it. Privileged access outside Entra ID needs an answer.",
        remediation: "Create a recurring (at most yearly) access review of the privileged directory roles in Entra ID Governance or PIM, with decisions applied automatically.",
        reads: &[F::AccessReviewDefinitions],
        evaluate: privileged_access_reviewed,
    },
    // ---- Application control ----------------------------------------------------------------
    Check {
        id: "E8-AC-01",
        title: "Application control is enforced on Windows workstations",
        reference: e8(Strategy::ApplicationControl, 1),
        severity: Severity::Critical,
        rationale: "Allowing only approved executables, scripts and installers stops most malware from running at all.",
        remediation: "Deploy App Control for Business (WDAC) or AppLocker in enforce mode through Intune, after running it in audit mode to build the allow list.",
        reads: &[F::ManagedDevices, F::ConfigurationPolicies, F::DeviceConfigurations],
        evaluate: application_control,
    },
    Check {
        id: "E8-AC-02",
        title: "Application control on Windows devices Intune does not manage",
        reference: e8(Strategy::ApplicationControl, 1),
        severity: Severity::Medium,
        rationale: "Devices outside Intune may be managed by Group Policy or another tool whose configuration Graph cannot see.",
        remediation: "Enrol the devices in Intune, or show application control from the tool that manages them.",
        // Intune's list only changes the wording: no Windows device in Entra ID is N/A either way.
        reads: &[F::Devices],
        evaluate: application_control_unmanaged,
    },
    Check {
        id: "E8-AC-03",
        title: "Microsoft's recommended application blocklist is implemented",
        reference: e8(Strategy::ApplicationControl, 2),
        severity: Severity::Medium,
        rationale: "Signed Microsoft binaries (mshta, wmic, msbuild, …) can bypass an allow list unless Microsoft's block rules are merged in.",
        remediation: "Merge Microsoft's recommended block rules into the App Control policy.",
        reads: &[],
        evaluate: |_| Outcome::manual("The rules inside an App Control policy are not visible through Graph; inspect the deployed policy XML"),
    },
    Check {
        id: "E8-AC-04",
        title: "Microsoft's vulnerable driver blocklist is enabled",
        reference: e8(Strategy::ApplicationControl, 3),
        severity: Severity::Medium,
        rationale: "Attackers load signed but vulnerable drivers to kill security tools; the blocklist refuses them.",
        remediation: "Enable the Microsoft Vulnerable Driver Blocklist in an Intune settings catalog policy for all Windows devices.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: |s| p::setting_enforced(s, setting::WINDOWS_VULNERABLE_DRIVER_BLOCKLIST, "Microsoft vulnerable driver blocklist"),
    },
    // ---- Patch applications -----------------------------------------------------------------
    Check {
        id: "E8-PA-01",
        title: "Microsoft 365 Apps update automatically within two weeks",
        reference: e8(Strategy::PatchApplications, 1),
        severity: Severity::High,
        rationale: "Office is the most attacked productivity suite; maturity level one patches it within two weeks of release.",
        remediation: "Enable automatic updates for Microsoft 365 Apps in Intune with an update deadline of 14 days or less.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: office_updates,
    },
    Check {
        id: "E8-PA-02",
        title: "Update rings also deliver updates for other Microsoft products",
        reference: e8(Strategy::PatchApplications, 1),
        severity: Severity::Medium,
        rationale: "Without 'Microsoft product updates' Windows Update leaves .NET, Office MSI and other Microsoft applications unpatched.",
        remediation: "Set 'Microsoft product updates' to Allow in every Windows Update ring.",
        reads: p::reads::INTUNE_PROFILE,
        evaluate: microsoft_update_service,
    },
    Check {
        id: "E8-PA-03",
        title: "Defender security intelligence is up to date",
        reference: e8(Strategy::PatchApplications, 1),
        severity: Severity::High,
        rationale: "Security products are on the two-week patch list; overdue signatures miss current malware.",
        remediation: "Investigate the listed devices (offline, update source blocked, Defender disabled) and let them pull security intelligence updates.",
        reads: &[F::ManagedDevices],
        evaluate: defender_signatures,
    },
    Check {
        id: "E8-PA-04",
        title: "A vulnerability scanner checks online services daily and Office, browsers, mail, PDF and security products weekly",
        reference: e8(Strategy::PatchApplications, 1),
        severity: Severity::Medium,
        rationale: "Maturity level one scans internet-facing services daily (ISM-1698) and office suites, browsers, email clients, PDF software and security products weekly (ISM-1699), with a current vulnerability database (ISM-1808); fortnightly is only enough for other applications at level two. Graph does not expose scan results.",
        remediation: "Use Defender Vulnerability Management (or another scanner) on those schedules and keep its reports as evidence.",
        reads: &[],
        evaluate: |_| Outcome::manual("Vulnerability scan results are not available through Microsoft Graph; review the scanner's reports"),
    },
    // ---- Patch operating systems ------------------------------------------------------------
    Check {
        id: "E8-POS-01",
        title: "Windows quality updates are installed within one month",
        reference: e8(Strategy::PatchOs, 1),
        severity: Severity::High,
        rationale: "Maturity level one applies workstation OS patches within one month of release; an update ring without a deadline lets users postpone indefinitely.",
        remediation: "Assign a Windows Update ring with quality update deferral + deadline + grace period of 30 days or less, not paused.",
        reads: p::reads::INTUNE_PROFILE,
        evaluate: |s| p::rings_within(s, 30),
    },
    Check {
        id: "E8-POS-02",
        title: "No Windows device runs a release past end of support",
        reference: e8(Strategy::PatchOs, 1),
        severity: Severity::Critical,
        rationale: "Releases out of support get no security fixes at all (Windows 10 without ESU, older Windows 11 feature updates).",
        remediation: "Upgrade or replace the listed devices; use Intune feature update policies to keep Windows on a supported release.",
        reads: p::reads::WINDOWS_FLEET,
        evaluate: supported_windows,
    },
    Check {
        id: "E8-POS-03",
        title: "Windows devices are enrolled in device management",
        reference: e8(Strategy::PatchOs, 1),
        severity: Severity::Medium,
        rationale: "Automated asset discovery underpins patching: devices nobody manages are the ones that miss updates.",
        remediation: "Enrol Entra-joined Windows devices in Intune (automatic MDM enrolment) and remove stale device records.",
        reads: &[F::Devices],
        evaluate: devices_managed,
    },
    Check {
        id: "E8-POS-04",
        title: "Windows quality updates fixing critical or exploited flaws are installed within 48 hours",
        reference: e8(Strategy::PatchOs, 3),
        severity: Severity::High,
        rationale: "Maturity level three patches workstation and internal server operating systems within 48 hours when a flaw is critical or exploited (ISM-1696), and within one month otherwise (ISM-1902, as E8-POS-01). Most monthly cumulative updates fix such a flaw, so the rings must install them within two days.",
        remediation: "Set update rings to a quality update deferral + deadline + grace period of 2 days or less, or expedite critical updates with a quality update policy.",
        reads: &[F::ManagedDevices, F::DeviceConfigurations, F::WindowsQualityUpdateProfiles],
        evaluate: critical_updates_within_48_hours,
    },
    Check {
        id: "E8-POS-05",
        title: "Windows runs the latest or previous release",
        reference: e8(Strategy::PatchOs, 3),
        severity: Severity::Medium,
        rationale: "Maturity level three uses the latest or previous operating system release, which carry the newest mitigations.",
        remediation: "Deploy a feature update policy targeting the latest Windows 11 release.",
        reads: &[F::ManagedDevices, F::Devices, F::WindowsFeatureUpdateProfiles],
        evaluate: current_windows,
    },
    Check {
        id: "E8-POS-06",
        title: "Driver updates are approved automatically and deployed within 48 hours",
        reference: e8(Strategy::PatchOs, 3),
        severity: Severity::Medium,
        rationale: "Maturity level three patches drivers within 48 hours when a flaw is critical or exploited (ISM-1879); a driver update policy that waits for manual approval rarely does. Drivers delivered by OEM tools need an answer.",
        remediation: "Assign a Windows driver update policy with automatic approval and no deferral to every Windows device group.",
        reads: &[F::ManagedDevices, F::WindowsDriverUpdateProfiles],
        evaluate: |s| p::drivers_within(s, 2),
    },
    Check {
        id: "E8-POS-07",
        title: "Driver updates are approved automatically and deployed within one month",
        reference: e8(Strategy::PatchOs, 3),
        severity: Severity::Low,
        rationale: "Maturity level three patches other driver flaws within one month (ISM-1697).",
        remediation: "Assign a Windows driver update policy with automatic approval and a deferral of 30 days or less.",
        reads: &[F::ManagedDevices, F::WindowsDriverUpdateProfiles],
        evaluate: |s| p::drivers_within(s, 30),
    },
    // ---- Configure Microsoft Office macro settings ----------------------------------------
    Check {
        id: "E8-OM-01",
        title: "Macros in Office files from the internet are blocked",
        reference: e8(Strategy::OfficeMacros, 1),
        severity: Severity::High,
        rationale: "Macro-laden attachments and downloads are a staple initial-access technique.",
        remediation: "Enable 'Block macros from running in Office files from the Internet' for Word, Excel and PowerPoint in an Intune settings catalog policy.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: |s| p::setting_enforced(s, setting::OFFICE_BLOCK_MACROS_FROM_INTERNET, "Blocking macros in files from the internet"),
    },
    Check {
        id: "E8-OM-02",
        title: "Macro antivirus scanning is enabled",
        reference: e8(Strategy::OfficeMacros, 1),
        severity: Severity::Medium,
        rationale: "Runtime (AMSI) scanning lets Defender inspect macro behaviour that static scans miss.",
        remediation: "Set 'Macro Runtime Scan Scope' to enable for all documents in an Intune settings catalog policy.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: |s| p::setting_enforced(s, setting::OFFICE_MACRO_ANTIVIRUS_SCANNING, "Macro antivirus scanning"),
    },
    Check {
        id: "E8-OM-03",
        title: "Macro settings are enforced by policy and do not enable all macros",
        reference: e8(Strategy::OfficeMacros, 1),
        severity: Severity::High,
        rationale: "Macro security left to users gets switched off; a managed setting keeps macros disabled for those without a business need.",
        remediation: "Set 'VBA Macro Notification Settings' through Intune to 'Disable all except digitally signed macros' (or stricter) for Word, Excel, PowerPoint and Access.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: macro_notification_enforced,
    },
    Check {
        id: "E8-OM-04",
        title: "Office macros cannot make Win32 API calls",
        reference: e8(Strategy::OfficeMacros, 2),
        severity: Severity::High,
        rationale: "Macros that call Win32 APIs can load shellcode directly; the ASR rule blocks it.",
        remediation: "Set the ASR rule 'Block Win32 API calls from Office macros' to Block in an endpoint protection profile.",
        reads: p::reads::INTUNE_ASR,
        evaluate: |s| {
            p::asr_rules_blocked(s, &[("Block Win32 API calls from Office macros", |c| {
                &c.defender_office_macro_code_allow_win32_imports_type
            })])
        },
    },
    Check {
        id: "E8-OM-05",
        title: "Only macros signed by trusted publishers can run",
        reference: e8(Strategy::OfficeMacros, 3),
        severity: Severity::Medium,
        rationale: "Maturity level three lets macros run only from trusted locations, sandboxes or trusted publishers' signatures.",
        remediation: "Set 'VBA Macro Notification Settings' to 'Disable all except digitally signed macros' and manage the trusted publisher list.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: signed_macros_only,
    },
    // ---- User application hardening ---------------------------------------------------------
    Check {
        id: "E8-UAH-01",
        title: "Internet Explorer 11 is disabled",
        reference: e8(Strategy::UserApplicationHardening, 1),
        severity: Severity::Medium,
        rationale: "IE11 is out of support and its engine is a favourite exploit target.",
        remediation: "Enable 'Disable Internet Explorer 11 as a standalone browser' in an Intune settings catalog policy; use Edge IE mode where needed.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: |s| p::setting_enforced(s, setting::WINDOWS_DISABLE_IE11, "Disabling Internet Explorer 11"),
    },
    Check {
        id: "E8-UAH-02",
        title: "Browser security settings are enforced (SmartScreen cannot be bypassed)",
        reference: e8(Strategy::UserApplicationHardening, 1),
        severity: Severity::Medium,
        rationale: "Browser protections users can switch off or click through do not protect; maturity level one requires that users cannot change them.",
        remediation: "Configure Microsoft Defender SmartScreen and 'Prevent bypassing SmartScreen prompts for sites' for Edge in Intune.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: edge_smartscreen,
    },
    Check {
        id: "E8-UAH-03",
        title: "Office cannot create child processes, executable content or inject code",
        reference: e8(Strategy::UserApplicationHardening, 2),
        severity: Severity::High,
        rationale: "These three ASR rules stop the typical document-to-malware chain even when a macro or exploit runs.",
        remediation: "Set the three Office ASR rules to Block in an endpoint protection profile assigned to all Windows devices.",
        reads: p::reads::INTUNE_ASR,
        evaluate: |s| {
            p::asr_rules_blocked(s, &[
                ("Block Office applications from creating child processes", |c| &c.defender_office_apps_launch_child_process_type),
                ("Block Office applications from creating executable content", |c| &c.defender_office_apps_executable_content_creation_or_launch_type),
                ("Block Office applications from injecting code into other processes", |c| &c.defender_office_apps_other_process_injection_type),
            ])
        },
    },
    Check {
        id: "E8-UAH-04",
        title: "Office blocks activation of OLE packages",
        reference: e8(Strategy::UserApplicationHardening, 2),
        severity: Severity::Medium,
        rationale: "Embedded OLE packages are used to smuggle scripts and executables inside documents.",
        remediation: "Set 'Packager Prompt' to block activation of OLE packages for Word, Excel and PowerPoint through Intune.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: |s| p::setting_enforced(s, setting::OFFICE_BLOCK_OLE_PACKAGES, "Blocking OLE package activation"),
    },
    Check {
        id: "E8-UAH-05",
        title: "PDF software cannot create child processes",
        reference: e8(Strategy::UserApplicationHardening, 2),
        severity: Severity::Medium,
        rationale: "Malicious PDFs launch payloads through the reader; the ASR rule stops Adobe Reader spawning processes.",
        remediation: "Set the ASR rule 'Block Adobe Reader from creating child processes' to Block.",
        reads: p::reads::INTUNE_ASR,
        evaluate: |s| {
            p::asr_rules_blocked(s, &[("Block Adobe Reader from creating child processes", |c| {
                &c.defender_adobe_reader_launch_child_process
            })])
        },
    },
    Check {
        id: "E8-UAH-06",
        title: "PowerShell script block logging is enabled",
        reference: e8(Strategy::UserApplicationHardening, 2),
        severity: Severity::Medium,
        rationale: "Script block logs record the de-obfuscated PowerShell attackers run, which is what responders need.",
        remediation: "Enable 'Turn on PowerShell Script Block Logging' in an Intune settings catalog policy and forward the events.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: |s| p::setting_enforced(s, setting::WINDOWS_POWERSHELL_SCRIPT_BLOCK_LOGGING, "PowerShell script block logging"),
    },
    Check {
        id: "E8-UAH-07",
        title: ".NET Framework 3.5 and Windows PowerShell 2.0 are removed",
        reference: e8(Strategy::UserApplicationHardening, 3),
        severity: Severity::Low,
        rationale: "PowerShell 2.0 bypasses logging and AMSI; .NET 3.5 brings old, weaker runtimes.",
        remediation: "Remove the optional features with a remediation script or Intune policy and verify with a detection script.",
        reads: &[],
        evaluate: |_| Outcome::manual("Installed Windows optional features are not reported through Graph; verify with a detection script or Defender inventory"),
    },
    // ---- Regular backups --------------------------------------------------------------------
    Check {
        id: "E8-BAK-01",
        title: "Microsoft 365 data (Exchange, SharePoint, OneDrive) is backed up",
        reference: e8(Strategy::RegularBackups, 1),
        severity: Severity::High,
        rationale: "Retention and the recycle bin are not backups: ransomware and malicious deletion need restorable copies outside users' reach.",
        remediation: "Enable Microsoft 365 Backup with protection policies for Exchange, SharePoint and OneDrive, or show the third-party backup that covers them.",
        reads: &[F::BackupRestore],
        evaluate: m365_backup,
    },
    Check {
        id: "E8-BAK-02",
        title: "Users' known folders are redirected to OneDrive",
        reference: e8(Strategy::RegularBackups, 1),
        severity: Severity::Medium,
        rationale: "Advisory, not an ASD requirement (OneDrive sync is not a backup; it never lowers a level): Desktop, Documents and Pictures otherwise live only on the laptop; Known Folder Move puts them in OneDrive's versioned storage.",
        remediation: "Enable 'Silently move Windows known folders to OneDrive' in an Intune settings catalog policy.",
        reads: p::reads::INTUNE_SETTING,
        evaluate: |s| p::setting_enforced(s, setting::ONEDRIVE_KNOWN_FOLDER_MOVE, "OneDrive Known Folder Move"),
    },
    Check {
        id: "E8-BAK-03",
        title: "Restoration from backup is tested",
        reference: e8(Strategy::RegularBackups, 1),
        severity: Severity::Medium,
        rationale: "A backup never restored is a hope, not a control.",
        remediation: "Run and record a restoration test as part of disaster recovery exercises.",
        reads: &[],
        evaluate: |_| Outcome::manual("Restoration tests leave no trace in Graph; review the test records"),
    },
    Check {
        id: "E8-BAK-04",
        title: "Backups cannot be modified or deleted during their retention period",
        reference: e8(Strategy::RegularBackups, 3),
        severity: Severity::Medium,
        rationale: "Attackers with admin rights delete backups before encrypting; immutable backups survive that.",
        remediation: "Use immutable backups (Microsoft 365 Backup is immutable) or a third-party service with immutability and separate admin credentials.",
        reads: &[F::BackupRestore],
        evaluate: immutable_backup,
    },
];

// ---- MFA ------------------------------------------------------------------------------------

fn mfa_all_users(s: &TenantSnapshot) -> Outcome {
    judged(p::mfa_for_all_users(s))
}

fn legacy_auth(s: &TenantSnapshot) -> Outcome {
    judged(p::legacy_auth_blocked(s))
}

/// Every member user is MFA-capable (shared with CIS 5.2.3.4).
pub(crate) fn mfa_capable(s: &TenantSnapshot) -> Outcome {
    let members: Vec<_> = p::member_registrations(s).collect();
    if members.is_empty() {
        return Outcome::manual("User registration details were not available (they need Entra ID P1)");
    }
    let missing: Vec<&str> =
        members.iter().filter(|u| !u.is_mfa_capable).map(|u| u.user_principal_name.as_str()).collect();
    Outcome::judge(
        missing.is_empty(),
        format!("{} of {} member users can perform MFA", members.len() - missing.len(), members.len()),
    )
    .with_details(json!({ "notMfaCapable": missing }))
}

fn mfa_admins(s: &TenantSnapshot) -> Outcome {
    let enforced = match p::mfa_for_admins(s) {
        Ok(why) => why,
        Err(why) => return Outcome::fail(why),
    };
    let unregistered: Vec<&str> = s
        .user_registration_details
        .iter()
        .filter(|u| u.is_admin && !u.is_mfa_registered)
        .map(|u| u.user_principal_name.as_str())
        .collect();
    if unregistered.is_empty() {
        Outcome::pass(enforced)
    } else {
        Outcome::fail(format!(
            "MFA is required for administrators but {} admin account(s) have no MFA method registered",
            unregistered.len()
        ))
        .with_details(json!({ "unregisteredAdmins": unregistered }))
    }
}

pub(crate) fn sign_in_logs(s: &TenantSnapshot) -> Outcome {
    Outcome::judge(
        p::has_plan(s, ids::PLAN_ENTRA_P1),
        if p::has_plan(s, ids::PLAN_ENTRA_P1) {
            "Entra ID P1 is licensed: sign-in logs, with MFA details, are kept 30 days and can be exported to a SIEM"
        } else {
            "No Entra ID P1 licence: sign-in logs are kept 7 days and cannot be exported"
        },
    )
}

/// SMS, voice and email OTP are all disabled (shared with CIS 5.2.3.5).
pub(crate) fn weak_methods(s: &TenantSnapshot) -> Outcome {
    if s.authentication_methods_policy.is_none() {
        return Outcome::manual("The authentication methods policy could not be read");
    }
    let enabled: Vec<&str> =
        ["Sms", "Voice", "Email"].into_iter().filter(|m| p::method_enabled(s, m) == Some(true)).collect();
    Outcome::judge(
        enabled.is_empty(),
        if enabled.is_empty() {
            "SMS, voice call and email OTP are disabled in the authentication methods policy".to_string()
        } else {
            format!("Weak methods still enabled: {}", enabled.join(", "))
        },
    )
}

// ---- Admin privileges ---------------------------------------------------------------------------

fn global_admin_count(s: &TenantSnapshot) -> Outcome {
    let admins = p::role_holders(s, &[ids::GLOBAL_ADMINISTRATOR]);
    let names: Vec<String> = admins.iter().map(|id| p::principal_name(s, id)).collect();
    Outcome::judge(
        !admins.is_empty() && admins.len() <= MAX_GLOBAL_ADMINS,
        format!("{} Global Administrator(s), active or eligible (at most {MAX_GLOBAL_ADMINS})", admins.len()),
    )
    .with_details(json!({ "globalAdministrators": names }))
}

/// Privileged accounts with an Exchange Online mailbox (shared with CIS 1.1.4).
pub(crate) fn dedicated_admins(s: &TenantSnapshot) -> Outcome {
    let admins = p::privileged_users(s);
    if admins.is_empty() {
        return Outcome::manual("The privileged accounts' user objects were not collected");
    }
    let with_mail: Vec<&str> =
        admins.iter().filter(|u| p::has_mailbox(u)).map(|u| u.user_principal_name.as_str()).collect();
    Outcome::judge(
        with_mail.is_empty(),
        format!("{} of {} privileged account(s) have an Exchange Online mailbox", with_mail.len(), admins.len()),
    )
    .with_details(json!({ "privilegedAccountsWithMailbox": with_mail }))
}

fn inactive_admins(s: &TenantSnapshot) -> Outcome {
    let admins: Vec<_> = p::privileged_users(s).into_iter().filter(|u| u.account_enabled != Some(false)).collect();
    if admins.is_empty() || admins.iter().all(|u| u.sign_in_activity.is_none()) {
        return Outcome::manual("Sign-in activity of privileged accounts was not available (it needs Entra ID P1)");
    }
    // The last successful sign-in where Graph has it (a failed attempt is not use); an account
    // that never signed in is stale only once it is older than the window.
    let stale: Vec<&str> = admins
        .iter()
        .filter(|u| {
            let activity = u.sign_in_activity.as_ref();
            let last = activity
                .and_then(|a| a.last_successful_sign_in_date_time.as_deref().or(a.last_sign_in_date_time.as_deref()));
            let since = last.or(u.created_date_time.as_deref());
            p::days_before_collection(s, since).is_none_or(|d| d > PRIVILEGED_INACTIVE_DAYS)
        })
        .map(|u| u.user_principal_name.as_str())
        .collect();
    Outcome::judge(
        stale.is_empty(),
        format!("{} enabled privileged account(s) not used in {PRIVILEGED_INACTIVE_DAYS} days", stale.len()),
    )
    .with_details(json!({ "inactivePrivilegedAccounts": stale }))
}

/// The unified audit log records (shared with NIST and CIS).
pub(crate) fn unified_audit_log(s: &TenantSnapshot) -> Outcome {
    match s.admin_audit_log_config.as_ref().and_then(|c| c.unified_audit_log_ingestion_enabled) {
        Some(true) => Outcome::pass("The Microsoft 365 unified audit log is enabled"),
        Some(false) => Outcome::fail("The Microsoft 365 unified audit log is disabled"),
        None => Outcome::manual("The audit log configuration (Exchange Online) could not be read"),
    }
}

pub(crate) fn just_in_time(s: &TenantSnapshot) -> Outcome {
    let standing = p::standing_holders(s, ids::PRIVILEGED_ROLES);
    let eligible = s
        .role_eligibility_schedules
        .iter()
        .filter(|e| ids::PRIVILEGED_ROLES.contains(&e.role_definition_id.as_str()))
        .count();
    let names: Vec<String> = standing.iter().map(|id| p::principal_name(s, id)).collect();
    Outcome::judge(
        eligible > 0 && standing.len() <= MAX_STANDING_PRIVILEGED,
        format!("{} account(s) hold standing privileged roles (at most {MAX_STANDING_PRIVILEGED} emergency accounts); {eligible} eligible PIM assignment(s)", standing.len()),
    )
    .with_details(json!({ "standingPrivileged": names }))
}

fn credential_guard(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    // The legacy endpoint protection profile or template policy, or the catalog's LsaCfgFlags.
    // Endpoint security account protection policies (intents) count as profiles.
    let on = p::endpoint_protection_profiles(s).iter().any(|c| {
        c.device_guard_local_system_authority_credential_guard_settings
            .as_deref()
            .is_some_and(|v| v.starts_with("enableWith"))
    }) || p::setting_on(s, setting::WINDOWS_CREDENTIAL_GUARD) == Some(true);
    Outcome::judge(
        on,
        if on {
            "An Intune policy assigned to all devices enables Credential Guard"
        } else {
            "No Intune policy assigned to all devices enables Credential Guard"
        },
    )
}

// ---- Application control ------------------------------------------------------------------

/// App Control for Business or AppLocker in enforce mode (shared with NIST PR.PS-05).
pub(crate) fn application_control(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    let wdac = p::setting_on(s, setting::WINDOWS_APP_CONTROL_ENFORCED);
    let applocker: Vec<&str> = p::assigned_configurations(s, ENDPOINT_PROTECTION_CONFIGURATION)
        .filter_map(|c| c.app_locker_application_control.as_deref())
        .collect();
    if wdac == Some(true) {
        return Outcome::pass("An App Control for Business policy is enforced through Intune");
    }
    if applocker.iter().any(|m| m.starts_with("enforce")) {
        return Outcome::pass(
            "AppLocker application control is enforced through an Intune endpoint protection profile",
        );
    }
    if wdac == Some(false) || applocker.iter().any(|m| m.starts_with("audit")) {
        return Outcome::fail("Application control is deployed in audit mode only: nothing is blocked");
    }
    Outcome::fail("No assigned Intune policy enforces application control")
}

fn application_control_unmanaged(s: &TenantSnapshot) -> Outcome {
    let windows: Vec<_> =
        s.devices.iter().filter(|d| p::is_windows(&d.operating_system) && d.account_enabled != Some(false)).collect();
    if windows.is_empty() && p::managed_windows(s).is_empty() {
        return Outcome::not_applicable("No Windows devices are known to Entra ID or Intune");
    }
    let unmanaged: Vec<&str> =
        windows.iter().filter(|d| d.is_managed != Some(true)).map(|d| d.display_name.as_str()).collect();
    if unmanaged.is_empty() {
        Outcome::not_applicable("Every Windows device in Entra ID is under MDM; E8-AC-01 covers them")
    } else {
        Outcome::manual(format!(
            "{} Windows device(s) are not under MDM; Graph cannot show their application control",
            unmanaged.len()
        ))
        .with_details(json!({ "unmanagedDevices": unmanaged }))
    }
}

// ---- Patching -------------------------------------------------------------------------------

fn office_updates(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    let auto = p::setting_on(s, setting::OFFICE_AUTOMATIC_UPDATES);
    let deadline = p::setting_u64(s, setting::OFFICE_UPDATE_DEADLINE_DAYS);
    match (auto, deadline) {
        (Some(true), Some(d)) if d > 14 => {
            Outcome::fail(format!("Microsoft 365 Apps update automatically but the deadline is {d} days"))
        }
        (Some(true), _) => {
            Outcome::pass("Automatic updates for Microsoft 365 Apps are enforced by an assigned Intune policy")
        }
        (Some(false), _) => {
            Outcome::fail("An assigned Intune policy disables automatic updates for Microsoft 365 Apps")
        }
        (None, _) => Outcome::fail("No assigned Intune policy enforces automatic updates for Microsoft 365 Apps"),
    }
}

fn microsoft_update_service(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    let rings = p::update_rings(s);
    if rings.is_empty() {
        return Outcome::fail("No Windows Update ring is assigned in Intune");
    }
    let off: Vec<&str> = rings
        .iter()
        .filter(|r| r.microsoft_update_service_allowed != Some(true))
        .map(|r| r.display_name.as_str())
        .collect();
    Outcome::judge(
        off.is_empty(),
        if off.is_empty() {
            "Every assigned update ring delivers Microsoft product updates".to_string()
        } else {
            format!("Update rings without Microsoft product updates: {}", off.join(", "))
        },
    )
}

fn defender_signatures(s: &TenantSnapshot) -> Outcome {
    let reporting = match p::protection_states(s) {
        Ok(r) => r,
        Err(manual) => return manual,
    };
    let overdue: Vec<&str> = reporting
        .iter()
        .filter(|(_, w)| w.signature_update_overdue == Some(true))
        .map(|(d, _)| d.device_name.as_str())
        .collect();
    Outcome::judge(
        overdue.is_empty(),
        format!(
            "{} of {} reporting Windows device(s) have overdue security intelligence",
            overdue.len(),
            reporting.len()
        ),
    )
    .with_details(json!({ "overdueDevices": overdue }))
}

/// No Windows device past end of servicing (shared with NIST ID.AM-08).
pub(crate) fn supported_windows(s: &TenantSnapshot) -> Outcome {
    let (fleet, source) = p::windows_fleet(s);
    if fleet.is_empty() {
        return Outcome::not_applicable("No Windows devices are known to Intune or Entra ID");
    }
    let unsupported: Vec<String> = fleet
        .iter()
        .filter(|d| p::windows_build(d.version).is_none_or(|b| p::windows_unsupported(b, d.edition, s.collected_at)))
        .map(|d| format!("{} ({})", d.name, d.version))
        .collect();
    Outcome::judge(
        unsupported.is_empty(),
        format!(
            "{} of {} Windows device(s) in {source} run a release past end of support",
            unsupported.len(),
            fleet.len()
        ),
    )
    .with_details(json!({ "unsupportedDevices": unsupported }))
}

/// Share of active Windows devices in Entra ID under MDM (shared with NIST ID.AM-01).
pub(crate) fn devices_managed(s: &TenantSnapshot) -> Outcome {
    let active: Vec<_> = s
        .devices
        .iter()
        .filter(|d| {
            p::is_windows(&d.operating_system)
                && d.account_enabled != Some(false)
                && p::days_before_collection(s, d.approximate_last_sign_in_date_time.as_deref())
                    .is_none_or(|days| days <= ACTIVE_DEVICE_DAYS)
        })
        .collect();
    if active.is_empty() {
        return Outcome::not_applicable("No active Windows devices are registered in Entra ID");
    }
    let unmanaged: Vec<&str> =
        active.iter().filter(|d| d.is_managed != Some(true)).map(|d| d.display_name.as_str()).collect();
    let pct = (active.len() - unmanaged.len()) as f64 * 100.0 / active.len() as f64;
    Outcome::judge(
        pct >= MIN_MANAGED_PERCENT,
        format!(
            "{pct:.0}% of {} active Windows device(s) are under MDM (at least {MIN_MANAGED_PERCENT:.0}%)",
            active.len()
        ),
    )
    .with_details(json!({ "unmanagedDevices": unmanaged }))
}

fn current_windows(s: &TenantSnapshot) -> Outcome {
    // A feature update policy holding devices at an older release keeps them there.
    let held: Vec<String> = s
        .windows_feature_update_profiles
        .iter()
        .filter(|f| p::assigned_to_groups(&f.assignments))
        .filter_map(|f| {
            let release = p::feature_update_release(f.feature_update_version.as_deref()?)?;
            (!p::windows_current_or_previous(release.build, s.collected_at))
                .then(|| format!("'{}' holds devices at {}", f.display_name, release.name))
        })
        .collect();
    if !held.is_empty() {
        return Outcome::fail(format!(
            "Feature update policies hold devices at a release older than the previous one: {}",
            held.join("; ")
        ))
        .with_details(json!({ "heldBack": held }));
    }
    let (fleet, source) = p::windows_fleet(s);
    if fleet.is_empty() {
        return Outcome::not_applicable("No Windows devices are known to Intune or Entra ID");
    }
    let behind: Vec<String> = fleet
        .iter()
        .filter(|d| p::windows_build(d.version).is_none_or(|b| !p::windows_current_or_previous(b, s.collected_at)))
        .map(|d| format!("{} ({})", d.name, d.version))
        .collect();
    Outcome::judge(
        behind.is_empty(),
        format!(
            "{} of {} Windows device(s) in {source} run neither the latest nor the previous release",
            behind.len(),
            fleet.len()
        ),
    )
    .with_details(json!({ "devicesBehind": behind }))
}

// ---- Office macros --------------------------------------------------------------------------

fn macro_notification_enforced(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    match p::setting_str(s, setting::OFFICE_VBA_MACRO_NOTIFICATION).as_deref() {
        None => Outcome::fail("No assigned Intune policy sets the VBA macro notification setting: users decide"),
        Some("enableAll") => Outcome::fail("An assigned Intune policy enables all macros"),
        Some(v) => Outcome::pass(format!("VBA macro notification is enforced by policy ({v})")),
    }
}

fn signed_macros_only(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    match p::setting_str(s, setting::OFFICE_VBA_MACRO_NOTIFICATION).as_deref() {
        Some(v @ ("disableAll" | "disableAllExceptSigned")) => {
            Outcome::pass(format!("Only trusted-publisher macros can run ({v})"))
        }
        Some(v) => Outcome::fail(format!("Unsigned macros can still be enabled ({v})")),
        None => Outcome::fail("No assigned Intune policy restricts macros to trusted publishers"),
    }
}

// ---- User application hardening --------------------------------------------------------------

fn edge_smartscreen(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    let on = p::setting_on(s, setting::EDGE_SMARTSCREEN) == Some(true);
    let locked = p::setting_on(s, setting::EDGE_SMARTSCREEN_NO_OVERRIDE) == Some(true);
    Outcome::judge(
        on && locked,
        match (on, locked) {
            (true, true) => "Edge SmartScreen is enforced and its warnings cannot be bypassed",
            (true, false) => "Edge SmartScreen is on but users can click through its warnings",
            _ => "No assigned Intune policy enforces Edge SmartScreen",
        },
    )
}

// ---- Backups --------------------------------------------------------------------------------

/// Microsoft 365 Backup covers the workloads, else manual (shared with NIST PR.DS-11).
pub(crate) fn m365_backup(s: &TenantSnapshot) -> Outcome {
    match p::m365_backup(s) {
        Ok(why) => Outcome::pass(why),
        Err(why) => {
            Outcome::manual(format!("{why}; confirm a third-party backup covers Exchange, SharePoint and OneDrive"))
        }
    }
}

pub(crate) fn immutable_backup(s: &TenantSnapshot) -> Outcome {
    match p::m365_backup(s) {
        Ok(_) => {
            Outcome::pass("Microsoft 365 Backup keeps immutable restore points that admins cannot alter or delete")
        }
        Err(why) => Outcome::manual(format!("{why}; confirm the backup service in use is immutable")),
    }
}

// ---- Added reads: Windows Hello, LAPS, access reviews, expedited updates ---------------------

fn windows_hello(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    // The default enrollment policy (priority 0) applies to every user; others to whom they
    // reach.
    let policies: Vec<_> = s
        .device_enrollment_configurations
        .iter()
        .filter(|c| c.odata_type == WINDOWS_HELLO_ENROLLMENT)
        .filter(|c| c.priority == Some(0) || p::reaches_everyone(&c.assignments))
        .collect();
    let enrolled = policies.iter().any(|c| c.state.as_deref() == Some("enabled"));
    match (p::setting_on(s, setting::WINDOWS_HELLO_FOR_BUSINESS), enrolled) {
        (Some(true), _) | (None, true) => Outcome::pass(
            "Windows Hello for Business is enabled for every user by Intune policy; confirm password sign-in is not still allowed",
        ),
        (Some(false), _) => Outcome::fail("An Intune policy assigned to all devices turns Windows Hello for Business off"),
        (None, false) => Outcome::fail(
            "No Intune policy requires Windows Hello for Business for every user: Windows sign-in can be a password alone",
        ),
    }
}

fn windows_laps(s: &TenantSnapshot) -> Outcome {
    if let Err(manual) = p::require_intune_windows(s) {
        return manual;
    }
    // Windows' default password length when the policy does not set one.
    const LAPS_DEFAULT_LENGTH: u64 = 14;
    const MIN_LENGTH: u64 = 30;
    match (
        p::setting_on(s, setting::WINDOWS_LAPS_BACKUP_DIRECTORY),
        p::setting_u64(s, setting::WINDOWS_LAPS_PASSWORD_LENGTH),
    ) {
        (Some(true), length) => {
            let length = length.unwrap_or(LAPS_DEFAULT_LENGTH);
            Outcome::judge(
                length >= MIN_LENGTH,
                format!(
                    "Windows LAPS manages local administrator passwords of {length} characters (at least {MIN_LENGTH})"
                ),
            )
        }
        (Some(false), _) => Outcome::fail("The Windows LAPS policy assigned to all devices backs up no password"),
        (None, _) => Outcome::fail(
            "No Intune policy assigned to all devices manages local administrator passwords with Windows LAPS",
        ),
    }
}

fn privileged_access_reviewed(s: &TenantSnapshot) -> Outcome {
    let reviews: Vec<&str> = s
        .access_review_definitions
        .iter()
        .filter(|d| d.status.as_deref() != Some("Completed"))
        .filter(|d| p::reviews_directory_roles(d) && p::recurs_yearly_or_more_often(d))
        .map(|d| d.display_name.as_str())
        .collect();
    Outcome::judge(
        !reviews.is_empty(),
        if reviews.is_empty() {
            "No recurring access review re-approves the privileged directory roles at least yearly".to_string()
        } else {
            format!("Recurring access reviews re-approve the directory roles: {}", reviews.join(", "))
        },
    )
    .with_details(json!({ "roleAccessReviews": reviews }))
}

/// Update rings within 2 days, or the newest quality update expedited.
fn critical_updates_within_48_hours(s: &TenantSnapshot) -> Outcome {
    let rings = p::rings_within(s, 2);
    if rings.status != super::Status::Fail {
        return rings;
    }
    match p::recent_expedite(s, EXPEDITE_MAX_AGE_DAYS) {
        Some((name, release)) => Outcome::pass(format!(
            "The quality update policy '{name}' expedites the update released {release} to its groups"
        )),
        None => rings,
    }
}
