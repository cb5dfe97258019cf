//! Request bodies the tests send again and again, built in one place. Keys come out in the
//! order written here (serde_json keeps insertion order), the order the reference shows.

use serde_json::{json, Value};

/// P5/D11 create-customer body: `{ "name", "tenantId" }`.
pub fn customer_body(name: &str, tenant_id: &str) -> Value {
    json!({ "name": name, "tenantId": tenant_id })
}

/// P10/D12 trigger body: `{ "customerId", "product" }`.
pub fn assessment_body(customer_id: &str, product: &str) -> Value {
    json!({ "customerId": customer_id, "product": product })
}

/// D3 provision-partner body: company `Co {email}`, admin `Admin`, billed quarterly in AUD.
pub fn partner_body(email: &str, plan: &str) -> Value {
    json!({
        "email": email,
        "company": format!("Co {email}"),
        "name": "Admin",
        "plan": plan,
        "billing": { "currency": "AUD", "interval": "quarterly" }
    })
}

/// Create-webhook-endpoint body (both surfaces): `{ "url", "events" }`.
pub fn webhook_body(url: &str, events: &[&str]) -> Value {
    json!({ "url": url, "events": events })
}

/// Adds or replaces one field of a JSON object body; a replaced field keeps its place.
pub trait With {
    fn with(self, field: &str, value: impl Into<Value>) -> Value;
}

impl With for Value {
    fn with(mut self, field: &str, value: impl Into<Value>) -> Value {
        self.as_object_mut().expect("a JSON object body").insert(field.to_string(), value.into());
        self
    }
}
