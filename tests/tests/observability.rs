//! What the chart ships for on-call people works with what the binaries export: every metric
//! the Grafana dashboard and the alerts query is served by the real `gco-controller` or
//! `gco-webhook` on `/metrics`, the dashboard shows every metric they export, and promtool
//! (built from its Go module by `hack/promtool.sh`) accepts the rendered PrometheusRule and
//! fires its alerts when their conditions hold.

use std::{collections::BTreeSet, net::SocketAddr, time::Duration};

use gco_tests::{
    http_client::{http, over_tls},
    procs::free_port,
    promql::{exposed_names, metric_names},
    scenario::{Scenario, configmap_fields, gitcommit},
    tools::{run, tool, yaml_documents},
    webhook::WebhookProcess,
    workspace_root,
};
use serde_json::{Value, json};

/// The chart rendered with the dashboard and the alerts on: (dashboard JSON, rule groups).
fn rendered() -> (Value, Value) {
    let output = run(tool("helm")
        .expect("helm")
        .args(["template", "gco", "--namespace", "gco-system"])
        .arg(workspace_root().join("charts/git-change-operator"))
        .args([
            "--set",
            "metrics.dashboard.enabled=true",
            "--set",
            "metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.prometheusRule.additionalLabels.team=platform",
        ]))
    .expect("helm template");
    let objects = yaml_documents(&String::from_utf8_lossy(&output.stdout)).expect("YAML");
    let find = |kind: &str| {
        objects
            .iter()
            .find(|o| o["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} rendered"))
            .clone()
    };
    let configmap = find("ConfigMap");
    assert_eq!(configmap["metadata"]["labels"]["grafana_dashboard"], "1");
    let text = configmap["data"]["git-change-operator.json"]
        .as_str()
        .expect("dashboard JSON in the ConfigMap");
    let dashboard = serde_json::from_str(text).expect("the dashboard is JSON");
    (dashboard, find("PrometheusRule")["spec"].clone())
}

