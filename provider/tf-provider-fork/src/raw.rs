// This file is part of the tf-provider project
//
// Copyright (C) ANEO, 2024-2024. All rights reserved.
//
// Licensed under the Apache License, Version 2.0 (the "License")
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

//! [`RawValue`] module

use crate::{attribute_path::AttributePath, diagnostics::Diagnostics, tfplugin6};
use serde::{Deserialize, Serialize};

/// Encode a dynamic value with either Message Pack or JSON encoding
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum RawValue {
    /// Message Pack encoded value
    MessagePack(Vec<u8>),
    /// JSON encoded value
    Json(Vec<u8>),
}

const NULL_MESSAGE_PACK: [u8; 1] = [0xc0_u8];
const NULL_JSON: &str = "null";

impl RawValue {
    /// Check if the encoded value is null
    pub fn is_null(&self) -> bool {
        match self {
            RawValue::MessagePack(mp) => mp.is_empty() || mp.as_slice() == NULL_MESSAGE_PACK,
            RawValue::Json(json) => json.is_empty() || json.as_slice() == NULL_JSON.as_bytes(),
        }
    }

    /// Deserialize a [`RawValue`] into a concrete type
    ///
    /// # Arguments
    ///
    /// * `diags` - diagnostics where deserialization errors and warnings are reported
    ///
    /// # Remarks
    ///
    /// Returns [`None`] iff there is an error reported in diagnostics
    pub fn deserialize<'a, T>(&'a self, diags: &mut Diagnostics) -> Option<T>
    where
        T: Deserialize<'a>,
    {
        match self {
            Self::MessagePack(mp) => {
                let slice = if mp.is_empty() {
                    &NULL_MESSAGE_PACK
                } else {
                    mp.as_slice()
                };
                let mut deserializer = rmp_serde::Deserializer::from_read_ref(slice);
                match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
                    Ok(value) => Some(value),
                    Err(err) => {
                        report_decode_error(diags, err);
                        None
                    }
                }
            }
            Self::Json(json) => {
                let slice = if json.is_empty() {
                    NULL_JSON.as_bytes()
                } else {
                    json.as_slice()
                };
                let mut deserializer = serde_json::Deserializer::from_slice(slice);
                match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
                    Ok(value) => Some(value),
                    Err(err) => {
                        report_decode_error(diags, err);
                        None
                    }
                }
            }
        }
    }

    /// Serialize `value` into a Message Pack encoded [`Vec<u8>`]
    ///
    /// # Arguments
    ///
    /// * `diags` - diagnostics where serialization errors and warnings are reported
    /// * `value` - object to encode
    ///
    /// # Remarks
    ///
    /// Returns [`None`] iff there is an error reported in diagnostics
    pub fn serialize_vec<T>(diags: &mut Diagnostics, value: &T) -> Option<Vec<u8>>
    where
        T: Serialize,
    {
        match rmp_serde::to_vec_named(value) {
            Ok(value) => Some(value),
            Err(err) => {
                diags.root_error_short(err.to_string());
                None
            }
        }
    }

    /// Serialize a private state: like [`RawValue::serialize_vec`], except that a null private
    /// state is sent as no bytes at all (StatusPulse fork). Terraform then keeps no `private`
    /// in the state, and copies nothing for it each time it copies a resource's instances;
    /// an empty private state reads back as null.
    pub fn serialize_private<T>(diags: &mut Diagnostics, value: &T) -> Option<Vec<u8>>
    where
        T: Serialize,
    {
        let bytes = Self::serialize_vec(diags, value)?;
        Some(if bytes == NULL_MESSAGE_PACK {
            Vec::new()
        } else {
            bytes
        })
    }

    /// Serialize `value` into a [`RawValue`]
    ///
    /// # Arguments
    ///
    /// * `diags` - diagnostics where serialization errors and warnings are reported
    /// * `value` - object to encode
    ///
    /// # Remarks
    ///
    /// Returns [`None`] iff there is an error reported in diagnostics
    pub fn serialize<T>(diags: &mut Diagnostics, value: &T) -> Option<RawValue>
    where
        T: Serialize,
    {
        Some(Self::MessagePack(Self::serialize_vec(diags, value)?))
    }
}

