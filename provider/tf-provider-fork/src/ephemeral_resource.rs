// StatusPulse fork (see FORK.md): not part of upstream tf-provider 0.2.2.
//
// Licensed under the Apache License, Version 2.0, like the rest of this crate.

//! [`EphemeralResource`] module (plugin protocol 6.7+, Terraform 1.10+)

use std::time::SystemTime;

use crate::diagnostics::Diagnostics;
use crate::raw::RawValue;
use crate::schema::Schema;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[async_trait]
/// Trait for implementing an ephemeral resource with automatic serialization/deserialization
///
/// An ephemeral resource is opened when Terraform needs its value (during plan and again during
/// apply), may be renewed while the run lasts, and is closed at the end of the run. Its result is
/// never stored in the plan or the state. What the provider needs to renew or close it travels as
/// private state, which Terraform hands back untouched.
///
/// See also: [`DynamicEphemeralResource`]
pub trait EphemeralResource: Send + Sync {
    /// Configuration and result of the ephemeral resource (the same object: the configured
    /// attributes plus the computed ones)
    ///
    /// The state will be automatically serialized/deserialized at the border of the request.
    type State<'a>: Serialize + Deserialize<'a> + Send;

    /// Private state, carried from open to renew and close
    ///
    /// The private state will be automatically serialized/deserialized at the border of the request.
    type PrivateState<'a>: Serialize + Deserialize<'a> + Send;

    /// Get the schema of the ephemeral resource
    ///
    /// # Remarks
    ///
    /// The return is ignored if there is an error in diagnostics.
    /// If the return is [`None`], an ad-hoc error is added to diagnostics.
    fn schema(&self, diags: &mut Diagnostics) -> Option<Schema>;

    /// Validate the configuration of the ephemeral resource
    ///
    /// # Arguments
    ///
    /// * `diags` - Diagnostics to record warnings and errors that occured during validation
    /// * `config` - State as declared in the Terraform file
    async fn validate<'a>(&self, diags: &mut Diagnostics, config: Self::State<'a>) -> Option<()> {
        _ = diags;
        _ = config;
        Some(())
    }

    /// Open the ephemeral resource
    ///
    /// # Arguments
    ///
    /// * `diags` - Diagnostics to record warnings and errors that occured during the open
    /// * `config` - State as declared in the Terraform file
    ///
    /// # Return
    ///
    /// The result, the private state, and when Terraform should call [`EphemeralResource::renew`]
    /// (if ever).
    async fn open<'a>(
        &self,
        diags: &mut Diagnostics,
        config: Self::State<'a>,
    ) -> Option<(Self::State<'a>, Self::PrivateState<'a>, Option<SystemTime>)>;

    /// Renew the ephemeral resource (only called if `open` or a previous `renew` asked for it)
    ///
    /// # Return
    ///
    /// The new private state, and when to renew next (if ever).
    async fn renew<'a>(
        &self,
        diags: &mut Diagnostics,
        private_state: Self::PrivateState<'a>,
    ) -> Option<(Self::PrivateState<'a>, Option<SystemTime>)> {
        _ = diags;
        Some((private_state, None))
    }

    /// Close the ephemeral resource: release what `open` acquired
    async fn close<'a>(
        &self,
        diags: &mut Diagnostics,
        private_state: Self::PrivateState<'a>,
    ) -> Option<()> {
        _ = diags;
        _ = private_state;
        Some(())
    }
}

#[async_trait]
/// Trait for implementing an ephemeral resource *without* automatic serialization/deserialization
///
/// See also: [`EphemeralResource`]
pub trait DynamicEphemeralResource: Send + Sync {
    /// Get the schema of the ephemeral resource
    fn schema(&self, diags: &mut Diagnostics) -> Option<Schema>;

    /// Validate the configuration of the ephemeral resource
    async fn validate(&self, diags: &mut Diagnostics, config: RawValue) -> Option<()> {
        _ = diags;
        _ = config;
        Some(())
    }

    /// Open the ephemeral resource: result, private state, renew time
    async fn open(
        &self,
        diags: &mut Diagnostics,
        config: RawValue,
    ) -> Option<(RawValue, Vec<u8>, Option<SystemTime>)>;

    /// Renew the ephemeral resource: new private state, next renew time
    async fn renew(
        &self,
        diags: &mut Diagnostics,
        private_state: Vec<u8>,
    ) -> Option<(Vec<u8>, Option<SystemTime>)> {
        _ = diags;
        Some((private_state, None))
    }

    /// Close the ephemeral resource
    async fn close(&self, diags: &mut Diagnostics, private_state: Vec<u8>) -> Option<()> {
        _ = diags;
        _ = private_state;
        Some(())
    }
}

#[async_trait]
impl<T: EphemeralResource> DynamicEphemeralResource for T {
    fn schema(&self, diags: &mut Diagnostics) -> Option<Schema> {
        <T as EphemeralResource>::schema(self, diags)
    }
    async fn validate(&self, diags: &mut Diagnostics, config: RawValue) -> Option<()> {
        let config = config.deserialize(diags)?;
        <T as EphemeralResource>::validate(self, diags, config).await
    }
    async fn open(
        &self,
        diags: &mut Diagnostics,
        config: RawValue,
    ) -> Option<(RawValue, Vec<u8>, Option<SystemTime>)> {
        let config = config.deserialize(diags)?;
        let (state, private_state, renew_at) =
            <T as EphemeralResource>::open(self, diags, config).await?;
        Some((
            RawValue::serialize(diags, &state)?,
            RawValue::serialize_private(diags, &private_state)?,
            renew_at,
        ))
    }
    async fn renew(
        &self,
        diags: &mut Diagnostics,
        private_state: Vec<u8>,
    ) -> Option<(Vec<u8>, Option<SystemTime>)> {
        let private_state = RawValue::MessagePack(private_state);
        let private_state = private_state.deserialize(diags)?;
        let (private_state, renew_at) =
            <T as EphemeralResource>::renew(self, diags, private_state).await?;
        Some((
            RawValue::serialize_private(diags, &private_state)?,
            renew_at,
        ))
    }
    async fn close(&self, diags: &mut Diagnostics, private_state: Vec<u8>) -> Option<()> {
        let private_state = RawValue::MessagePack(private_state);
        let private_state = private_state.deserialize(diags)?;
        <T as EphemeralResource>::close(self, diags, private_state).await
    }
}

impl<T: EphemeralResource + 'static> From<T> for Box<dyn DynamicEphemeralResource> {
    fn from(value: T) -> Self {
        Box::new(value)
    }
}
