// StatusPulse fork (see FORK.md): not part of upstream tf-provider 0.2.2.
//
// Licensed under the Apache License, Version 2.0, like the rest of this crate.

//! Write-only attributes (plugin protocol 6.8+, Terraform 1.11+)
//!
//! The server enforces the two rules of write-only attributes from the schema alone, so a
//! [`Resource`](crate::Resource) implementation needs no extra code for them:
//!
//! - a configured (non-null) value is refused when the client does not announce
//!   `write_only_attributes_allowed` (Terraform older than 1.11 would keep it in state);
//! - planned and new states always carry null for a write-only attribute.
//!
//! Values travel as MessagePack (plan, apply) or JSON (upgrade); both are walked here with the
//! schema, without a typed model: anything not on a write-only path is copied verbatim.

use crate::attribute_path::AttributePath;
use crate::diagnostics::Diagnostics;
use crate::raw::RawValue;
use crate::schema::{Attribute, AttributeType, Block, NestedBlock};
use crate::tfplugin6;

/// The first Terraform release that accepts write-only attributes.
pub(crate) const WRITE_ONLY_MIN_TERRAFORM: &str = "1.11";

/// Does this block (or a nested block or nested attribute) declare a write-only attribute?
pub(crate) fn has_write_only(block: &Block) -> bool {
    block.attributes.values().any(attribute_has_write_only)
        || block
            .blocks
            .values()
            .any(|nested| has_write_only(nested_block(nested)))
}

fn attribute_has_write_only(attr: &Attribute) -> bool {
    attr.write_only
        || nested_attributes(&attr.attr_type)
            .is_some_and(|attrs| attrs.values().any(attribute_has_write_only))
}

fn nested_block(nested: &NestedBlock) -> &Block {
    match nested {
        NestedBlock::Single(b)
        | NestedBlock::List(b)
        | NestedBlock::Set(b)
        | NestedBlock::Map(b)
        | NestedBlock::Group(b)
        | NestedBlock::Optional(b) => b,
    }
}

/// Nesting of an object-valued element: one object, a sequence of objects or a map of objects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nesting {
    Single,
    Sequence,
    Map,
}

fn nested_attributes(
    attr_type: &AttributeType,
) -> Option<&std::collections::HashMap<String, Attribute>> {
    match attr_type {
        AttributeType::AttributeSingle(a)
        | AttributeType::AttributeList(a)
        | AttributeType::AttributeSet(a)
        | AttributeType::AttributeMap(a) => Some(a),
        _ => None,
    }
}

fn attribute_nesting(attr_type: &AttributeType) -> Nesting {
    match attr_type {
        AttributeType::AttributeList(_) | AttributeType::AttributeSet(_) => Nesting::Sequence,
        AttributeType::AttributeMap(_) => Nesting::Map,
        _ => Nesting::Single,
    }
}

fn block_nesting(nested: &NestedBlock) -> Nesting {
    match nested {
        NestedBlock::Single(_) | NestedBlock::Group(_) => Nesting::Single,
        NestedBlock::List(_) | NestedBlock::Set(_) | NestedBlock::Optional(_) => Nesting::Sequence,
        NestedBlock::Map(_) => Nesting::Map,
    }
}

/// The object schema the walker follows: the attributes and nested blocks of one object.
struct Object<'a> {
    attributes: &'a std::collections::HashMap<String, Attribute>,
    blocks: Option<&'a std::collections::HashMap<String, NestedBlock>>,
}

impl<'a> Object<'a> {
    fn of_block(block: &'a Block) -> Self {
        Self {
            attributes: &block.attributes,
            blocks: Some(&block.blocks),
        }
    }
    fn of_attributes(attributes: &'a std::collections::HashMap<String, Attribute>) -> Self {
        Self {
            attributes,
            blocks: None,
        }
    }
    /// What to do with the member `name`: null it, descend into it, or copy it.
    fn member(&self, name: &str) -> Member<'a> {
        if let Some(attr) = self.attributes.get(name) {
            if attr.write_only {
                return Member::WriteOnly;
            }
            if let Some(attrs) = nested_attributes(&attr.attr_type) {
                if attrs.values().any(attribute_has_write_only) {
                    return Member::Descend(
                        Object::of_attributes(attrs),
                        attribute_nesting(&attr.attr_type),
                    );
                }
            }
            return Member::Copy;
        }
        if let Some(nested) = self.blocks.and_then(|blocks| blocks.get(name)) {
            let block = nested_block(nested);
            if has_write_only(block) {
                return Member::Descend(Object::of_block(block), block_nesting(nested));
            }
        }
        Member::Copy
    }
}

