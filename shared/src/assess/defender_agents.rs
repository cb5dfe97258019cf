//! Defender's protection state per device, read from Intune's `DefenderAgents` report.
//!
//! Graph's managed device list does not carry `windowsProtectionState` (it is served per
//! device: 20,000 requests on a large tenant), so the collector asks Intune to export the
//! report once per run: `POST /beta/deviceManagement/reports/exportJobs` with
//! `{reportName: "DefenderAgents", format: "csv", select}`, polls
//! `GET …/exportJobs('{id}')` until `status` is `completed` (or `failed`), then downloads `url`,
//! a ZIP holding one CSV. The columns are those Microsoft lists for the report ("Intune reports
//! and properties available using Graph API", UnhealthyDefenderAgents and DefenderAgents);
//! the job's properties and statuses are Graph beta's `deviceManagementExportJob` and
//! `deviceManagementReportStatus`. Permission: DeviceManagementManagedDevices.Read.All.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::time::Duration;

use serde_json::{json, Value};

use super::snapshot::WindowsProtectionState;
use crate::graph::{GraphError, TenantSession};

/// Where export jobs are created (beta: the export API's documented home).
pub const EXPORT_JOBS: &str = "/beta/deviceManagement/reports/exportJobs";

/// The key of `unreadReasons` that says why the report could not be read: the protection
/// state is part of `managedDevices`, which was read, so no field is `unread`; the Defender
/// checks name this reason instead (`checks::probes::protection_states`).
pub const REASON_KEY: &str = "defenderAgents";

/// The report's columns the checks need (names as Microsoft lists them); `DeviceId` is the
/// Intune device id, the managed device's `id`.
pub const COLUMNS: [&str; 6] = [
    "DeviceId",
    "DeviceName",
    "MalwareProtectionEnabled",
    "RealTimeProtectionEnabled",
    "SignatureUpdateOverdue",
    "SignatureVersion",
];

/// The most the collector waits in all for the job (on the injected sleeper): Intune usually
/// finishes within seconds to a minute, and the runs worker has 120 s (template.yaml) for the
/// whole collection. Past it the report is left unread for this run.
pub const POLL_BUDGET: Duration = Duration::from_secs(60);
/// The first wait before polling; doubled each time up to [`MAX_POLL_WAIT`].
const FIRST_POLL_WAIT: Duration = Duration::from_secs(2);
const MAX_POLL_WAIT: Duration = Duration::from_secs(10);

/// The largest ZIP downloaded (64 MiB: a 100,000-device report is a few MiB zipped).
pub const MAX_ZIP_BYTES: usize = 64 << 20;
/// The most CSV read out of the ZIP (a guard against a file that inflates without bound).
pub const MAX_CSV_BYTES: u64 = 1 << 30;

/// How the export ended, when Graph answered every request.
#[derive(Debug)]
pub enum Export {
    /// The report's rows, by Intune device id.
    Read(BTreeMap<String, WindowsProtectionState>),
    /// The job failed, did not finish within [`POLL_BUDGET`], or its file was unusable: why.
    Unusable(String),
}

