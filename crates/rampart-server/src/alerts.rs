//! Security-violation alerts to `RAMPART_ALERT_WEBHOOK`.
//!
//! Alerts go through a bounded queue (1024) to one background sender that
//! POSTs each as JSON, retrying with back-off (4 attempts: 0.25, 0.5, 1 s
//! apart, 5 s timeout each). A request only enqueues, so a slow or dead
//! webhook never slows it; a full queue drops the alert, counts it
//! (`rampart_alerts_total{outcome="dropped"}`) and logs it at error level.
//! The audit trail keeps every event regardless.

use std::time::Duration;

use rampart::audit::AuditEntry;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::metrics::Metrics;

const QUEUE: usize = 1024;
const ATTEMPTS: u32 = 4;

/// The alert queue's sending side; cheap to clone.
#[derive(Debug, Clone)]
pub struct Alerter {
    tx: Option<mpsc::Sender<Value>>,
    metrics: Metrics,
}

impl Alerter {
    /// Starts the sender when a webhook is configured.
    pub fn start(url: Option<&http::Uri>, metrics: Metrics) -> Self {
        let Some(url) = url.map(ToString::to_string) else {
            return Self { tx: None, metrics };
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(deliver(url, rx, metrics.clone()));
        Self {
            tx: Some(tx),
            metrics,
        }
    }

    /// The alert body for an audit entry: its fields, details already redacted.
    pub fn payload(entry: &AuditEntry) -> Value {
        json!({
            "event_type": entry.event_type,
            "seq": entry.seq,
            "ts": entry.ts,
            "user_id": entry.user_id,
            "ip": entry.ip,
            "request_id": entry.request_id,
            "details": serde_json::from_str::<Value>(&entry.details).unwrap_or(Value::Null),
        })
    }

    /// Enqueues an alert for `entry` without waiting.
    pub fn send(&self, entry: &AuditEntry) {
        let Some(tx) = &self.tx else { return };
        if tx.try_send(Self::payload(entry)).is_err() {
            self.metrics.alert("dropped");
            tracing::error!(
                seq = entry.seq,
                event_type = entry.event_type,
                "alert queue full; alert dropped (the audit trail has the event)"
            );
        }
    }
}

async fn deliver(url: String, mut rx: mpsc::Receiver<Value>, metrics: Metrics) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "alert webhook client could not be built; alerts disabled");
            return;
        }
    };
    while let Some(alert) = rx.recv().await {
        let mut delivered = false;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(250 << (attempt - 1))).await;
            }
            match client.post(&url).json(&alert).send().await {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(
                    status = r.status().as_u16(),
                    attempt,
                    "alert webhook refused the alert"
                ),
                Err(e) => tracing::warn!(error = %e, attempt, "alert webhook unreachable"),
            }
        }
        if delivered {
            metrics.alert("sent");
        } else {
            metrics.alert("failed");
            tracing::error!(
                seq = alert["seq"].as_i64(),
                "alert could not be delivered after {ATTEMPTS} attempts"
            );
        }
    }
}
