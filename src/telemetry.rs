//! Logging: `tracing` to stdout, pretty or JSON, filtered by `RUST_LOG` (default `info`); metrics
//! in the Prometheus text format.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// Callbacks per group commit (a histogram counted in callbacks, not seconds).
pub const CALLBACK_GROUP_SIZE: &str = "custody_callback_group_size";

/// Groups of new deposits only that found one of their transfers stored already, and so were
/// stored again in a transaction that moves it on.
pub const CALLBACK_GROUP_RETRIED: &str = "custody_callback_groups_retried_total";

/// The process's Prometheus recorder, installed on first use, rendered by `GET /metrics`.
/// Recording before it is installed, or in a process where another recorder won, is a no-op.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0,
            ])
            .expect("bucket bounds are valid")
            .set_buckets_for_metric(
                Matcher::Full(CALLBACK_GROUP_SIZE.to_owned()),
                &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            )
            .expect("bucket bounds are valid")
            .build_recorder();
        let handle = recorder.handle();
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}
