//! Roles in test namespaces: who may do what, as a Role and its RoleBinding.

use anyhow::Result;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::{Api, Client, api::PostParams};
use serde_json::{Value, json};

/// Who a Role is bound to.
pub enum Subject<'a> {
    User(&'a str),
    /// A ServiceAccount of the Role's namespace.
    ServiceAccount(&'a str),
}

/// Creates Role `name` with `rules` in `namespace`, bound to `subject`.
pub async fn grant(
    client: &Client,
    namespace: &str,
    name: &str,
    rules: Value,
    subject: Subject<'_>,
) -> Result<()> {
    let subject = match subject {
        Subject::User(user) => {
            json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user})
        }
        Subject::ServiceAccount(account) => {
            json!({"kind": "ServiceAccount", "name": account, "namespace": namespace})
        }
    };
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace},
        "rules": rules
    }))?;
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [subject]
    }))?;
    Api::<Role>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &role)
        .await?;
    Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}