/// Every `expr` of the dashboard's panels (rows included).
fn dashboard_exprs(dashboard: &Value) -> Vec<String> {
    fn walk(panels: &Value, out: &mut Vec<String>) {
        for panel in panels.as_array().into_iter().flatten() {
            for target in panel["targets"].as_array().into_iter().flatten() {
                out.extend(target["expr"].as_str().map(str::to_owned));
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

fn rule_exprs(spec: &Value) -> Vec<String> {
    spec["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|group| group["rules"].as_array().into_iter().flatten())
        .filter_map(|rule| rule["expr"].as_str().map(str::to_owned))
        .collect()
}

/// An admission review of a harmless GitCommit, for the webhook to count.
const REVIEW: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"obs","kind":{"group":"gco.galos.one","version":"v1","kind":"GitCommit"},"resource":{"group":"gco.galos.one","version":"v1","resource":"gitcommits"},"name":"x","namespace":"default","operation":"CREATE","userInfo":{"username":"system:admin","groups":["system:masters"]},"object":{"apiVersion":"gco.galos.one/v1","kind":"GitCommit","metadata":{"name":"x","namespace":"default"},"spec":{"repository":{"url":"https://github.com/a/b","branch":"main"},"files":[{"path":"a.txt","content":"a"}]}}}}"#;

/// GETs `path` on `addr` until the body holds every one of `wanted`, for up to a minute
/// (a reconcile's duration is observed just after its status is written).
async fn scrape_until(addr: SocketAddr, wanted: &[String]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let body = match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => http(stream, "GET", "/metrics", "").await.body,
            Err(_) => String::new(),
        };
        if wanted.iter().all(|w| body.contains(w.as_str())) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{addr}/metrics lacks one of {wanted:?}:\n{body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_the_alerts_query_only_metrics_the_binaries_export() {
    let (dashboard, rules) = rendered();
    let mut s = Scenario::new("obs").await.expect("scenario");
    let controller_metrics: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    s.start_controller("c1", &["--metrics-addr", &controller_metrics.to_string()])
        .expect("controller");
    let webhook =
        WebhookProcess::start(s.plane, &s.work_dir().join("webhook")).expect("start gco-webhook");
    let (webhook_tls, webhook_metrics) = (webhook.tls, webhook.metrics);

    // One export that succeeds and one that gives up at once, so that every series has samples:
    // the binaries leave a metric out of /metrics until it has one.
    s.put_configmap("app", &[("k", "v")]).await.expect("cm");
    s.create_gitcommit(gitcommit(
        "obs",
        &s.url(),
        json!({ "resourceReferences": [configmap_fields("app", "app/")] }),
    ))
    .await
    .expect("create");
    let mut failing = gitcommit(
        "gives-up",
        &s.url().replace("repo.git", "missing.git"),
        json!({ "files": [{ "path": "a", "content": "a" }] }),
    );
    failing["metadata"]["annotations"] = json!({ "gco.galos.one/max-retries": "0" });
    s.create_gitcommit(failing).await.expect("create");
    s.wait_ready("obs", "True", Some("Succeeded"))
        .await
        .expect("ready");
    s.wait_ready("gives-up", "False", Some("RetriesExhausted"))
        .await
        .expect("gave up");

    let object = |name: &str| {
        format!(
            "kind=\"GitCommit\",namespace=\"{}\",name=\"{name}\"",
            s.namespace
        )
    };
    let controller = scrape_until(
        controller_metrics,
        &[
            format!("gco_object_ready{{{}}} 1", object("obs")),
            format!("gco_object_ready{{{}}} 0", object("gives-up")),
            "gco_reconcile_errors_total{kind=\"GitCommit\",reason=\"RetriesExhausted\"} 1".into(),
            "gco_reconcile_duration_seconds_count{kind=\"GitCommit\"}".into(),
        ],
    )
    .await;
    let reviewed = over_tls(webhook_tls, &s.plane.ca().cert_pem(), "/validate", REVIEW).await;
    assert_eq!(reviewed.status, 200, "{}", reviewed.body);
    let webhook = scrape_until(
        webhook_metrics,
        &[
            "gco_webhook_admissions_total{".into(),
            "gco_webhook_review_duration_seconds_count{".into(),
        ],
    )
    .await;
    let exported: BTreeSet<String> = exposed_names(&controller)
        .into_iter()
        .chain(exposed_names(&webhook))
        .collect();

    let panels = dashboard_exprs(&dashboard);
    let alerts = rule_exprs(&rules);
    assert!(panels.len() >= 10, "{panels:?}");
    assert!(alerts.len() >= 4, "{alerts:?}");
    let mut used = BTreeSet::new();
    for expr in panels.iter().chain(&alerts) {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            assert!(
                exported.contains(&name),
                "{name} (in {expr}) is not exported; exported: {exported:?}"
            );
            used.insert(name);
        }
    }
    // Every metric family the binaries export has a panel (the `# TYPE` lines name them).
    for line in controller.lines().chain(webhook.lines()) {
        let Some(family) = line
            .strip_prefix("# TYPE ")
            .and_then(|d| d.split_whitespace().next())
        else {
            continue;
        };
        let dashboard_names: BTreeSet<String> =
            panels.iter().flat_map(|e| metric_names(e)).collect();
        assert!(
            dashboard_names.iter().any(|n| n.starts_with(family)),
            "no dashboard panel shows {family}"
        );
    }
}

/// `promtool check rules`, then `promtool test rules`: each alert fires when its condition has
/// held long enough, and not before.
#[test]
fn promtool_accepts_the_rules_and_they_fire_when_they_should() {
    let (_, rules) = rendered();
    let dir = tempfile::tempdir().expect("temp dir");
    // JSON is YAML: promtool reads it as a rule file.
    let file = dir.path().join("alerts.yaml");
    std::fs::write(&file, rules.to_string()).expect("write rules");
    let checked = run(tool("promtool")
        .expect("promtool")
        .args(["check", "rules"])
        .arg(&file))
    .expect("promtool check rules");
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(text.contains("SUCCESS: 5 rules found"), "{text}");

    let tests = json!({
        "rule_files": ["alerts.yaml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                { "series": r#"gco_object_ready{kind="GitCommit",namespace="a",name="b"}"#,
                  "values": "0x30" },
                { "series": r#"gco_reconcile_errors_total{kind="GitCommit",reason="RetriesExhausted"}"#,
                  "values": "0x10 1x20" },
                { "series": r#"gco_pushes_total{result="failed"}"#, "values": "0+1x40" },
                { "series": r#"gco_pushes_total{result="committed"}"#, "values": "0+1x40" },
                { "series": r#"gco_webhook_admissions_total{decision="Invalid"}"#,
                  "values": "0+1x30" },
            ],
            "alert_rule_test": [
                { "eval_time": "10m", "alertname": "GitExportNotReady", "exp_alerts": [] },
                { "eval_time": "20m", "alertname": "GitExportNotReady", "exp_alerts": [{
                    "exp_labels": { "severity": "warning", "team": "platform",
                                    "kind": "GitCommit", "namespace": "a", "name": "b" },
                    "exp_annotations": {
                        "summary": "GitCommit a/b has not been Ready for 15 minutes",
                        "description": "Its Ready condition names the reason and what to do: kubectl gco get GitCommit -n a, then kubectl gco events GitCommit/b -n a."
                    }
                }]},
                { "eval_time": "5m", "alertname": "GitExportRetriesExhausted", "exp_alerts": [] },
                { "eval_time": "15m", "alertname": "GitExportRetriesExhausted", "exp_alerts": [{
                    "exp_labels": { "severity": "warning", "team": "platform", "kind": "GitCommit" }
                }]},
                { "eval_time": "40m", "alertname": "GitExportPushFailuresRising", "exp_alerts": [{
                    "exp_labels": { "severity": "warning", "team": "platform" }
                }]},
                { "eval_time": "25m", "alertname": "GitExportWebhookInvalidReviews", "exp_alerts": [{
                    "exp_labels": { "severity": "warning", "team": "platform" }
                }]},
                { "eval_time": "25m", "alertname": "GitExportWebhookSlow", "exp_alerts": [] },
            ]
        }]
    });
    let tests_file = dir.path().join("alerts_test.yaml");
    // promtool compares annotations too: the descriptions without placeholders come from the
    // rule as they are, the summaries are rendered.
    let mut tests = tests;
    let expected = |alert: &str, summary: &str| {
        let description = rules["groups"][0]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|rule| rule["alert"] == alert)
            .map(|rule| rule["annotations"]["description"].clone())
            .unwrap_or_else(|| panic!("no alert {alert}"));
        json!({ "summary": summary, "description": description })
    };
    for check in tests["tests"][0]["alert_rule_test"]
        .as_array_mut()
        .expect("alert tests")
    {
        let summary = match check["alertname"].as_str() {
            Some("GitExportRetriesExhausted") => "A GitCommit gave up retrying",
            Some("GitExportPushFailuresRising") => "50% of git pushes fail",
            Some("GitExportWebhookInvalidReviews") => {
                "The gco admission webhook answers HTTP 400 to admission reviews"
            }
            _ => continue,
        };
        let annotations = expected(check["alertname"].as_str().unwrap_or_default(), summary);
        for alert in check["exp_alerts"].as_array_mut().into_iter().flatten() {
            alert["exp_annotations"] = annotations.clone();
        }
    }
    std::fs::write(&tests_file, tests.to_string()).expect("write tests");
    let tested = tool("promtool")
        .expect("promtool")
        .args(["test", "rules"])
        .arg(&tests_file)
        .output()
        .expect("promtool runs");
    assert!(
        tested.status.success(),
        "promtool test rules:\n{}\n{}",
        String::from_utf8_lossy(&tested.stdout),
        String::from_utf8_lossy(&tested.stderr)
    );
}