enum Member<'a> {
    WriteOnly,
    Descend(Object<'a>, Nesting),
    Copy,
}

/// The attribute paths of write-only attributes that hold a value (known or unknown) in `config`.
pub(crate) fn configured_write_only(
    diags: &mut Diagnostics,
    block: &Block,
    config: &RawValue,
) -> Vec<AttributePath> {
    let mut found = Vec::new();
    if !has_write_only(block) {
        return found;
    }
    match decode(config) {
        Ok(value) => collect(
            &Object::of_block(block),
            &value,
            AttributePath::default(),
            &mut found,
        ),
        Err(err) => diags.root_error_short(err),
    }
    found
}

/// `value` with every write-only attribute set to null.
pub(crate) fn null_write_only(
    diags: &mut Diagnostics,
    block: &Block,
    value: RawValue,
) -> Option<RawValue> {
    if !has_write_only(block) || value.is_null() {
        return Some(value);
    }
    match decode(&value) {
        Ok(mut tree) => {
            scrub(&Object::of_block(block), &mut tree);
            Some(match value {
                RawValue::MessagePack(_) => RawValue::MessagePack(tree.to_msgpack()),
                RawValue::Json(_) => RawValue::Json(tree.to_json()),
            })
        }
        Err(err) => {
            diags.root_error_short(err);
            None
        }
    }
}

/// A stored (JSON) state re-encoded as MessagePack, the encoding Terraform decodes fastest, with
/// every write-only attribute null (decoded once for both); `None` when MessagePack could change
/// the value: a dynamic attribute (its JSON and MessagePack forms differ), or a number that a
/// 64-bit float would round. The caller then answers the JSON, through [`null_write_only`].
pub(crate) fn json_as_msgpack(block: &Block, value: &RawValue) -> Option<RawValue> {
    let RawValue::Json(bytes) = value else {
        return None;
    };
    if has_dynamic(block) || bytes.is_empty() {
        return None;
    }
    let json = serde_json::from_slice::<serde_json::Value>(bytes).ok()?;
    if !numbers_are_exact(&json) {
        return None;
    }
    let mut tree = from_json(json);
    if has_write_only(block) {
        scrub(&Object::of_block(block), &mut tree);
    }
    Some(RawValue::MessagePack(tree.to_msgpack()))
}

/// Does this block (or a nested block or nested attribute) hold an attribute of dynamic type?
fn has_dynamic(block: &Block) -> bool {
    fn dynamic(attr_type: &AttributeType) -> bool {
        match attr_type {
            AttributeType::Any => true,
            AttributeType::String | AttributeType::Number | AttributeType::Bool => false,
            AttributeType::List(inner) | AttributeType::Set(inner) | AttributeType::Map(inner) => {
                dynamic(inner)
            }
            AttributeType::Object(members) => members.values().any(dynamic),
            AttributeType::Tuple(items) => items.iter().any(dynamic),
            AttributeType::AttributeSingle(attrs)
            | AttributeType::AttributeList(attrs)
            | AttributeType::AttributeSet(attrs)
            | AttributeType::AttributeMap(attrs) => {
                attrs.values().any(|attr| dynamic(&attr.attr_type))
            }
        }
    }
    block
        .attributes
        .values()
        .any(|attr| dynamic(&attr.attr_type))
        || block
            .blocks
            .values()
            .any(|nested| has_dynamic(nested_block(nested)))
}

/// Every number is an integer serde_json read exactly, or a float no larger than 2^53 (so the
/// float is what the text said, as far as Terraform's own JSON decoding would keep it).
fn numbers_are_exact(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Number(n) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.abs() < 9_007_199_254_740_992.0)
        }
        serde_json::Value::Array(items) => items.iter().all(numbers_are_exact),
        serde_json::Value::Object(members) => members.values().all(numbers_are_exact),
        _ => true,
    }
}

