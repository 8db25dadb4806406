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

//! Implementation of TF gRPC services for the version 6 of the protocol

use std::fmt::Write;
use std::sync::Arc;

use crate::attribute_path::AttributePathStep;
use crate::diagnostics::Diagnostics;
use crate::raw::RawValue;
use crate::server::Server;
use crate::tfplugin6 as tf;
use crate::utils::{CollectDiagnostics, OptionExpand};
use crate::write_only;

#[tonic::async_trait]
impl tf::provider_server::Provider for Arc<Server> {
    async fn get_metadata(
        &self,
        _request: tonic::Request<tf::get_metadata::Request>,
    ) -> std::result::Result<tonic::Response<tf::get_metadata::Response>, tonic::Status> {
        let resources = self
            .resources
            .keys()
            .map(|name| tf::get_metadata::ResourceMetadata {
                type_name: name.clone(),
            })
            .collect();
        let data_sources = self
            .data_sources
            .keys()
            .map(|name| tf::get_metadata::DataSourceMetadata {
                type_name: name.clone(),
            })
            .collect();
        let functions = self
            .functions
            .keys()
            .map(|name| tf::get_metadata::FunctionMetadata { name: name.clone() })
            .collect();
        let ephemeral_resources = self
            .ephemeral_resources
            .keys()
            .map(|name| tf::get_metadata::EphemeralResourceMetadata {
                type_name: name.clone(),
            })
            .collect();
        Ok(tonic::Response::new(tf::get_metadata::Response {
            server_capabilities: Some(tf::ServerCapabilities {
                plan_destroy: true,
                get_provider_schema_optional: false,
                move_resource_state: false,
            }),
            diagnostics: self.init_diags.clone().into(),
            data_sources,
            resources,
            functions,
            ephemeral_resources,
            // StatusPulse fork: list resources and actions (6.10) are not offered.
            list_resources: vec![],
            actions: vec![],
        }))
    }
    async fn get_provider_schema(
        &self,
        _request: tonic::Request<tf::get_provider_schema::Request>,
    ) -> Result<tonic::Response<tf::get_provider_schema::Response>, tonic::Status> {
        let schema = self.schema.as_ref().map(Into::into);
        let meta_schema = self.meta_schema.as_ref().map(Into::into);
        let resources = self
            .resources
            .iter()
            .map(|(name, (_, schema))| (name.clone(), schema.into()))
            .collect();
        let data_sources = self
            .data_sources
            .iter()
            .map(|(name, (_, schema))| (name.clone(), schema.into()))
            .collect();
        let functions = self
            .functions
            .iter()
            .map(|(name, (_, schema))| (name.clone(), schema.into()))
            .collect();
        let ephemeral_resources = self
            .ephemeral_resources
            .iter()
            .map(|(name, (_, schema))| (name.clone(), schema.into()))
            .collect();

        Ok(tonic::Response::new(tf::get_provider_schema::Response {
            provider: schema,
            resource_schemas: resources,
            data_source_schemas: data_sources,
            diagnostics: self.init_diags.clone().into(),
            provider_meta: meta_schema,
            server_capabilities: Some(tf::ServerCapabilities {
                plan_destroy: true,
                get_provider_schema_optional: false,
                move_resource_state: false,
            }),
            functions,
            ephemeral_resource_schemas: ephemeral_resources,
            list_resource_schemas: Default::default(),
            action_schemas: Default::default(),
        }))
    }
    async fn validate_provider_config(
        &self,
        request: tonic::Request<tf::validate_provider_config::Request>,
    ) -> Result<tonic::Response<tf::validate_provider_config::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        _ = if let Some(config) = request.config {
            self.provider.validate(&mut diags, config.into()).await
        } else {
            None
        }
        .ok_or_else(|| diags.internal_error());

