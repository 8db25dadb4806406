// Forked third-party code (see FORK.md): the StatusPulse lint gate does not apply to it.
#![allow(warnings, clippy::all)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    // StatusPulse fork (FORK.md): two protocol comments contain an indented banner that rustdoc
    // would run as a doctest, so prost leaves those comments out.
    let mut config = prost_build::Config::new();
    config.disable_comments([
        ".tfplugin6.PlanResourceChange.Response.legacy_type_system",
        ".tfplugin6.ApplyResourceChange.Response.legacy_type_system",
    ]);
    tonic_build::configure()
        .protoc_arg("--experimental_allow_proto3_optional")
        .build_client(false)
        .compile_protos_with_config(
            config,
            &["proto/plugin.proto", "proto/tfplugin6.10.proto"],
            &["proto"],
        )?;
    Ok(())
}
