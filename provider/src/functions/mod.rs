//! Provider-defined functions (Terraform 1.8+): `provider::statuspulse::key_id(key)` and
//! `provider::statuspulse::key_environment(key)`. Both are offline: they parse the key with
//! `statuspulse_api::key::KeyRef`, which checks its prefix, shape and checksum, and never send it
//! anywhere.

use async_trait::async_trait;
use statuspulse_api::key::KeyRef;
use tf_provider::schema::{Description, FunctionSchema, Parameter, Type};
use tf_provider::{Diagnostics, Function};

/// Which part of a parsed key a function returns.
#[derive(Clone, Copy)]
enum Part {
    KeyId,
    Environment,
}

/// One of the key functions; `name` is how Terraform calls it.
pub struct KeyFunction {
    part: Part,
}

impl KeyFunction {
    /// `key_id(key)`: the public key id inside a key.
    pub fn key_id() -> Self {
        Self { part: Part::KeyId }
    }

    /// `key_environment(key)`: `live` or `test`.
    pub fn key_environment() -> Self {
        Self {
            part: Part::Environment,
        }
    }

    /// The part of `key` this function returns, or why `key` is not a StatusPulse key.
    pub fn evaluate(&self, key: &str) -> Result<String, String> {
        let parsed = KeyRef::parse(key).map_err(|err| {
            format!("not a StatusPulse API key ({err}); nothing was sent anywhere")
        })?;
        Ok(match self.part {
            Part::KeyId => parsed.key_id().to_owned(),
            Part::Environment => parsed.environment().as_str().to_owned(),
        })
    }
}

#[async_trait]
impl Function for KeyFunction {
    type Input<'a> = (String,);
    type Output<'a> = String;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<FunctionSchema> {
        let (summary, description) = match self.part {
            Part::KeyId => (
                "The public key id inside a StatusPulse API key",
                "Returns the public key id embedded in a StatusPulse API key (the `key_id` \
                 attribute of `statuspulse_api_key`), safe to show in outputs and checks. Offline: \
                 the key's prefix, shape and checksum are verified locally and the key is sent \
                 nowhere. Fails on a string that is not a well-formed key. Terraform 1.8 or later.",
            ),
            Part::Environment => (
                "The environment of a StatusPulse API key",
                "Returns `live` for an `sp_live_` key and `test` for an `sp_test_` key. Offline: \
                 the key's prefix, shape and checksum are verified locally and the key is sent \
                 nowhere. Fails on a string that is not a well-formed key. Terraform 1.8 or later.",
            ),
        };
        Some(FunctionSchema {
            parameters: vec![Parameter {
                name: "key".to_owned(),
                param_type: Type::String,
                allow_null: false,
                allow_unknown: false,
                description: Description::markdown(
                    "A StatusPulse API key (`sp_live_…` or `sp_test_…`).",
                ),
            }],
            variadic: None,
            return_type: Type::String,
            summary: summary.to_owned(),
            description: Description::markdown(description),
            deprecated: None,
        })
    }

    async fn call<'a>(&self, diags: &mut Diagnostics, (key,): (String,)) -> Option<String> {
        match self.evaluate(&key) {
            Ok(part) => Some(part),
            Err(message) => {
                diags.function_error(0, message);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_key_is_refused_without_echoing_it() {
        let err = KeyFunction::key_id().evaluate("sp_live_nope").unwrap_err();
        assert!(err.starts_with("not a StatusPulse API key"), "{err}");
        assert!(!err.contains("nope"), "{err}");
        assert!(KeyFunction::key_environment().evaluate("").is_err());
    }

    #[test]
    fn a_well_formed_key_gives_its_id_and_environment() {
        use statuspulse_api::key::{checksum, TEST_PREFIX};
        let (key_id, secret) = ("A".repeat(16), "b".repeat(42));
        let sum = checksum(TEST_PREFIX, &key_id, &secret);
        let key = format!(
            "{TEST_PREFIX}{key_id}{secret}{}",
            std::str::from_utf8(&sum).unwrap()
        );
        assert_eq!(KeyFunction::key_id().evaluate(&key).unwrap(), key_id);
        assert_eq!(
            KeyFunction::key_environment().evaluate(&key).unwrap(),
            "test"
        );
        // One character off: the checksum catches it.
        let typo = key.replacen('b', "c", 1);
        assert!(KeyFunction::key_id()
            .evaluate(&typo)
            .unwrap_err()
            .contains("checksum"));
    }
}
