//! Coalescing does not depend on reconciles in flight: a GitCommit's reconcile hands its
//! change to the branch's push lane and frees its worker, and the lane's answer concludes the
//! run. With a single worker, the changes of objects waiting meanwhile still share pushes.

use gco_tests::{
    git::git,
    scenario::{Scenario, configmap_fields, gitcommit},
};
use serde_json::json;

const OBJECTS: usize = 24;

#[tokio::test]
async fn one_worker_still_pushes_several_objects_changes_together() {
    let mut s = Scenario::new("coalesce").await.expect("scenario");
    for index in 0..OBJECTS {
        let name = format!("app-{index}");
        s.put_configmap(&name, &[("value", &format!("{index}\n"))])
            .await
            .expect("configmap");
        s.create_gitcommit(gitcommit(
            &name,
            &s.url(),
            json!({ "resourceReferences": [configmap_fields(&name, &format!("apps/{name}/"))] }),
        ))
        .await
        .expect("create");
    }
    s.start_controller("c1", &["--concurrency", "1"])
        .expect("controller");
    for index in 0..OBJECTS {
        let name = format!("app-{index}");
        s.wait_ready(&name, "True", Some("Succeeded"))
            .await
            .unwrap_or_else(|e| panic!("{name} Ready: {e}\n{}", s.logs()));
        assert_eq!(
            s.file(&format!("apps/{name}/value")).as_deref(),
            Some(format!("{index}\n").as_str()),
            "{name}'s file is on the branch"
        );
    }

    // Each commit names the objects whose changes it carries in its trailer block.
    let bodies = git(&s.repo, &["log", "--format=%B%x00", "main"]);
    let carried: Vec<usize> = bodies
        .split('\0')
        .filter(|body| !body.trim().is_empty())
        .map(|body| {
            body.lines()
                .filter(|l| l.starts_with("Gco-Object:"))
                .count()
        })
        .collect();
    assert_eq!(
        carried.iter().sum::<usize>(),
        OBJECTS,
        "every object's change is in exactly one commit: {carried:?}"
    );
    assert!(
        carried.len() < OBJECTS && carried.iter().any(|&n| n >= 2),
        "with one worker, pushes still carry several objects' changes: {carried:?}"
    );

    // One structured line per concluded run says where it wrote and how long it took.
    let logs = s.logs();
    assert!(!logs.contains('\u{1b}'), "no colour codes in a log file");
    let line = logs
        .lines()
        .find(|l| l.contains("name=app-0 ") && l.contains("outcome=\"committed\""))
        .unwrap_or_else(|| panic!("no run line for app-0:\n{logs}"));
    for field in [
        "repository=git://",
        "branch=main",
        "duration_ms=",
        "commit=",
        "run=",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
}