/// The diagnostics for write-only values configured on a Terraform that cannot keep them out of
/// state: one error per attribute, naming the version needed.
pub(crate) fn check_capabilities(
    diags: &mut Diagnostics,
    block: &Block,
    config: &RawValue,
    capabilities: Option<&tfplugin6::ClientCapabilities>,
) {
    if capabilities.is_some_and(|c| c.write_only_attributes_allowed) {
        return;
    }
    for path in configured_write_only(diags, block, config) {
        diags.error(
            "Write-only attribute not supported by this Terraform version",
            format!(
                "This attribute is write-only: its value must never be stored in the plan or \
                 the state, and this version of Terraform cannot keep it out. Write-only \
                 attributes need Terraform {WRITE_ONLY_MIN_TERRAFORM} or later; upgrade \
                 Terraform, or remove the attribute from the configuration."
            ),
            path,
        );
    }
}

fn collect(object: &Object<'_>, value: &Tree, path: AttributePath, found: &mut Vec<AttributePath>) {
    let Tree::Map(members) = value else {
        return;
    };
    for (key, member) in members {
        let Some(name) = key.as_str() else { continue };
        match object.member(name) {
            Member::WriteOnly => {
                if !member.is_null() {
                    found.push(path.clone().attribute(name.to_owned()));
                }
            }
            Member::Descend(inner, nesting) => {
                let path = path.clone().attribute(name.to_owned());
                match (nesting, member) {
                    (Nesting::Single, _) => collect(&inner, member, path, found),
                    (Nesting::Sequence, Tree::Array(items)) => {
                        for (i, item) in items.iter().enumerate() {
                            collect(&inner, item, path.clone().index(i as i64), found);
                        }
                    }
                    (Nesting::Map, Tree::Map(entries)) => {
                        for (k, item) in entries {
                            let key = k.as_str().unwrap_or_default().to_owned();
                            collect(&inner, item, path.clone().key(key), found);
                        }
                    }
                    _ => {}
                }
            }
            Member::Copy => {}
        }
    }
}

fn scrub(object: &Object<'_>, value: &mut Tree) {
    let Tree::Map(members) = value else {
        return;
    };
    for (key, member) in members.iter_mut() {
        let Some(name) = key.as_str() else { continue };
        match object.member(name) {
            Member::WriteOnly => *member = Tree::Null,
            Member::Descend(inner, nesting) => match (nesting, member) {
                (Nesting::Single, member) => scrub(&inner, member),
                (Nesting::Sequence, Tree::Array(items)) => {
                    items.iter_mut().for_each(|item| scrub(&inner, item))
                }
                (Nesting::Map, Tree::Map(entries)) => {
                    entries.iter_mut().for_each(|(_, item)| scrub(&inner, item))
                }
                _ => {}
            },
            Member::Copy => {}
        }
    }
}

/// A value decoded only as far as the walk needs: containers, null, and everything else kept as
/// its encoded bytes (MessagePack) or its JSON value.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Null,
    /// A MessagePack scalar or extension (unknown values are extensions), verbatim
    Raw(Vec<u8>),
    /// A JSON scalar, verbatim
    Json(serde_json::Value),
    Array(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
}

impl Tree {
    fn is_null(&self) -> bool {
        matches!(self, Tree::Null)
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            Tree::Json(serde_json::Value::String(s)) => Some(s),
            Tree::Raw(bytes) => {
                let (&marker, rest) = bytes.split_first()?;
                let body = match marker {
                    0xa0..=0xbf => rest,
                    0xd9 => rest.get(1..)?,
                    0xda => rest.get(2..)?,
                    0xdb => rest.get(4..)?,
                    _ => return None,
                };
                std::str::from_utf8(body).ok()
            }
            _ => None,
        }
    }

    fn to_msgpack(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_msgpack(&mut out);
        out
    }

    fn write_msgpack(&self, out: &mut Vec<u8>) {
        match self {
            Tree::Null => out.push(0xc0),
            Tree::Raw(bytes) => out.extend_from_slice(bytes),
            Tree::Json(json) => {
                // Not produced by the MessagePack decoder; encode it faithfully anyway.
                out.extend(rmp_serde::to_vec(json).unwrap_or_else(|_| vec![0xc0]))
            }
            Tree::Array(items) => {
                write_len(out, items.len(), 0x90, 0xdc, 0xdd);
                items.iter().for_each(|item| item.write_msgpack(out));
            }
            Tree::Map(entries) => {
                write_len(out, entries.len(), 0x80, 0xde, 0xdf);
                for (k, v) in entries {
                    k.write_msgpack(out);
                    v.write_msgpack(out);
                }
            }
        }
    }

    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json_value()).unwrap_or_else(|_| b"null".to_vec())
    }

    fn json_value(&self) -> serde_json::Value {
        match self {
            Tree::Null | Tree::Raw(_) => serde_json::Value::Null,
            Tree::Json(v) => v.clone(),
            Tree::Array(items) => items.iter().map(Tree::json_value).collect(),
            Tree::Map(entries) => entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.json_value())))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

