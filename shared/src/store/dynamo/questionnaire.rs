//! Questionnaire answers (`QuestionnaireStore`): one item per customer, product and question
//! (`PARTNER#p` / `QA#c#<product>#<question id>`), so answers to different questions never
//! contend and no item grows with its notes.

use super::*;
use crate::domain::questionnaire::StoredAnswer;

#[async_trait]
impl QuestionnaireStore for DynamoStore {
    async fn answers(&self, partner_id: &str, customer_id: &str, product: &str) -> StoreResult<Vec<StoredAnswer>> {
        let q = Query::prefix(schema::partner_pk(partner_id), &schema::answers_prefix(customer_id, product), true);
        self.all(&q).await?.into_iter().map(de).collect()
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
        // The customer must exist (and not be being deleted) when the answers land: deleting
        // it removes its answers, and an answer written after that would be left behind.
        let mut ops = vec![Op::check(
            schema::customer(partner_id, customer_id),
            "attribute_exists(PK) AND attribute_not_exists(#deleting)",
        )];
        for a in answers {
            let mut item = ser(a)?;
            item.extend(schema::answer(partner_id, customer_id, product, &a.question_id));
            ops.push(Op::put(item));
        }
        if let Some(e) = event {
            ops.push(event_put(e)?);
        }
        match self.transact(ops).await? {
            Ok(()) => Ok(()),
            Err(c) if c.failed(0) => Err(StoreError::NotFound),
            Err(_) => Err(StoreError::Conflict),
        }
    }
}
