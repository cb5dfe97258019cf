//! Questionnaire answers (`QuestionnaireStore`).

use super::*;
use crate::domain::questionnaire::StoredAnswer;

#[async_trait]
impl QuestionnaireStore for MemoryStore {
    async fn answers(&self, partner_id: &str, customer_id: &str, product: &str) -> StoreResult<Vec<StoredAnswer>> {
        let s = self.lock();
        let key = (partner_id.to_string(), customer_id.to_string(), product.to_string());
        Ok(s.answers.get(&key).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }

    async fn put_answers(
        &self,
        partner_id: &str,
        customer_id: &str,
        product: &str,
        answers: &[StoredAnswer],
        event: Option<&Event>,
    ) -> StoreResult<()> {
        if answers.len() > MAX_ANSWERS_PER_WRITE {
            return Err(StoreError::TooLarge(format!("{} answers in one write", answers.len())));
        }
        let mut s = self.lock();
        s.customer_is_there(partner_id, customer_id)?;
        let key = (partner_id.to_string(), customer_id.to_string(), product.to_string());
        let stored = s.answers.entry(key).or_default();
        for a in answers {
            stored.insert(a.question_id.clone(), a.clone());
        }
        if let Some(e) = event {
            s.record(e);
        }
        Ok(())
    }
}
