//! The webhooks' part of a personal-data export: the account's endpoints (through the owner index, as the eraser
//! finds them; their sealed signing secrets are never exported) and each endpoint's delivery history.

use async_trait::async_trait;
use lectern_shared::Platform;
use lectern_shared::export::{ExportError, ExportSink, Exporter, export_query};
use lectern_shared::table::Entity;
use serde_json::Value;

use crate::deliveries::Delivery;
use crate::endpoints::BY_OWNER;

const PAGE: usize = 100;

/// Exports an account's webhook endpoints.
pub struct WebhooksExporter {
    platform: Platform,
}

impl WebhooksExporter {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }
}

#[async_trait]
impl Exporter for WebhooksExporter {
    fn name(&self) -> &'static str {
        "webhooks"
    }

    fn entities(&self) -> &'static [(&'static str, &'static str)] {
        &[
            (
                "webhook_endpoint",
                "your webhook endpoints: URL, events, status (never the signing secret)",
            ),
            (
                "webhook_delivery",
                "each endpoint's recent deliveries: event, attempts, response codes",
            ),
        ]
    }

    async fn export(&self, user_id: &str, sink: &mut dyn ExportSink) -> Result<(), ExportError> {
        let table = self.platform.table.as_ref();
        let mut cursor = None;
        loop {
            let page = table
                .query(BY_OWNER.query(&[user_id]).limit(PAGE).after(cursor))
                .await?;
            let endpoints: Vec<String> = page
                .items
                .iter()
                .filter_map(|item| item.get("endpoint_id").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            sink.items(self.name(), page.items)?;
            for endpoint in endpoints {
                let history = Delivery::INFO
                    .query(&[&endpoint])
                    .sk(Delivery::INFO.primary.sk.begins_with(&[]))
                    .limit(PAGE);
                export_query(table, history, self.name(), sink).await?;
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(()),
            }
        }
    }
}
