//! `terraform-provider-statuspulse`: serves the provider to Terraform, or with `gen-docs`
//! regenerates the registry documentation from the schemas.

use std::path::PathBuf;
use std::process::ExitCode;

use terraform_provider_statuspulse::{
    disable_backtraces, docs, StatusPulseProvider, PROVIDER_NAME,
};

fn main() -> ExitCode {
    disable_backtraces();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("gen-docs") => {
            let root = PathBuf::from(args.get(1).map_or(".", String::as_str));
            match docs::write_all(&root.join("docs"), &root.join("examples")) {
                Ok(written) => {
                    eprintln!(
                        "gen-docs: wrote {written} files under {}",
                        root.join("docs").display()
                    );
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("gen-docs: {err}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("--version" | "version") => {
            println!(
                "terraform-provider-statuspulse {}",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        _ => serve(),
    }
}

fn serve() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("terraform-provider-statuspulse: cannot start: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tf_provider::serve(
        PROVIDER_NAME,
        StatusPulseProvider::new(),
    )) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("terraform-provider-statuspulse: {err}");
            ExitCode::FAILURE
        }
    }
}