/// Runs the export: creates the job, polls it with backoff on the session's sleeper within
/// [`POLL_BUDGET`], downloads the file (without the Graph token) and parses it. Graph's
/// refusals (403, a licence, 404) come back as the [`GraphError`] so the collector treats them
/// as every other read's.
pub async fn export(session: &TenantSession<'_>) -> Result<Export, GraphError> {
    let job = session
        .post(EXPORT_JOBS, &json!({ "reportName": "DefenderAgents", "format": "csv", "select": COLUMNS }))
        .await?;
    let Some(id) = job["id"].as_str().filter(|id| is_plain_id(id)).map(str::to_string) else {
        return Ok(Export::Unusable("Intune created the export job without a usable id".into()));
    };
    let poll = format!("{EXPORT_JOBS}('{id}')");
    let (mut waited, mut wait) = (Duration::ZERO, FIRST_POLL_WAIT);
    let url = loop {
        if waited + wait > POLL_BUDGET {
            return Ok(Export::Unusable(format!(
                "Intune's DefenderAgents export did not complete within {} s",
                POLL_BUDGET.as_secs()
            )));
        }
        session.pause(wait).await;
        waited += wait;
        wait = (wait * 2).min(MAX_POLL_WAIT);
        let job = session.get(&poll).await?;
        match job["status"].as_str() {
            Some("completed") => match job["url"].as_str() {
                Some(url) => break url.to_string(),
                None => return Ok(Export::Unusable("Intune's export completed without a file".into())),
            },
            Some("failed") => return Ok(Export::Unusable("Intune's DefenderAgents export job failed".into())),
            _ => {}
        }
    };
    let file = session.download(&url, MAX_ZIP_BYTES).await?;
    Ok(match read_report(&file) {
        Ok(rows) => Export::Read(rows),
        Err(why) => Export::Unusable(why),
    })
}

/// An export job id as Intune makes them (`DefenderAgents_<guid>`): it goes into a URL.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 200 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses the export's ZIP (one CSV) into protection states by device id. The CSV is read as a
/// stream out of the ZIP (never inflated whole), at most [`MAX_CSV_BYTES`]. A row without a
/// `DeviceId` is skipped; a value that is not `True`/`False` (any case) is unknown (`None`).
/// Errors (in words, for the report): not a ZIP, no CSV in it, a CSV without `DeviceId`, a
/// malformed row.
pub fn read_report(zip_bytes: &[u8]) -> Result<BTreeMap<String, WindowsProtectionState>, String> {
    let unusable = |e: &dyn std::fmt::Display| format!("Intune's DefenderAgents export could not be read: {e}");
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes)).map_err(|e| unusable(&e))?;
    let index = (0..archive.len())
        .find(|i| archive.name_for_index(*i).is_some_and(|n| n.is_ok_and(|n| n.to_ascii_lowercase().ends_with(".csv"))))
        .ok_or_else(|| unusable(&"the file holds no CSV"))?;
    let entry = archive.by_index(index).map_err(|e| unusable(&e))?;
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(entry.take(MAX_CSV_BYTES));
    let headers = csv.headers().map_err(|e| unusable(&e))?.clone();
    // Excel-friendly exports start with a byte-order mark.
    let column = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}').trim() == name);
    let id_at = column("DeviceId").ok_or_else(|| unusable(&"the CSV has no DeviceId column"))?;
    let [malware, rtp, overdue, version] = [
        column("MalwareProtectionEnabled"),
        column("RealTimeProtectionEnabled"),
        column("SignatureUpdateOverdue"),
        column("SignatureVersion"),
    ];
    let mut states = BTreeMap::new();
    let mut record = csv::StringRecord::new();
    while csv.read_record(&mut record).map_err(|e| unusable(&e))? {
        let get = |at: Option<usize>| at.and_then(|i| record.get(i)).map(str::trim).filter(|v| !v.is_empty());
        let Some(id) = get(Some(id_at)) else { continue };
        states.insert(
            id.to_string(),
            WindowsProtectionState {
                malware_protection_enabled: get(malware).and_then(flag),
                real_time_protection_enabled: get(rtp).and_then(flag),
                signature_update_overdue: get(overdue).and_then(flag),
                signature_version: get(version).map(str::to_string),
            },
        );
    }
    Ok(states)
}

fn flag(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Puts each row's state on the managed device of that id (Graph's `managedDevice`
/// JSON as the collector read it); devices the report does not list keep none.
pub fn attach(devices: &mut [Value], states: &BTreeMap<String, WindowsProtectionState>) {
    for d in devices {
        let Some(state) = d["id"].as_str().and_then(|id| states.get(id)) else { continue };
        d["windowsProtectionState"] = serde_json::to_value(state).unwrap_or(Value::Null);
    }
}