fn write_len(out: &mut Vec<u8>, len: usize, fix: u8, m16: u8, m32: u8) {
    if len < 16 {
        out.push(fix | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(m16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(m32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn decode(value: &RawValue) -> Result<Tree, String> {
    match value {
        RawValue::MessagePack(bytes) if bytes.is_empty() => Ok(Tree::Null),
        RawValue::MessagePack(bytes) => {
            let mut pos = 0;
            let tree = decode_msgpack(bytes, &mut pos)?;
            if pos == bytes.len() {
                Ok(tree)
            } else {
                Err("trailing bytes after a MessagePack value".to_owned())
            }
        }
        RawValue::Json(bytes) if bytes.is_empty() => Ok(Tree::Null),
        RawValue::Json(bytes) => serde_json::from_slice::<serde_json::Value>(bytes)
            .map(from_json)
            .map_err(|err| err.to_string()),
    }
}

fn from_json(value: serde_json::Value) -> Tree {
    match value {
        serde_json::Value::Null => Tree::Null,
        serde_json::Value::Array(items) => Tree::Array(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(members) => Tree::Map(
            members
                .into_iter()
                .map(|(k, v)| (Tree::Json(serde_json::Value::String(k)), from_json(v)))
                .collect(),
        ),
        scalar => Tree::Json(scalar),
    }
}

const TRUNCATED: &str = "truncated MessagePack value";

fn take<'b>(bytes: &'b [u8], pos: &mut usize, n: usize) -> Result<&'b [u8], String> {
    let slice = bytes.get(*pos..*pos + n).ok_or(TRUNCATED)?;
    *pos += n;
    Ok(slice)
}

fn be_len(bytes: &[u8]) -> usize {
    bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize)
}

fn decode_msgpack(bytes: &[u8], pos: &mut usize) -> Result<Tree, String> {
    let start = *pos;
    let marker = take(bytes, pos, 1)?[0];
    // Containers: (count, is_map); scalars: number of bytes after the marker.
    let (container, skip) = match marker {
        0x80..=0x8f => (Some(((marker & 0x0f) as usize, true)), 0),
        0x90..=0x9f => (Some(((marker & 0x0f) as usize, false)), 0),
        0xdc | 0xdd | 0xde | 0xdf => {
            let n = be_len(take(bytes, pos, if marker & 1 == 0 { 2 } else { 4 })?);
            (Some((n, marker >= 0xde)), 0)
        }
        0xc0 => return Ok(Tree::Null),
        0x00..=0x7f | 0xe0..=0xff | 0xc2 | 0xc3 => (None, 0),
        0xa0..=0xbf => (None, (marker & 0x1f) as usize),
        0xcc | 0xd0 => (None, 1),
        0xcd | 0xd1 => (None, 2),
        0xca | 0xce | 0xd2 => (None, 4),
        0xcb | 0xcf | 0xd3 => (None, 8),
        0xd4 => (None, 2),
        0xd5 => (None, 3),
        0xd6 => (None, 5),
        0xd7 => (None, 9),
        0xd8 => (None, 17),
        0xc4 | 0xd9 => (None, be_len(take(bytes, pos, 1)?)),
        0xc5 | 0xda => (None, be_len(take(bytes, pos, 2)?)),
        0xc6 | 0xdb => (None, be_len(take(bytes, pos, 4)?)),
        0xc7 => (None, be_len(take(bytes, pos, 1)?) + 1),
        0xc8 => (None, be_len(take(bytes, pos, 2)?) + 1),
        0xc9 => (None, be_len(take(bytes, pos, 4)?) + 1),
        0xc1 => return Err("invalid MessagePack marker 0xc1".to_owned()),
    };
    match container {
        Some((n, true)) => {
            let mut entries = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                let k = decode_msgpack(bytes, pos)?;
                let v = decode_msgpack(bytes, pos)?;
                entries.push((k, v));
            }
            Ok(Tree::Map(entries))
        }
        Some((n, false)) => {
            let mut items = Vec::with_capacity(n.min(1024));
            for _ in 0..n {
                items.push(decode_msgpack(bytes, pos)?);
            }
            Ok(Tree::Array(items))
        }
        None => {
            take(bytes, pos, skip)?;
            Ok(Tree::Raw(bytes[start..*pos].to_vec()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Attribute, AttributeConstraint, Block, NestedBlock};
    use crate::value::Value;
    use serde::{Deserialize, Serialize};
    use std::collections::HashMap;

    /// The stored JSON of a resource with every kind of value Terraform keeps.
    const STORED: &str = r#"{"name":"ci","rotation_days":90,"ratio":1.5,"due":false,"gone":null,
        "scopes":["read:checks","write:alerts"],"keepers":{"team":"sre"},
        "sink":[{"region":"eu-west-1","secret":null}],"nested":{"token":null}}"#;

    #[test]
    fn a_stored_state_is_re_encoded_as_message_pack_value_for_value() {
        let json = RawValue::Json(STORED.as_bytes().to_vec());
        let Some(RawValue::MessagePack(msgpack)) = json_as_msgpack(&block(), &json) else {
            panic!("a plain state converts");
        };
        let back: serde_json::Value = rmp_serde::from_slice(&msgpack).unwrap();
        let original: serde_json::Value = serde_json::from_str(STORED).unwrap();
        assert_eq!(back, original);
        // Whole numbers stay integers (what Terraform itself sends), fractions stay floats.
        assert!(back["rotation_days"].is_u64() && back["ratio"].is_f64());
    }

    #[test]
    fn a_state_that_message_pack_could_change_is_answered_as_json() {
        // A dynamic attribute is `{"value", "type"}` in JSON and `[type, value]` in MessagePack.
        let mut dynamic = block();
        dynamic.attributes.insert(
            "any".to_owned(),
            Attribute {
                attr_type: AttributeType::Any,
                ..Default::default()
            },
        );
        let json = RawValue::Json(STORED.as_bytes().to_vec());
        assert_eq!(json_as_msgpack(&dynamic, &json), None);
        // A number a 64-bit float would round.
        let big = RawValue::Json(br#"{"name":"ci","n":123456789012345678901234567890}"#.to_vec());
        assert_eq!(json_as_msgpack(&block(), &big), None);
        // Already MessagePack, or nothing at all: left as it is.
        assert_eq!(
            json_as_msgpack(&block(), &RawValue::MessagePack(vec![0xc0])),
            None
        );
        assert_eq!(json_as_msgpack(&block(), &RawValue::Json(vec![])), None);
    }

    fn attr(write_only: bool) -> Attribute {
        Attribute {
            attr_type: AttributeType::String,
            constraint: AttributeConstraint::Optional,
            write_only,
            ..Default::default()
        }
    }

    fn block() -> Block {
        let inner = Block {
            attributes: HashMap::from([
                ("secret".to_owned(), attr(true)),
                ("region".to_owned(), attr(false)),
            ]),
            ..Default::default()
        };
        Block {
            attributes: HashMap::from([
                ("name".to_owned(), attr(false)),
                ("client_secret".to_owned(), attr(true)),
                (
                    "nested".to_owned(),
                    Attribute {
                        attr_type: AttributeType::AttributeSingle(HashMap::from([(
                            "token".to_owned(),
                            attr(true),
                        )])),
                        ..Default::default()
                    },
                ),
            ]),
            blocks: HashMap::from([("sink".to_owned(), NestedBlock::List(inner))]),
            ..Default::default()
        }
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Sink {
        secret: Value<String>,
        region: Value<String>,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Nested {
        token: Value<String>,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct State {
        name: Value<String>,
        client_secret: Value<String>,
        nested: Value<Nested>,
        sink: Value<Vec<Sink>>,
        count: Value<f64>,
    }

    fn state(secret: Value<String>) -> State {
        State {
            name: Value::Value("sso".into()),
            client_secret: secret.clone(),
            nested: Value::Value(Nested {
                token: secret.clone(),
            }),
            sink: Value::Value(vec![Sink {
                secret,
                region: Value::Value("eu-west-1".into()),
            }]),
            count: Value::Value(1.5),
        }
    }

    #[test]
    fn write_only_flag_is_encoded_in_the_schema() {
        let encoded = tfplugin6::schema::Block::from(&block());
        let by_name = |name: &str| {
            encoded
                .attributes
                .iter()
                .find(|a| a.name == name)
                .unwrap()
                .clone()
        };
        assert!(by_name("client_secret").write_only);
        assert!(!by_name("name").write_only);
        let nested = by_name("nested").nested_type.unwrap();
        assert!(nested.attributes.iter().all(|a| a.write_only));
        let sink = &encoded.block_types[0].block.as_ref().unwrap().attributes;
        assert!(sink.iter().find(|a| a.name == "secret").unwrap().write_only);
        assert!(!sink.iter().find(|a| a.name == "region").unwrap().write_only);
        assert!(has_write_only(&block()));
        assert!(!has_write_only(&Block::default()));
    }

    #[test]
    fn planned_and_new_states_are_scrubbed_of_write_only_values() {
        let mut diags = Diagnostics::default();
        let raw = RawValue::serialize(&mut diags, &state(Value::Value("s3cr3t".into()))).unwrap();
        let scrubbed = null_write_only(&mut diags, &block(), raw).unwrap();
        assert!(diags.errors.is_empty());
        let back: State = scrubbed.deserialize(&mut diags).unwrap();
        assert_eq!(back, state(Value::Null));
        // JSON (UpgradeResourceState) goes through the same walk.
        let json = RawValue::Json(serde_json::to_vec(&state(Value::Value("x".into()))).unwrap());
        let back: State = null_write_only(&mut diags, &block(), json)
            .unwrap()
            .deserialize(&mut diags)
            .unwrap();
        assert_eq!(back, state(Value::Null));
    }

    #[test]
    fn unknown_write_only_values_count_as_configured_and_are_scrubbed() {
        let mut diags = Diagnostics::default();
        let raw = RawValue::serialize(&mut diags, &state(Value::Unknown)).unwrap();
        let paths = configured_write_only(&mut diags, &block(), &raw);
        assert_eq!(paths.len(), 3, "{paths:?}");
        let back: State = null_write_only(&mut diags, &block(), raw)
            .unwrap()
            .deserialize(&mut diags)
            .unwrap();
        assert_eq!(back, state(Value::Null));
    }

    #[test]
    fn capability_check_refuses_write_only_values_without_the_client_capability() {
        let mut diags = Diagnostics::default();
        let raw = RawValue::serialize(&mut diags, &state(Value::Value("s".into()))).unwrap();

        // Terraform < 1.11 sends no capabilities (or not this one).
        check_capabilities(&mut diags, &block(), &raw, None);
        assert_eq!(diags.errors.len(), 3);
        let first = &diags.errors[0];
        assert!(first.summary.contains("Write-only"), "{}", first.summary);
        assert!(
            first.detail.contains("Terraform 1.11 or later"),
            "{}",
            first.detail
        );
        assert!(!first.attribute.steps.is_empty());

        let mut diags = Diagnostics::default();
        let old = tfplugin6::ClientCapabilities {
            deferral_allowed: true,
            write_only_attributes_allowed: false,
        };
        check_capabilities(&mut diags, &block(), &raw, Some(&old));
        assert_eq!(diags.errors.len(), 3);

        let mut diags = Diagnostics::default();
        let new = tfplugin6::ClientCapabilities {
            deferral_allowed: false,
            write_only_attributes_allowed: true,
        };
        check_capabilities(&mut diags, &block(), &raw, Some(&new));
        assert!(diags.errors.is_empty());

        // Null write-only values are fine everywhere.
        let mut diags = Diagnostics::default();
        let raw = RawValue::serialize(&mut diags, &state(Value::Null)).unwrap();
        check_capabilities(&mut diags, &block(), &raw, None);
        assert!(diags.errors.is_empty());
    }
}
