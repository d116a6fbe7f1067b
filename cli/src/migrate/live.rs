//! `migrate --live`: the old operator's GitCommits and PullRequests read from the cluster while
//! its CRDs are still installed. They are read untyped ([`DynamicObject`]): their shape is the
//! old operator's, which this crate's types cannot hold. The result is the same list of
//! manifests a file would give, converted by the same code as `-f`.

use kube::{
    Api,
    api::{ApiResource, DynamicObject, ListParams},
};
use serde_json::Value;

use crate::{cluster::Cluster, error::CliError, style};

/// The group and version of both operators' APIs.
const GROUP: &str = "gco.galos.one";
const VERSION: &str = "v1";
/// The kinds read, with their plurals, in the order they are printed.
const KINDS: [(&str, &str); 2] = [("GitCommit", "gitcommits"), ("PullRequest", "pullrequests")];
/// Objects per list call.
const PAGE: u32 = 500;

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: GROUP.into(),
        version: VERSION.into(),
        api_version: format!("{GROUP}/{VERSION}"),
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// Every GitCommit and PullRequest in the cluster's namespace, or (`all_namespaces`) in all of
/// them, as manifests. A kind without a CRD is a note; both without, an error.
pub async fn read(cluster: &Cluster, all_namespaces: bool) -> Result<Vec<Value>, CliError> {
    let namespace = (!all_namespaces).then_some(cluster.namespace.as_str());
    let mut documents = Vec::new();
    let mut missing = Vec::new();
    for (kind, plural) in KINDS {
        let resource = resource(kind, plural);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &resource),
            None => Api::all_with(cluster.client.clone(), &resource),
        };
        match list(&api).await {
            Ok(objects) => documents.extend(objects.into_iter().map(|o| manifest(o, &resource))),
            Err(kube::Error::Api(status)) if status.code == 404 => missing.push(plural),
            Err(error) => return Err(list_error(plural, namespace, error)),
        }
    }
    match missing.as_slice() {
        [] => {}
        [plural] => style::note(&format!(
            "the cluster has no {plural}.{GROUP}: none of them to migrate"
        )),
        _ => return Err(no_crds()),
    }
    if documents.is_empty() {
        style::note(&match namespace {
            Some(ns) => format!(
                "no GitCommits or PullRequests in namespace {ns}: nothing to migrate (-A reads \
                 every namespace)"
            ),
            None => "no GitCommits or PullRequests in any namespace: nothing to migrate".into(),
        });
    }
    Ok(documents)
}

/// Every object, a page at a time.
async fn list(api: &Api<DynamicObject>) -> Result<Vec<DynamicObject>, kube::Error> {
    let mut params = ListParams::default().limit(PAGE);
    let mut objects = Vec::new();
    loop {
        let page = api.list(&params).await?;
        objects.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(objects),
        }
    }
}

/// One listed object as the manifest `kubectl get -o yaml` would print (list items may come
/// without apiVersion and kind; the conversion needs them).
fn manifest(object: DynamicObject, resource: &ApiResource) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), resource.api_version.clone().into());
        map.insert("kind".into(), resource.kind.clone().into());
    }
    value
}

fn no_crds() -> CliError {
    CliError::Failed(format!(
        "the cluster has no gitcommits.{GROUP} nor pullrequests.{GROUP}: nothing to migrate \
         (if the old CRDs are gone already, convert the export you made with `kubectl gco \
         migrate -f FILE`)"
    ))
}

/// A failed list, in one line that says what to do.
fn list_error(plural: &str, namespace: Option<&str>, error: kube::Error) -> CliError {
    let resource = format!("{plural}.{GROUP}");
    match &error {
        kube::Error::Api(status) if status.code == 403 => CliError::Failed(match namespace {
            Some(ns) => format!(
                "forbidden: you need list on {resource} in namespace {ns}; ask a cluster admin \
                 (`kubectl auth can-i list {resource} -n {ns}` tells), or use --context for \
                 another identity"
            ),
            None => format!(
                "forbidden: you need list on {resource} in all namespaces (-A); ask a cluster \
                 admin (`kubectl auth can-i list {resource} -A` tells), or migrate one \
                 namespace at a time with -n NS"
            ),
        }),
        _ => CliError::kube(format!("list {resource}"), error),
    }
}

#[cfg(test)]
mod tests {
    use kube::core::Status;
    use serde_json::json;

    use super::*;
    use crate::migrate::migrate;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(
            Status::failure("denied", "Forbidden")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn a_forbidden_list_names_the_verb_resource_and_scope() {
        let error = list_error("gitcommits", Some("team-a"), api_error(403)).to_string();
        assert!(
            error.starts_with(
                "forbidden: you need list on gitcommits.gco.galos.one in namespace team-a;"
            ),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
        let error = list_error("pullrequests", None, api_error(403)).to_string();
        assert!(
            error.contains("list on pullrequests.gco.galos.one in all namespaces"),
            "{error}"
        );
        assert!(error.contains("-n NS"), "{error}");
        // Anything else keeps the apiserver's words and the general hint.
        let error = list_error("gitcommits", None, api_error(500)).to_string();
        assert!(
            error.starts_with("list gitcommits.gco.galos.one: "),
            "{error}"
        );
        assert!(no_crds().to_string().contains("nothing to migrate"));
    }

    #[test]
    fn a_listed_object_converts_without_what_the_apiserver_set() {
        // A list item as the apiserver returns it: no apiVersion and kind, server metadata.
        let listed: DynamicObject = serde_json::from_value(json!({
            "metadata": {
                "name": "backup", "namespace": "team-a", "uid": "0b1c", "resourceVersion": "42",
                "generation": 3, "creationTimestamp": "2026-01-02T00:00:00Z",
                "labels": { "app": "backup" },
                "annotations": { "kubectl.kubernetes.io/last-applied-configuration": "{}" },
                "managedFields": [{ "manager": "kubectl", "operation": "Update" }]
            },
            "spec": { "repository": "https://github.com/acme/config.git", "branch": "main",
                      "commitMessage": "m" },
            "status": { "phase": "Committed" }
        }))
        .expect("object");
        let document = manifest(listed, &resource("GitCommit", "gitcommits"));
        let migration = migrate(&[document]);
        assert_eq!(
            migration.objects,
            vec![json!({
                "apiVersion": "gco.galos.one/v1", "kind": "GitCommit",
                "metadata": { "name": "backup", "namespace": "team-a",
                              "labels": { "app": "backup" } },
                "spec": { "repository": { "url": "https://github.com/acme/config.git",
                                          "branch": "main" },
                          "commit": { "message": "m" } }
            })]
        );

        // Converted once more, the result is left as is, and says so.
        let mut again = migration.objects[0].clone();
        again["metadata"]["resourceVersion"] = json!("43");
        again["status"] = json!({ "observedGeneration": 1 });
        let twice = migrate(&[again]);
        assert_eq!(twice.objects, migration.objects);
        assert_eq!(twice.notes.len(), 1, "{:?}", twice.notes);
        assert!(twice.notes[0].1.contains("already in this API's shape"));
    }
}
