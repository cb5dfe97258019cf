//! Several items read together (`ReadTogether`): each through its own getter.

use super::*;

#[async_trait]
impl ReadTogether for MemoryStore {
    async fn read_together(&self, wants: &[Want]) -> StoreResult<Vec<Got>> {
        let mut got = Vec::with_capacity(wants.len());
        for want in wants {
            got.push(match want {
                Want::Distributor(id) => Got::Distributor(self.distributor(id).await?),
                Want::Partner(id) => Got::Partner(self.partner(id).await?),
                Want::Customer { partner_id, id } => Got::Customer(self.customer(partner_id, id).await?),
                Want::Run { partner_id, id } => Got::Run(self.run(partner_id, id).await?),
                Want::RunReport { partner_id, run_id } => Got::RunReport(self.run_report(partner_id, run_id).await?),
                Want::RunsUsed { partner_id, month } => Got::RunsUsed(self.runs_used(partner_id, *month).await?),
                Want::Endpoint { owner, id } => Got::Endpoint(self.endpoint(owner, id).await?),
                Want::PartnerIds(distributor) => Got::PartnerIds(Some(self.partner_ids(distributor))),
            });
        }
        Ok(got)
    }
}
