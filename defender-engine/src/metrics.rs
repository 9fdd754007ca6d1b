//! Engine metrics. With the `prometheus` feature they are kept in a Prometheus registry and
//! exported by [`Engine::metrics_text`](crate::Engine::metrics_text); without it every call
//! compiles to nothing.
//!
//! The alert metrics (`defender_monitor_matches`, `defender_notifications`) carry the
//! monitor's `severity`: `high`, `medium`, `low`, or `none` for a monitor without one.

use defender_core::Severity;

/// The `severity` label of a monitor's severity.
#[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
fn severity_label(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::High) => "high",
        Some(Severity::Medium) => "medium",
        Some(Severity::Low) => "low",
        None => "none",
    }
}

#[cfg(feature = "prometheus")]
mod imp {
    use defender_core::Severity;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::registry::Registry;

    type Labels = Vec<(&'static str, String)>;

    /// Counters and gauges of one engine.
    #[derive(Debug)]
    pub(crate) struct Metrics {
        registry: Registry,
        runs: Family<Labels, Counter>,
        run_errors: Family<Labels, Counter>,
        matches: Family<Labels, Counter>,
        notifications: Family<Labels, Counter>,
        block_lag: Family<Labels, Gauge>,
    }

    impl Default for Metrics {
        fn default() -> Self {
            let mut registry = Registry::with_prefix("defender");
            let runs = Family::<Labels, Counter>::default();
            let run_errors = Family::<Labels, Counter>::default();
            let matches = Family::<Labels, Counter>::default();
            let notifications = Family::<Labels, Counter>::default();
            let block_lag = Family::<Labels, Gauge>::default();
            registry.register(
                "action_runs",
                "Action runs by action, trigger and status",
                runs.clone(),
            );
            registry.register(
                "action_run_errors",
                "Failed action runs by error type",
                run_errors.clone(),
            );
            registry.register(
                "monitor_matches",
                "Monitor matches by monitor and severity",
                matches.clone(),
            );
            registry.register(
                "notifications",
                "Monitor alert notifications by channel alias, outcome and severity",
                notifications.clone(),
            );
            registry.register(
                "monitor_block_lag",
                "Blocks between the chain head and the last processed block",
                block_lag.clone(),
            );
            Metrics {
                registry,
                runs,
                run_errors,
                matches,
                notifications,
                block_lag,
            }
        }
    }

    impl Metrics {
        /// Whether metrics are kept (the block lag costs a head read per block).
        pub(crate) const ENABLED: bool = true;

        pub(crate) fn run(
            &self,
            action_id: &str,
            trigger: &str,
            status: &str,
            error_type: Option<&str>,
        ) {
            self.runs
                .get_or_create(&vec![
                    ("action_id", action_id.to_owned()),
                    ("trigger", trigger.to_owned()),
                    ("status", status.to_owned()),
                ])
                .inc();
            if let Some(t) = error_type {
                self.run_errors
                    .get_or_create(&vec![
                        ("action_id", action_id.to_owned()),
                        ("error_type", t.to_owned()),
                    ])
                    .inc();
            }
        }

        pub(crate) fn matched(&self, monitor_id: &str, severity: Option<Severity>, n: u64) {
            self.matches
                .get_or_create(&vec![
                    ("monitor_id", monitor_id.to_owned()),
                    ("severity", super::severity_label(severity).to_owned()),
                ])
                .inc_by(n);
        }

        pub(crate) fn notification(
            &self,
            alias: &str,
            severity: Option<Severity>,
            delivered: bool,
        ) {
            let outcome = if delivered { "delivered" } else { "failed" };
            self.notifications
                .get_or_create(&vec![
                    ("channel_alias", alias.to_owned()),
                    ("outcome", outcome.to_owned()),
                    ("severity", super::severity_label(severity).to_owned()),
                ])
                .inc();
        }

        pub(crate) fn block_lag(&self, network: &str, lag: u64) {
            self.block_lag
                .get_or_create(&vec![("network", network.to_owned())])
                .set(i64::try_from(lag).unwrap_or(i64::MAX));
        }

        pub(crate) fn encode(&self) -> String {
            let mut out = String::new();
            // Writing into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
            out
        }
    }
}

#[cfg(not(feature = "prometheus"))]
mod imp {
    use defender_core::Severity;

    /// Without the `prometheus` feature, metrics are not kept.
    #[derive(Debug, Default)]
    pub(crate) struct Metrics {
        _none: (),
    }

    impl Metrics {
        /// Whether metrics are kept.
        pub(crate) const ENABLED: bool = false;

        pub(crate) fn run(&self, _: &str, _: &str, _: &str, _: Option<&str>) {}
        pub(crate) fn matched(&self, _: &str, _: Option<Severity>, _: u64) {}
        pub(crate) fn notification(&self, _: &str, _: Option<Severity>, _: bool) {}
        pub(crate) fn block_lag(&self, _: &str, _: u64) {}
    }
}

pub(crate) use imp::Metrics;