        Ok(tonic::Response::new(
            tf::validate_provider_config::Response {
                diagnostics: diags.into(),
            },
        ))
    }
    async fn validate_resource_config(
        &self,
        request: tonic::Request<tf::validate_resource_config::Request>,
    ) -> Result<tonic::Response<tf::validate_resource_config::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        _ = if let (Some(resource), Some(config)) = (
            self.get_resource(&mut diags, &request.type_name),
            request.config,
        ) {
            // StatusPulse fork: refuse write-only values a client cannot keep out of state.
            let config = RawValue::from(config);
            if let Some((_, schema)) = self.resources.get(&request.type_name) {
                write_only::check_capabilities(
                    &mut diags,
                    &schema.block,
                    &config,
                    request.client_capabilities.as_ref(),
                );
            }
            resource.validate(&mut diags, config).await
        } else {
            None
        }
        .ok_or_else(|| diags.internal_error());

        Ok(tonic::Response::new(
            tf::validate_resource_config::Response {
                diagnostics: diags.into(),
            },
        ))
    }
    async fn validate_data_resource_config(
        &self,
        request: tonic::Request<tf::validate_data_resource_config::Request>,
    ) -> Result<tonic::Response<tf::validate_data_resource_config::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        _ = if let (Some(data_source), Some(config)) = (
            self.get_data_source(&mut diags, &request.type_name),
            request.config,
        ) {
            data_source.validate(&mut diags, config.into()).await
        } else {
            None
        }
        .ok_or_else(|| diags.internal_error());

        Ok(tonic::Response::new(
            tf::validate_data_resource_config::Response {
                diagnostics: diags.into(),
            },
        ))
    }
    async fn upgrade_resource_state(
        &self,
        request: tonic::Request<tf::upgrade_resource_state::Request>,
    ) -> Result<tonic::Response<tf::upgrade_resource_state::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let upgraded_state = if let (Some((resource, schema)), Some(raw_state)) =
            (self.resources.get(&request.type_name), request.raw_state)
        {
            if raw_state.json.is_empty() {
                diags.root_error_short("Upgrading from a legacy state is not supported");
                None
            } else {
                let json = RawValue::Json(raw_state.json);
                if request.version == schema.version {
                    Some(json)
                } else {
                    resource.upgrade(&mut diags, request.version, json).await
                }
            }
        } else {
            None
        }
        .collect_diagnostics(&mut diags)
        // StatusPulse fork: answer MessagePack, which Terraform decodes faster than JSON, with
        // write-only attributes null; the stored JSON is decoded once for both.
        .and_then(|state| match self.resources.get(&request.type_name) {
            Some((_, schema)) => write_only::json_as_msgpack(&schema.block, &state)
                .map(Some)
                .unwrap_or_else(|| write_only::null_write_only(&mut diags, &schema.block, state)),
            None => Some(state),
        });

        Ok(tonic::Response::new(tf::upgrade_resource_state::Response {
            diagnostics: diags.into(),
            upgraded_state: upgraded_state.map(Into::into),
        }))
    }
    /// ////// One-time initialization, called before other functions below
    async fn configure_provider(
        &self,
        request: tonic::Request<tf::configure_provider::Request>,
    ) -> Result<tonic::Response<tf::configure_provider::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        if let Some(config) = request.config {
            if self
                .provider
                .configure(&mut diags, request.terraform_version, config.into())
                .await
                .is_none()
            {
                diags.internal_error();
            }
        }

        Ok(tonic::Response::new(tf::configure_provider::Response {
            diagnostics: diags.into(),
        }))
    }
    /// ////// Managed Resource Lifecycle
    async fn read_resource(
        &self,
        request: tonic::Request<tf::read_resource::Request>,
    ) -> Result<tonic::Response<tf::read_resource::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let (state, private_state) =
            if let (Some(resource), Some(state), Some(provider_meta_state)) = (
                self.get_resource(&mut diags, &request.type_name),
                request.current_state,
                request.provider_meta,
            ) {
                resource
                    .read(
                        &mut diags,
                        state.into(),
                        request.private,
                        provider_meta_state.into(),
                    )
                    .await
            } else {
                None
            }
            .expand();
        let state =
            state.and_then(|state| self.scrub_write_only(&mut diags, &request.type_name, state));

        Ok(tonic::Response::new(tf::read_resource::Response {
            new_state: state.map(Into::into),
            diagnostics: diags.into(),
            private: private_state.unwrap_or_default(),
            // StatusPulse fork: no deferral, no resource identity.
            deferred: None,
            new_identity: None,
        }))
    }
    async fn plan_resource_change(
        &self,
        request: tonic::Request<tf::plan_resource_change::Request>,
    ) -> Result<tonic::Response<tf::plan_resource_change::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let (state, private_state, triggers) = if let (
            Some(resource),
            Some(prior_state),
            Some(proposed_state),
            Some(config_state),
            Some(provider_meta_state),
        ) = (
            self.get_resource(&mut diags, &request.type_name),
            request.prior_state,
            request.proposed_new_state,
            request.config,
            request.provider_meta,
        ) {
            let prior_state = RawValue::from(prior_state);
            let proposed_state = RawValue::from(proposed_state);
            let config_state = RawValue::from(config_state);

            match (
                prior_state.is_null(),
                proposed_state.is_null(),
                config_state.is_null(),
            ) {
                (false, false, false) => {
                    resource
                        .plan_update(
                            &mut diags,
                            prior_state,
                            proposed_state,
                            config_state,
                            request.prior_private,
                            provider_meta_state.into(),
                        )
                        .await
                }
                (false, true, true) => {
                    let planned_private = resource
                        .plan_destroy(
                            &mut diags,
                            prior_state,
                            request.prior_private,
                            provider_meta_state.into(),
                        )
                        .await;
                    Some((
                        Default::default(),
                        planned_private.unwrap_or_default(),
                        vec![],
                    ))
                }
                (true, false, false) => {
                    if let Some((state, private_state)) = resource
                        .plan_create(
                            &mut diags,
                            proposed_state,
                            config_state,
                            provider_meta_state.into(),
                        )
                        .await
                    {
                        Some((state, private_state, vec![]))
                    } else {
                        None
                    }
                }
                _ => {
                    diags.root_error_short("Resource is planned both for creation and deletion");
                    None
                }
            }
        } else {
            None
        }
        .and_then(|(state, private_state, triggers)| {
            let state = self.scrub_write_only(&mut diags, &request.type_name, state)?;
            Some((state, private_state, triggers))
        })
        .map(|(state, private_state, triggers)| {
            (
                state.into(),
                private_state,
                triggers.into_iter().map(|attr| attr.into()).collect(),
            )
        })
        .collect_diagnostics(&mut diags)
        .expand();

        Ok(tonic::Response::new(tf::plan_resource_change::Response {
            planned_state: state,
            requires_replace: triggers.unwrap_or_default(),
            planned_private: private_state.unwrap_or_default(),
            diagnostics: diags.into(),
            legacy_type_system: false,
            deferred: None,
            planned_identity: None,
        }))
    }
    async fn apply_resource_change(
        &self,
        request: tonic::Request<tf::apply_resource_change::Request>,
    ) -> Result<tonic::Response<tf::apply_resource_change::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let (state, private_state) = if let (
            Some(resource),
            Some(prior_state),
            Some(planned_state),
            Some(config_state),
            Some(provider_meta_state),
        ) = (
            self.get_resource(&mut diags, &request.type_name),
            request.prior_state,
            request.planned_state,
            request.config,
            request.provider_meta,
        ) {
            let prior_state = RawValue::from(prior_state);
            let planned_state = RawValue::from(planned_state);
            let config_state = RawValue::from(config_state);

            match (
                prior_state.is_null(),
                planned_state.is_null(),
                config_state.is_null(),
            ) {
                (false, false, false) => {
                    resource
                        .update(
                            &mut diags,
                            prior_state,
                            planned_state,
                            config_state,
                            request.planned_private,
                            provider_meta_state.into(),
                        )
                        .await
                }
                (false, true, true) => {
                    resource
                        .destroy(
                            &mut diags,
                            prior_state,
                            request.planned_private,
                            provider_meta_state.into(),
                        )
                        .await;
                    Some((Default::default(), vec![]))
                }
                (true, false, false) => {
                    resource
                        .create(
                            &mut diags,
                            planned_state,
                            config_state,
                            request.planned_private,
                            provider_meta_state.into(),
                        )
                        .await
                }
                _ => {
                    diags.root_error_short("Resource is marked both for creation and deletion");
                    None
                }
            }
        } else {
            None
        }
        .collect_diagnostics(&mut diags)
        .expand();
        let state =
            state.and_then(|state| self.scrub_write_only(&mut diags, &request.type_name, state));

        Ok(tonic::Response::new(tf::apply_resource_change::Response {
            new_state: state.map(Into::into),
            private: private_state.unwrap_or_default(),
            diagnostics: diags.into(),
            legacy_type_system: false,
            new_identity: None,
        }))
    }
    async fn import_resource_state(
        &self,
        request: tonic::Request<tf::import_resource_state::Request>,
    ) -> Result<tonic::Response<tf::import_resource_state::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let imported = if let Some(resource) = self.get_resource(&mut diags, &request.type_name) {
            resource.import(&mut diags, request.id).await
        } else {
            None
        }
        .collect_diagnostics(&mut diags)
        .and_then(|(state, private_state)| {
            let state = self.scrub_write_only(&mut diags, &request.type_name, state)?;
            Some((state, private_state))
        })
        .map(
            |(state, private_state)| tf::import_resource_state::ImportedResource {
                type_name: request.type_name,
                state: Some(state.into()),
                private: private_state,
                identity: None,
            },
        );

        Ok(tonic::Response::new(tf::import_resource_state::Response {
            imported_resources: imported.into_iter().collect(),
            diagnostics: diags.into(),
            deferred: None,
        }))
    }

    async fn move_resource_state(
        &self,
        _request: tonic::Request<tf::move_resource_state::Request>,
    ) -> std::result::Result<tonic::Response<tf::move_resource_state::Response>, tonic::Status>
    {
        let mut diags = Diagnostics::default();
        diags.root_error_short("MoveResourceState is not implemented");
        Ok(tonic::Response::new(tf::move_resource_state::Response {
            diagnostics: diags.into(),
            target_private: vec![],
            target_state: None,
            target_identity: None,
        }))
    }
    async fn read_data_source(
        &self,
        request: tonic::Request<tf::read_data_source::Request>,
    ) -> Result<tonic::Response<tf::read_data_source::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let state = if let (Some(data_source), Some(config), Some(provider_meta_state)) = (
            self.get_data_source(&mut diags, &request.type_name),
            request.config,
            request.provider_meta,
        ) {
            data_source
                .read(&mut diags, config.into(), provider_meta_state.into())
                .await
        } else {
            None
        }
        .collect_diagnostics(&mut diags);

        Ok(tonic::Response::new(tf::read_data_source::Response {
            state: state.map(Into::into),
            diagnostics: diags.into(),
            deferred: None,
        }))
    }
    async fn get_functions(
        &self,
        _request: tonic::Request<tf::get_functions::Request>,
    ) -> std::result::Result<tonic::Response<tf::get_functions::Response>, tonic::Status> {
        let functions = self
            .functions
            .iter()
            .map(|(name, (_, schema))| (name.clone(), schema.into()))
            .collect();
        Ok(tonic::Response::new(tf::get_functions::Response {
            diagnostics: self.init_diags.clone().into(),
            functions,
        }))
    }
    async fn call_function(
        &self,
        request: tonic::Request<tf::call_function::Request>,
    ) -> std::result::Result<tonic::Response<tf::call_function::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let result = if let Some(function) = self.get_function(&mut diags, &request.name) {
            function
                .call(
                    &mut diags,
                    request.arguments.into_iter().map(Into::into).collect(),
                )
                .await
        } else {
            None
        }
        .collect_diagnostics(&mut diags);

        #[derive(Debug, Clone, Copy)]
        enum Index {
            None,
            Mixed,
            Unique(i64),
        }

        // Check if all diagnostics have the same index, if any
        let mut idx = Index::None;
        for diag in [&diags.errors, &diags.warnings].into_iter().flatten() {
            match (idx, diag.attribute.steps.as_slice()) {
                (Index::None, [AttributePathStep::Index(j)]) => {
                    idx = Index::Unique(*j);
                }
                (Index::Unique(i), [AttributePathStep::Index(j)]) if i == *j => (),
                _ => {
                    idx = Index::Mixed;
                }
            }
        }

        if diags.errors.is_empty() && !diags.warnings.is_empty() {
            diags.root_error_short("Function has emitted warnings");
        }

        // Format error message
        let (result, error) = if diags.errors.is_empty() {
            (result, None)
        } else {
            let mut message = String::new();
            let has_warnings = !diags.warnings.is_empty();
            for (diags, warning) in [(&diags.errors, false), (&diags.warnings, true)].into_iter() {
                let prefix = match (warning, has_warnings) {
                    (true, _) => "Warning: ",
                    (false, true) => "Error: ",
                    (false, false) => "",
                };

                for diag in diags {
                    if !message.is_empty() {
                        _ = writeln!(&mut message);
                    }
                    _ = write!(&mut message, "{prefix}");

                    if let (Index::None | Index::Mixed, [AttributePathStep::Index(j)]) =
                        (idx, diag.attribute.steps.as_slice())
                    {
                        _ = write!(&mut message, "Argument #{}: ", *j + 1);
                    };
                    _ = write!(&mut message, "{}", diag.summary);
                    if !diag.detail.is_empty() {
                        _ = write!(&mut message, "\n  {}", diag.detail);
                    }
                }
            }

            (
                None,
                Some(tf::FunctionError {
                    text: message,
                    function_argument: if let Index::Unique(i) = idx {
                        Some(i)
                    } else {
                        None
                    },
                }),
            )
        };

        Ok(tonic::Response::new(tf::call_function::Response {
            error,
            result: result.map(Into::into),
        }))
    }

    //////// StatusPulse fork (FORK.md): RPCs of protocol 6.6 to 6.10

    async fn get_resource_identity_schemas(
        &self,
        _request: tonic::Request<tf::get_resource_identity_schemas::Request>,
    ) -> Result<tonic::Response<tf::get_resource_identity_schemas::Response>, tonic::Status> {
        // No resource declares an identity: an empty map tells Terraform there is none.
        Ok(tonic::Response::new(
            tf::get_resource_identity_schemas::Response {
                identity_schemas: Default::default(),
                diagnostics: self.init_diags.clone().into(),
            },
        ))
    }
    async fn upgrade_resource_identity(
        &self,
        request: tonic::Request<tf::upgrade_resource_identity::Request>,
    ) -> Result<tonic::Response<tf::upgrade_resource_identity::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();
        diags.root_error(
            "Resource identity is not supported",
            format!(
                "The resource type `{}` has no identity schema, so there is no identity to upgrade.",
                request.type_name
            ),
        );
        Ok(tonic::Response::new(
            tf::upgrade_resource_identity::Response {
                upgraded_identity: None,
                diagnostics: diags.into(),
            },
        ))
    }
    async fn validate_ephemeral_resource_config(
        &self,
        request: tonic::Request<tf::validate_ephemeral_resource_config::Request>,
    ) -> Result<tonic::Response<tf::validate_ephemeral_resource_config::Response>, tonic::Status>
    {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        _ = if let (Some(resource), Some(config)) = (
            self.get_ephemeral_resource(&mut diags, &request.type_name),
            request.config,
        ) {
            resource.validate(&mut diags, config.into()).await
        } else {
            None
        }
        .ok_or_else(|| diags.internal_error());

        Ok(tonic::Response::new(
            tf::validate_ephemeral_resource_config::Response {
                diagnostics: diags.into(),
            },
        ))
    }
    async fn open_ephemeral_resource(
        &self,
        request: tonic::Request<tf::open_ephemeral_resource::Request>,
    ) -> Result<tonic::Response<tf::open_ephemeral_resource::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let (result, private_state, renew_at) = if let (Some(resource), Some(config)) = (
            self.get_ephemeral_resource(&mut diags, &request.type_name),
            request.config,
        ) {
            resource.open(&mut diags, config.into()).await
        } else {
            None
        }
        .collect_diagnostics(&mut diags)
        .expand();

        Ok(tonic::Response::new(
            tf::open_ephemeral_resource::Response {
                diagnostics: diags.into(),
                renew_at: renew_at.flatten().map(Into::into),
                result: result.map(Into::into),
                private: private_state,
                deferred: None,
            },
        ))
    }
    async fn renew_ephemeral_resource(
        &self,
        request: tonic::Request<tf::renew_ephemeral_resource::Request>,
    ) -> Result<tonic::Response<tf::renew_ephemeral_resource::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        let (private_state, renew_at) =
            if let Some(resource) = self.get_ephemeral_resource(&mut diags, &request.type_name) {
                resource
                    .renew(&mut diags, request.private.unwrap_or_default())
                    .await
            } else {
                None
            }
            .collect_diagnostics(&mut diags)
            .expand();

        Ok(tonic::Response::new(
            tf::renew_ephemeral_resource::Response {
                diagnostics: diags.into(),
                renew_at: renew_at.flatten().map(Into::into),
                private: private_state,
            },
        ))
    }
    async fn close_ephemeral_resource(
        &self,
        request: tonic::Request<tf::close_ephemeral_resource::Request>,
    ) -> Result<tonic::Response<tf::close_ephemeral_resource::Response>, tonic::Status> {
        let request = request.into_inner();
        let mut diags = Diagnostics::default();

        _ = if let Some(resource) = self.get_ephemeral_resource(&mut diags, &request.type_name) {
            resource
                .close(&mut diags, request.private.unwrap_or_default())
                .await
        } else {
            None
        }
        .ok_or_else(|| diags.internal_error());

        Ok(tonic::Response::new(
            tf::close_ephemeral_resource::Response {
                diagnostics: diags.into(),
            },
        ))
    }

    type ListResourceStream = std::pin::Pin<
        Box<
            dyn futures::Stream<Item = Result<tf::list_resource::Event, tonic::Status>>
                + Send
                + 'static,
        >,
    >;
    async fn list_resource(
        &self,
        request: tonic::Request<tf::list_resource::Request>,
    ) -> Result<tonic::Response<Self::ListResourceStream>, tonic::Status> {
        let request = request.into_inner();
        let event = tf::list_resource::Event {
            identity: None,
            display_name: String::new(),
            resource_object: None,
            diagnostic: unsupported("List resource", &request.type_name).into(),
        };
        Ok(tonic::Response::new(Box::pin(futures::stream::iter([Ok(
            event,
        )]))))
    }
    async fn validate_list_resource_config(
        &self,
        request: tonic::Request<tf::validate_list_resource_config::Request>,
    ) -> Result<tonic::Response<tf::validate_list_resource_config::Response>, tonic::Status> {
        let request = request.into_inner();
        Ok(tonic::Response::new(
            tf::validate_list_resource_config::Response {
                diagnostics: unsupported("List resource", &request.type_name).into(),
            },
        ))
    }
    async fn validate_action_config(
        &self,
        request: tonic::Request<tf::validate_action_config::Request>,
    ) -> Result<tonic::Response<tf::validate_action_config::Response>, tonic::Status> {
        let request = request.into_inner();
        Ok(tonic::Response::new(tf::validate_action_config::Response {
            diagnostics: unsupported("Action", &request.action_type).into(),
        }))
    }
    async fn plan_action(
        &self,
        request: tonic::Request<tf::plan_action::Request>,
    ) -> Result<tonic::Response<tf::plan_action::Response>, tonic::Status> {
        let request = request.into_inner();
        Ok(tonic::Response::new(tf::plan_action::Response {
            diagnostics: unsupported("Action", &request.action_type).into(),
            deferred: None,
        }))
    }

    type InvokeActionStream = std::pin::Pin<
        Box<
            dyn futures::Stream<Item = Result<tf::invoke_action::Event, tonic::Status>>
                + Send
                + 'static,
        >,
    >;
    async fn invoke_action(
        &self,
        request: tonic::Request<tf::invoke_action::Request>,
    ) -> Result<tonic::Response<Self::InvokeActionStream>, tonic::Status> {
        let request = request.into_inner();
        let event = tf::invoke_action::Event {
            r#type: Some(tf::invoke_action::event::Type::Completed(
                tf::invoke_action::event::Completed {
                    diagnostics: unsupported("Action", &request.action_type).into(),
                },
            )),
        };
        Ok(tonic::Response::new(Box::pin(futures::stream::iter([Ok(
            event,
        )]))))
    }

    /// ////// Graceful Shutdown
    async fn stop_provider(
        &self,
        _request: tonic::Request<tf::stop_provider::Request>,
    ) -> Result<tonic::Response<tf::stop_provider::Response>, tonic::Status> {
        self.cancellation_token.cancel();

        Ok(tonic::Response::new(tf::stop_provider::Response {
            error: "".to_string(),
        }))
    }
}

