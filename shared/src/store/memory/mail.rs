//! Recorded mail (`MailStore`).

use super::*;
use crate::domain::mail::{MailKind, MailMessage, MailStatus};

#[async_trait]
impl MailStore for MemoryStore {
    async fn create_message(&self, message: &MailMessage) -> StoreResult<()> {
        let mut s = self.lock();
        if s.mail.contains_key(&message.id) {
            return Err(StoreError::Conflict);
        }
        s.mail.insert(message.id.clone(), message.clone());
        for viewer in &message.entry.viewers {
            s.mail_by_viewer
                .entry(viewer.clone())
                .or_default()
                .insert(message.id.clone(), (message.id.clone(), message.entry.kind));
        }
        Ok(())
    }

    async fn mail_message(&self, id: &str) -> StoreResult<Option<MailMessage>> {
        Ok(self.lock().mail.get(id).cloned())
    }

    async fn claim_mail(
        &self,
        id: &str,
        attempt: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<MailClaim> {
        let mut s = self.lock();
        let Some(m) = s.mail.get(id).cloned() else { return Ok(MailClaim::Stale) };
        if m.status != MailStatus::Pending || m.attempts + 1 != attempt {
            return Ok(MailClaim::Stale);
        }
        if let Some((_, until)) = s.mail_claims.get(id) {
            if *until > now {
                return Ok(MailClaim::Held);
            }
        }
        s.mail_claims.insert(id.to_string(), (attempt, lease_until));
        Ok(MailClaim::Claimed(Box::new(m)))
    }

    async fn record_mail(
        &self,
        id: &str,
        attempt: u32,
        status: MailStatus,
        at: Timestamp,
        error: Option<&str>,
    ) -> StoreResult<MailMessage> {
        let mut s = self.lock();
        let Some(m) = s.mail.get_mut(id) else { return Err(StoreError::NotFound) };
        if m.status != MailStatus::Pending || m.attempts + 1 != attempt {
            return Err(StoreError::Conflict);
        }
        m.attempts = attempt;
        m.status = status;
        if status == MailStatus::Sent {
            m.sent_at = Some(at);
        }
        if let Some(e) = error {
            m.error = Some(e.to_string());
        }
        let out = m.clone();
        s.mail_claims.remove(id);
        Ok(out)
    }

    async fn list_messages(
        &self,
        viewer: &Owner,
        kind: Option<MailKind>,
        page: &PageRequest,
    ) -> StoreResult<Page<MailMessage>> {
        let s = self.lock();
        let entries = page_of(s.mail_by_viewer.get(viewer), page, true, |(_, k)| kind.is_none_or(|want| *k == want));
        let items = entries.items.iter().filter_map(|(id, _)| s.mail.get(id).cloned()).collect();
        Ok(Page { items, next: entries.next })
    }
}
