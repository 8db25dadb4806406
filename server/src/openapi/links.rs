//! OpenAPI links: how the answer of a create leads to the operations on what it created (read,
//! update, delete, rotate, replay, …). Client generators and API browsers show them, and a
//! stateful tester (Schemathesis) follows them to chain create → read → update → delete.

use serde_json::{json, Map, Value};

/// Where a create's answer holds the new object's id, when not at `/id`.
const ID_POINTERS: &[(&str, &str)] = &[("/v1/workspaces", "/workspace/id")];

/// Operations that take the id in their body rather than their path.
const BODY_ID_OPERATIONS: &[(&str, &str)] = &[("/v1/api-keys", "/v1/api-keys/revoke")];

/// Adds a link from each create (a `POST` answering 201) to every operation under
/// `<collection>/{id}`.
pub fn add(document: &mut Value) {
    let Some(paths) = document.get("paths").and_then(Value::as_object) else {
        return;
    };
    let mut planned: Vec<(String, Map<String, Value>)> = Vec::new();
    for (path, item) in paths {
        if item.pointer("/post/responses/201").is_none() {
            continue;
        }
        // A create is `POST /v1/things`, or `POST /v1/things/{id}/rotate` making a new one.
        let collection = path.split("/{id}").next().unwrap_or(path);
        let pointer = ID_POINTERS
            .iter()
            .find(|(p, _)| *p == collection)
            .map_or("/id", |(_, pointer)| pointer);
        let id = format!("$response.body#{pointer}");
        let mut links = Map::new();
        let member = format!("{collection}/{{id}}");
        for (target, target_item) in paths {
            if target != &member && !target.starts_with(&format!("{member}/")) {
                continue;
            }
            for (method, operation) in operations(target_item) {
                let Some(operation_id) = operation.get("operationId").and_then(Value::as_str)
                else {
                    continue;
                };
                links.insert(
                    link_name(method, target, &member),
                    json!({
                        "operationId": operation_id,
                        "parameters": {"id": id},
                        "description": format!("{} {target} on what this created.", method.to_uppercase()),
                    }),
                );
            }
        }
        for (_, target) in BODY_ID_OPERATIONS.iter().filter(|(c, _)| *c == collection) {
            if let Some(operation_id) = paths
                .get(*target)
                .and_then(|item| item.pointer("/post/operationId"))
                .and_then(Value::as_str)
            {
                links.insert(
                    link_name("post", target, collection),
                    json!({
                        "operationId": operation_id,
                        "requestBody": {"id": id},
                        "description": format!("POST {target} with what this created."),
                    }),
                );
            }
        }
        if !links.is_empty() {
            planned.push((path.clone(), links));
        }
    }
    for (path, links) in planned {
        if let Some(Value::Object(response)) =
            document.pointer_mut(&format!("/paths/{}/post/responses/201", escape(&path)))
        {
            response.insert("links".into(), Value::Object(links));
        }
    }
}

fn operations(item: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    ["get", "put", "patch", "delete", "post"]
        .into_iter()
        .filter_map(move |method| item.get(method).map(|op| (method, op)))
}

/// `GetById`, `PatchById`, `PostRotate`, `GetSamlMetadata`, …: unique per create.
fn link_name(method: &str, target: &str, member: &str) -> String {
    let rest = target.strip_prefix(member).unwrap_or(target);
    let mut name = capitalise(method);
    if rest.is_empty() {
        name.push_str("ById");
    }
    for part in rest.split(['/', '-']).filter(|p| !p.is_empty()) {
        name.push_str(&capitalise(part));
    }
    name
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