impl From<tfplugin6::DynamicValue> for RawValue {
    fn from(value: tfplugin6::DynamicValue) -> Self {
        if value.msgpack.is_empty() {
            RawValue::Json(value.json)
        } else {
            RawValue::MessagePack(value.msgpack)
        }
    }
}

impl From<RawValue> for tfplugin6::DynamicValue {
    fn from(value: RawValue) -> Self {
        match value {
            RawValue::MessagePack(msgpack) => Self {
                msgpack,
                json: Default::default(),
            },
            RawValue::Json(json) => Self {
                msgpack: Default::default(),
                json,
            },
        }
    }
}

impl Default for RawValue {
    fn default() -> Self {
        RawValue::MessagePack(NULL_MESSAGE_PACK.to_vec())
    }
}

/// Reports a value that does not decode into the provider's type at the attribute it concerns,
/// in words a Terraform user can act on (statuspulse divergence, see FORK.md). serde's own
/// message for `Value<T>` ("data did not match any variant of untagged enum Value") names
/// neither the attribute nor the problem.
fn report_decode_error<E: std::fmt::Display>(
    diags: &mut Diagnostics,
    err: serde_path_to_error::Error<E>,
) {
    use serde_path_to_error::Segment;
    let mut path: Option<AttributePath> = None;
    for segment in err.path().iter() {
        path = match (path, segment) {
            (None, Segment::Map { key }) => Some(AttributePath::new(key.clone())),
            (Some(p), Segment::Map { key }) => Some(p.attribute(key.clone())),
            (Some(p), Segment::Seq { index }) => {
                Some(p.index(i64::try_from(*index).unwrap_or(i64::MAX)))
            }
            (p, _) => p,
        };
    }
    let message = err.into_inner().to_string();
    let detail = if message.contains("did not match any variant of untagged enum Value") {
        "This value is not of the kind the attribute takes: for example a fraction where a \
         whole number is expected."
            .to_owned()
    } else {
        message
    };
    match path {
        Some(path) => diags.error("Invalid value", detail, path),
        None => diags.root_error_short(detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Config {
        name: Value<String>,
        rotation_days: Value<i64>,
    }

    #[test]
    fn a_null_private_state_is_sent_as_no_bytes_and_read_back_as_null() {
        let mut diags = Diagnostics::default();
        let none = RawValue::serialize_private(&mut diags, &crate::value::ValueEmpty::Null);
        assert_eq!(none, Some(vec![]));
        let back: crate::value::ValueEmpty = RawValue::MessagePack(vec![])
            .deserialize(&mut diags)
            .unwrap();
        assert_eq!(back, crate::value::ValueEmpty::Null);
        // A private state that holds something is sent as it is.
        let some = RawValue::serialize_private(&mut diags, &Value::Value(7_i64)).unwrap();
        assert_eq!(some, vec![7]);
        assert!(diags.errors.is_empty());
    }

    #[test]
    fn a_fraction_for_a_whole_number_is_reported_at_its_attribute() {
        #[derive(Serialize)]
        struct Sent {
            name: &'static str,
            rotation_days: f64,
        }
        let sent = Sent {
            name: "ci",
            rotation_days: 1.5,
        };
        for raw in [
            RawValue::MessagePack(rmp_serde::to_vec_named(&sent).unwrap()),
            RawValue::Json(serde_json::to_vec(&sent).unwrap()),
        ] {
            let mut diags = Diagnostics::default();
            assert!(raw.deserialize::<Config>(&mut diags).is_none());
            assert_eq!(diags.errors.len(), 1);
            let error = &diags.errors[0];
            assert_eq!(error.attribute, AttributePath::new("rotation_days"));
            assert!(error.detail.contains("whole number"), "{}", error.detail);
            assert!(!error.detail.contains("untagged"), "{}", error.detail);
        }
    }
}