/// StatusPulse fork: the answer for a protocol feature this provider does not offer.
fn unsupported(kind: &str, type_name: &str) -> Diagnostics {
    let mut diags = Diagnostics::default();
    diags.root_error(
        format!("{kind} not supported"),
        format!(
            "This provider offers no {} `{type_name}`.",
            kind.to_lowercase()
        ),
    );
    diags
}

impl Server {
    /// StatusPulse fork: null every write-only attribute of a state the provider returns.
    fn scrub_write_only(
        &self,
        diags: &mut Diagnostics,
        type_name: &str,
        state: RawValue,
    ) -> Option<RawValue> {
        match self.resources.get(type_name) {
            Some((_, schema)) => write_only::null_write_only(diags, &schema.block, state),
            None => Some(state),
        }
    }
}

/// StatusPulse fork: the protocol 6.10 additions seen through the gRPC service, as Terraform
/// calls it.
#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use futures::executor::block_on;
    use serde::{Deserialize, Serialize};
    use tf::provider_server::Provider as _;

    use super::*;
    use crate::ephemeral_resource::DynamicEphemeralResource;
    use crate::provider::DynamicProvider;
    use crate::resource::DynamicResource;
    use crate::schema::{Attribute, AttributeConstraint, AttributeType, Block, Schema};
    use crate::value::Value;
    use crate::AttributePath;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    struct Sso {
        name: Value<String>,
        client_secret: Value<String>,
    }

    fn schema() -> Schema {
        let attr = |write_only| Attribute {
            attr_type: AttributeType::String,
            constraint: AttributeConstraint::Optional,
            write_only,
            ..Default::default()
        };
        Schema {
            version: 1,
            block: Block {
                attributes: HashMap::from([
                    ("name".to_owned(), attr(false)),
                    ("client_secret".to_owned(), attr(true)),
                ]),
                ..Default::default()
            },
        }
    }

    /// A careless resource: it plans and applies the configuration as it is, secret included.
    struct Careless;

    #[async_trait::async_trait]
    impl DynamicResource for Careless {
        fn schema(&self, _: &mut Diagnostics) -> Option<Schema> {
            Some(schema())
        }
        async fn read(
            &self,
            _: &mut Diagnostics,
            state: RawValue,
            private: Vec<u8>,
            _: RawValue,
        ) -> Option<(RawValue, Vec<u8>)> {
            Some((state, private))
        }
        async fn plan_create(
            &self,
            _: &mut Diagnostics,
            _: RawValue,
            config: RawValue,
            _: RawValue,
        ) -> Option<(RawValue, Vec<u8>)> {
            Some((config, vec![]))
        }
        async fn plan_update(
            &self,
            _: &mut Diagnostics,
            _: RawValue,
            _: RawValue,
            config: RawValue,
            _: Vec<u8>,
            _: RawValue,
        ) -> Option<(RawValue, Vec<u8>, Vec<AttributePath>)> {
            Some((config, vec![], vec![]))
        }
        async fn plan_destroy(
            &self,
            _: &mut Diagnostics,
            _: RawValue,
            _: Vec<u8>,
            _: RawValue,
        ) -> Option<Vec<u8>> {
            Some(vec![])
        }
        async fn create(
            &self,
            _: &mut Diagnostics,
            _: RawValue,
            config: RawValue,
            _: Vec<u8>,
            _: RawValue,
        ) -> Option<(RawValue, Vec<u8>)> {
            Some((config, vec![]))
        }
        async fn update(
            &self,
            _: &mut Diagnostics,
            _: RawValue,
            _: RawValue,
            config: RawValue,
            _: Vec<u8>,
            _: RawValue,
        ) -> Option<(RawValue, Vec<u8>)> {
            Some((config, vec![]))
        }
        async fn destroy(
            &self,
            _: &mut Diagnostics,
            _: RawValue,
            _: Vec<u8>,
            _: RawValue,
        ) -> Option<()> {
            Some(())
        }
    }

    /// An ephemeral resource that records what close received.
    struct Lease(Arc<Mutex<Vec<Vec<u8>>>>);

    #[async_trait::async_trait]
    impl DynamicEphemeralResource for Lease {
        fn schema(&self, _: &mut Diagnostics) -> Option<Schema> {
            Some(schema())
        }
        async fn open(
            &self,
            _: &mut Diagnostics,
            config: RawValue,
        ) -> Option<(RawValue, Vec<u8>, Option<SystemTime>)> {
            Some((config, b"lease-42".to_vec(), Some(SystemTime::UNIX_EPOCH)))
        }
        async fn close(&self, _: &mut Diagnostics, private: Vec<u8>) -> Option<()> {
            self.0.lock().unwrap().push(private);
            Some(())
        }
    }

    struct TestProvider(Arc<Mutex<Vec<Vec<u8>>>>);

    #[async_trait::async_trait]
    impl DynamicProvider for TestProvider {
        fn schema(&self, _: &mut Diagnostics) -> Option<Schema> {
            Some(Schema {
                version: 1,
                block: Block::default(),
            })
        }
        fn get_resources(
            &self,
            _: &mut Diagnostics,
        ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
            Some(HashMap::from([(
                "sso".to_owned(),
                Box::new(Careless) as Box<dyn DynamicResource>,
            )]))
        }
        fn get_ephemeral_resources(
            &self,
            _: &mut Diagnostics,
        ) -> Option<HashMap<String, Box<dyn DynamicEphemeralResource>>> {
            Some(HashMap::from([(
                "lease".to_owned(),
                Box::new(Lease(self.0.clone())) as Box<dyn DynamicEphemeralResource>,
            )]))
        }
    }

    fn server() -> (Arc<Server>, Arc<Mutex<Vec<Vec<u8>>>>) {
        let closed = Arc::new(Mutex::new(vec![]));
        let server = Server::new("test".to_owned(), Box::new(TestProvider(closed.clone())));
        (Arc::new(server), closed)
    }

    fn value(secret: &str) -> tf::DynamicValue {
        let mut diags = Diagnostics::default();
        let sso = Sso {
            name: Value::Value("okta".into()),
            client_secret: Value::Value(secret.into()),
        };
        RawValue::serialize(&mut diags, &sso).unwrap().into()
    }

    fn decode(value: Option<tf::DynamicValue>) -> Sso {
        let mut diags = Diagnostics::default();
        RawValue::from(value.unwrap())
            .deserialize(&mut diags)
            .unwrap()
    }

    #[test]
    fn schema_and_metadata_carry_write_only_and_ephemeral_resources() {
        let (server, _) = server();
        let schema = block_on(
            server.get_provider_schema(tonic::Request::new(tf::get_provider_schema::Request {})),
        )
        .unwrap()
        .into_inner();
        let attrs = &schema.resource_schemas["test_sso"]
            .block
            .as_ref()
            .unwrap()
            .attributes;
        let secret = attrs.iter().find(|a| a.name == "client_secret").unwrap();
        assert!(secret.write_only);
        assert!(schema.ephemeral_resource_schemas.contains_key("test_lease"));

        let metadata =
            block_on(server.get_metadata(tonic::Request::new(tf::get_metadata::Request {})))
                .unwrap()
                .into_inner();
        assert_eq!(metadata.ephemeral_resources[0].type_name, "test_lease");
        assert!(metadata.list_resources.is_empty() && metadata.actions.is_empty());
    }

    fn validate(capabilities: Option<tf::ClientCapabilities>) -> Vec<tf::Diagnostic> {
        let (server, _) = server();
        block_on(server.validate_resource_config(tonic::Request::new(
            tf::validate_resource_config::Request {
                type_name: "test_sso".to_owned(),
                config: Some(value("s3cr3t")),
                client_capabilities: capabilities,
            },
        )))
        .unwrap()
        .into_inner()
        .diagnostics
    }

    #[test]
    fn a_write_only_value_needs_the_client_capability() {
        // Terraform 1.0 to 1.10: no capability, one error naming the attribute and the version.
        let refused = validate(None);
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].detail.contains("Terraform 1.11 or later"));
        assert!(refused[0].attribute.is_some());
        let refused = validate(Some(tf::ClientCapabilities {
            deferral_allowed: true,
            write_only_attributes_allowed: false,
        }));
        assert_eq!(refused.len(), 1, "{refused:?}");
        // Terraform 1.11+.
        let accepted = validate(Some(tf::ClientCapabilities {
            deferral_allowed: true,
            write_only_attributes_allowed: true,
        }));
        assert!(accepted.is_empty(), "{accepted:?}");
    }

    #[test]
    fn a_stored_state_is_upgraded_to_message_pack_with_its_values_and_without_secrets() {
        let (server, _) = server();
        let upgraded = block_on(server.upgrade_resource_state(tonic::Request::new(
            tf::upgrade_resource_state::Request {
                type_name: "test_sso".to_owned(),
                version: 1,
                raw_state: Some(tf::RawState {
                    json: br#"{"name":"okta","client_secret":"s3cr3t"}"#.to_vec(),
                    flatmap: HashMap::new(),
                }),
            },
        )))
        .unwrap()
        .into_inner();
        assert!(
            upgraded.diagnostics.is_empty(),
            "{:?}",
            upgraded.diagnostics
        );
        let state = upgraded.upgraded_state.unwrap();
        // MessagePack, which Terraform decodes faster than JSON, and nothing else.
        assert!(state.json.is_empty() && !state.msgpack.is_empty());
        let state = decode(Some(state));
        assert_eq!(state.name, Value::Value("okta".into()));
        assert_eq!(state.client_secret, Value::Null);
    }

    #[test]
    fn planned_and_applied_states_never_hold_a_write_only_value() {
        let (server, _) = server();
        let null: tf::DynamicValue = RawValue::default().into();
        let planned = block_on(server.plan_resource_change(tonic::Request::new(
            tf::plan_resource_change::Request {
                type_name: "test_sso".to_owned(),
                prior_state: Some(null.clone()),
                proposed_new_state: Some(value("s3cr3t")),
                config: Some(value("s3cr3t")),
                prior_private: vec![],
                provider_meta: Some(null.clone()),
                client_capabilities: None,
                prior_identity: None,
            },
        )))
        .unwrap()
        .into_inner();
        assert!(planned.diagnostics.is_empty(), "{:?}", planned.diagnostics);
        assert!(planned.deferred.is_none());
        let planned_state = decode(planned.planned_state.clone());
        assert_eq!(planned_state.client_secret, Value::Null);
        assert_eq!(planned_state.name, Value::Value("okta".into()));

        let applied = block_on(server.apply_resource_change(tonic::Request::new(
            tf::apply_resource_change::Request {
                type_name: "test_sso".to_owned(),
                prior_state: Some(null.clone()),
                planned_state: planned.planned_state,
                config: Some(value("s3cr3t")),
                planned_private: vec![],
                provider_meta: Some(null),
                planned_identity: None,
            },
        )))
        .unwrap()
        .into_inner();
        assert_eq!(decode(applied.new_state).client_secret, Value::Null);
    }

    #[test]
    fn an_ephemeral_resource_gets_its_private_state_back_at_close() {
        let (server, closed) = server();
        let opened = block_on(server.open_ephemeral_resource(tonic::Request::new(
            tf::open_ephemeral_resource::Request {
                type_name: "test_lease".to_owned(),
                config: Some(value("x")),
                client_capabilities: None,
            },
        )))
        .unwrap()
        .into_inner();
        assert!(opened.diagnostics.is_empty(), "{:?}", opened.diagnostics);
        assert_eq!(opened.renew_at.unwrap().seconds, 0);
        assert_eq!(decode(opened.result).name, Value::Value("okta".into()));

        let closed_answer = block_on(server.close_ephemeral_resource(tonic::Request::new(
            tf::close_ephemeral_resource::Request {
                type_name: "test_lease".to_owned(),
                private: opened.private,
            },
        )))
        .unwrap()
        .into_inner();
        assert!(closed_answer.diagnostics.is_empty());
        assert_eq!(*closed.lock().unwrap(), [b"lease-42".to_vec()]);
    }

    #[test]
    fn features_not_offered_are_explicit_errors() {
        let (server, _) = server();
        let answer = block_on(server.validate_action_config(tonic::Request::new(
            tf::validate_action_config::Request {
                action_type: "test_notify".to_owned(),
                config: None,
            },
        )))
        .unwrap()
        .into_inner();
        assert!(answer.diagnostics[0].summary.contains("not supported"));
        let identities = block_on(server.get_resource_identity_schemas(tonic::Request::new(
            tf::get_resource_identity_schemas::Request {},
        )))
        .unwrap()
        .into_inner();
        assert!(identities.identity_schemas.is_empty());
    }
}
