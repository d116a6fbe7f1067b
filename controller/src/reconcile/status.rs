//! Writing status: the whole status, server-side applied on the status subresource under one
//! field manager, so fields the controller stops setting are removed.

use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use super::{Error, Exporter, FIELD_MANAGER};

/// Server-side applies `status` to `object`.
pub async fn write<K: Exporter>(
    client: &Client,
    object: &K,
    status: &K::Status,
) -> Result<(), Error> {
    let name = object.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), &object.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|source| Error::StatusWrite {
        object: format!("{}/{name}", K::KIND),
        source,
    })
}
