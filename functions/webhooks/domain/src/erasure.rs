//! Forgetting an account's webhooks when the account is erased: its endpoints (found through the owner index),
//! their subscriptions and their delivery history.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::erasure::{Budget, EraseError, Erased, Eraser, erase_items};
use lectern_shared::table::{Entity, TableError};

use crate::deliveries::Delivery;
use crate::endpoints::{BY_OWNER, Endpoint};

/// Erases an account's webhook endpoints (`account.purge` runs it before the accounts' own eraser).
pub struct WebhooksEraser {
    platform: Platform,
}

impl WebhooksEraser {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

#[async_trait]
impl Eraser for WebhooksEraser {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    async fn erase(&self, user_id: &str, budget: &Budget) -> Result<Erased, EraseError> {
        let table = self.platform.table.as_ref();
        loop {
            let page = table
                .query(BY_OWNER.query(&[user_id]).limit(25))
                .await
                .map_err(EraseError::from)?;
            if page.items.is_empty() {
                return Ok(Erased::Done);
            }
            for item in page.items {
                let endpoint = Endpoint::from_item(item).map_err(EraseError::from)?;
                // History first, the endpoint last: a rerun finds the endpoint until everything of it is gone.
                let history = Delivery::INFO
                    .query(&[&endpoint.endpoint_id])
                    .sk(Delivery::INFO.primary.sk.begins_with(&[]));
                if erase_items(table, history, |_| false, budget).await? == Erased::More {
                    return Ok(Erased::More);
                }
                for event_type in &endpoint.event_types {
                    let sub = crate::endpoints::Subscription {
                        event_type: event_type.clone(),
                        endpoint_id: endpoint.endpoint_id.clone(),
                    };
                    table
                        .delete(&sub.key(), lectern_shared::table::Condition::Always)
                        .await
                        .map_err(EraseError::from)?;
                }
                match table
                    .delete(&endpoint.key(), lectern_shared::table::Condition::Always)
                    .await
                {
                    Ok(()) | Err(TableError::ConditionFailed) => {}
                    Err(e) => return Err(e.into()),
                }
                if budget.spent() {
                    return Ok(Erased::More);
                }
            }
        }
    }
}
