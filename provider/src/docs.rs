//! Registry documentation generated from the provider's own schemas (`gen-docs`), in the layout
//! the Terraform Registry reads: `docs/index.md`, `docs/resources/*.md`, `docs/data-sources/*.md`,
//! `docs/ephemeral-resources/*.md`.
//!
//! Generating from the schemas served to Terraform is what keeps docs and behaviour from drifting;
//! CI regenerates and fails on `git diff --exit-code docs/`. Output is sorted so it is stable.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use statuspulse_api::{Scope, ScopeKind};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, FunctionSchema, NestedBlock, Parameter,
    Schema, Type,
};
use tf_provider::{Diagnostics, Provider};

use crate::{StatusPulseProvider, PROVIDER_NAME};

/// Which registry page a schema belongs to.
#[derive(Clone, Copy)]
enum Kind {
    Resource,
    DataSource,
    EphemeralResource,
}

impl Kind {
    fn title(self) -> &'static str {
        match self {
            Kind::Resource => "Resource",
            Kind::DataSource => "Data Source",
            Kind::EphemeralResource => "Ephemeral Resource",
        }
    }
    fn docs_dir(self) -> &'static str {
        match self {
            Kind::Resource => "resources",
            Kind::DataSource => "data-sources",
            Kind::EphemeralResource => "ephemeral-resources",
        }
    }
    fn example_file(self) -> &'static str {
        match self {
            Kind::Resource => "resource.tf",
            Kind::DataSource => "data-source.tf",
            Kind::EphemeralResource => "ephemeral-resource.tf",
        }
    }
}

/// All pages, keyed by path relative to `docs/`.
pub fn render_all(examples: &Path) -> io::Result<BTreeMap<String, String>> {
    let provider = StatusPulseProvider::new();
    let mut diags = Diagnostics::default();
    let mut pages = BTreeMap::new();

    let provider_schema = provider
        .schema(&mut diags)
        .ok_or_else(|| io::Error::other("provider has no schema"))?;
    pages.insert(
        "index.md".to_owned(),
        render_index(&provider_schema, examples)?,
    );

    let resources = Provider::get_resources(&provider, &mut diags).unwrap_or_default();
    for (name, resource) in resources {
        let schema = resource
            .schema(&mut diags)
            .ok_or_else(|| io::Error::other(format!("resource {name} has no schema")))?;
        let (path, page) = render_page(Kind::Resource, &name, &schema, examples)?;
        pages.insert(path, page);
    }
    let data_sources = Provider::get_data_sources(&provider, &mut diags).unwrap_or_default();
    for (name, data_source) in data_sources {
        let schema = data_source
            .schema(&mut diags)
            .ok_or_else(|| io::Error::other(format!("data source {name} has no schema")))?;
        let (path, page) = render_page(Kind::DataSource, &name, &schema, examples)?;
        pages.insert(path, page);
    }
    let ephemeral_resources =
        Provider::get_ephemeral_resources(&provider, &mut diags).unwrap_or_default();
    for (name, resource) in ephemeral_resources {
        let schema = resource
            .schema(&mut diags)
            .ok_or_else(|| io::Error::other(format!("ephemeral resource {name} has no schema")))?;
        let (path, page) = render_page(Kind::EphemeralResource, &name, &schema, examples)?;
        pages.insert(path, page);
    }
    let functions = Provider::get_functions(&provider, &mut diags).unwrap_or_default();
    for (name, function) in functions {
        let schema = function
            .schema(&mut diags)
            .ok_or_else(|| io::Error::other(format!("function {name} has no schema")))?;
        pages.insert(
            format!("functions/{name}.md"),
            render_function(&name, &schema, examples)?,
        );
    }
    Ok(pages)
}

/// Writes every page under `docs`, replacing what was there; returns how many files it wrote.
pub fn write_all(docs: &Path, examples: &Path) -> io::Result<usize> {
    let pages = render_all(examples)?;
    for dir in [
        "resources",
        "data-sources",
        "ephemeral-resources",
        "functions",
    ] {
        // Stale pages of removed resources must not survive a regeneration.
        if docs.join(dir).exists() {
            fs::remove_dir_all(docs.join(dir))?;
        }
        fs::create_dir_all(docs.join(dir))?;
    }
    for (path, page) in &pages {
        fs::write(docs.join(path), page)?;
    }
    Ok(pages.len())
}

fn read_example(path: &Path) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text.trim_end().to_owned())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io::Error::new(
            err.kind(),
            format!("{}: {err}", path.display()),
        )),
    }
}

fn front_matter(out: &mut String, title: &str, description: &str) {
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "page_title: \"{title}\"");
    let _ = writeln!(out, "subcategory: \"\"");
    let _ = writeln!(out, "description: |-");
    let first = description.split("\n\n").next().unwrap_or_default();
    let _ = writeln!(out, "  {}", first.replace('\n', "\n  "));
    let _ = writeln!(out, "---\n");
}

fn render_index(schema: &Schema, examples: &Path) -> io::Result<String> {
    let mut out = String::new();
    let description = &schema.block.description.content;
    front_matter(&mut out, "Provider: StatusPulse", description);
    let _ = writeln!(out, "# StatusPulse Provider\n\n{description}\n");
    if let Some(example) = read_example(&examples.join("provider/provider.tf"))? {
        let _ = writeln!(out, "## Example Usage\n\n```terraform\n{example}\n```\n");
    }
    let _ = writeln!(
        out,
        "## Authentication\n\nThe provider authenticates with one of:\n\n\
         - **An API key**, sent as `Authorization: Bearer`: `api_key` or, better, the \
         `STATUSPULSE_API_KEY` environment variable (from a vault).\n\
         - **An OIDC token, without a stored key** (workload identity): the JWT that the platform \
         the provider runs on issues (GitHub Actions, GitLab CI, a Kubernetes pod), exchanged at \
         the server's `/oauth2/token` (RFC 8693) for a short-lived access token acting as a \
         service account, under a `statuspulse_workload_identity` trust policy. Give it as \
         `oidc_token_file` (`STATUSPULSE_OIDC_TOKEN_FILE`), re-read before each exchange, or \
         `oidc_token` (`STATUSPULSE_OIDC_TOKEN`); in a GitHub Actions job with `permissions: \
         id-token: write` and no other credential, the provider asks GitHub for a token with the \
         audience `oidc_audience` (default `statuspulse`) by itself. `workload_identity` \
         (`STATUSPULSE_WORKLOAD_IDENTITY`) names the trust policy when several match. The access \
         token is exchanged again, re-reading the OIDC token, when less than a minute of it \
         remains, so an apply may outlast it as long as the platform refreshes its token. The \
         server exchanges each OIDC token once and Terraform starts the provider once per \
         command phase (`terraform apply` plans, then applies), so outside GitHub Actions give \
         each start its own token: `terraform plan -out=tfplan`, then `terraform apply tfplan`. See the \
         [workload identity guide](guides/workload-identity.md).\n\n\
         The provider block wins over the environment, which wins over GitHub Actions; two \
         credentials in the same place (say `api_key` and `oidc_token_file`, or \
         `STATUSPULSE_API_KEY` and `STATUSPULSE_OIDC_TOKEN`) are an error, as are \
         `workload_identity` or `oidc_audience` next to an API key. A missing, malformed or \
         refused credential, or a refused exchange (with the server's reason, such as the trust \
         policy condition that failed), is reported once, when the provider is configured. \
         Neither token ever appears in a diagnostic or log.\n\n\
         Requests that StatusPulse rate-limits (429) or that fail with a 5xx are retried with \
         exponential backoff, honouring `Retry-After`.\n"
    );
    render_schema(&mut out, schema);
    Ok(out)
}

fn render_page(
    kind: Kind,
    name: &str,
    schema: &Schema,
    examples: &Path,
) -> io::Result<(String, String)> {
    let type_name = format!("{PROVIDER_NAME}_{name}");
    let description = &schema.block.description.content;
    let mut out = String::new();
    front_matter(
        &mut out,
        &format!(
            "{type_name} {} - terraform-provider-statuspulse",
            kind.title()
        ),
        description,
    );
    let _ = writeln!(out, "# {type_name} ({})\n\n{description}\n", kind.title());
    let example_dir = examples.join(kind.docs_dir()).join(&type_name);
    if let Some(example) = read_example(&example_dir.join(kind.example_file()))? {
        let _ = writeln!(out, "## Example Usage\n\n```terraform\n{example}\n```\n");
    }
    // A second example for write-only attributes (Terraform 1.11+), kept in its own directory so
    // the acceptance harness can skip it on older Terraform (examples/write-only/<type>/).
    if matches!(kind, Kind::Resource) {
        let write_only = examples.join("write-only").join(&type_name).join("main.tf");
        if let Some(example) = read_example(&write_only)? {
            let _ = writeln!(
                out,
                "## Example Usage: write-only secret (Terraform 1.11 and later)\n\n```terraform\n{example}\n```\n"
            );
        }
    }
    // And one for a secret store, which the acceptance harness applies against moto_server
    // (examples/secret-store/<type>/).
    if matches!(kind, Kind::Resource) {
        let stored = examples
            .join("secret-store")
            .join(&type_name)
            .join("main.tf");
        if let Some(example) = read_example(&stored)? {
            let _ = writeln!(
                out,
                "## Example Usage: key kept in AWS Secrets Manager\n\n```terraform\n{example}\n```\n"
            );
        }
    }
    render_schema(&mut out, schema);
    if matches!(kind, Kind::DataSource) && name == "scopes" {
        render_scope_catalog(&mut out);
    }
    let import_block = read_example(&example_dir.join("import-by-string-id.tf"))?;
    if let Some(block) = &import_block {
        let _ = writeln!(
            out,
            "## Import\n\nIn Terraform 1.5 and later, use an `import` block:\n\n```terraform\n{block}\n```\n"
        );
    }
    if let Some(import) = read_example(&example_dir.join("import.sh"))? {
        let heading = if import_block.is_some() {
            "The `terraform import` command works on every version"
        } else {
            "## Import\n\nImport is supported using the following syntax"
        };
        let _ = writeln!(out, "{heading}:\n\n```shell\n{import}\n```");
    }
    let path = format!("{}/{name}.md", kind.docs_dir());
    Ok((path, out.trim_end().to_owned() + "\n"))
}

/// A function page in the registry's layout: `provider::statuspulse::<name>` with its signature.
fn render_function(name: &str, schema: &FunctionSchema, examples: &Path) -> io::Result<String> {
    let mut out = String::new();
    front_matter(
        &mut out,
        &format!("{name} function - terraform-provider-statuspulse"),
        &schema.summary,
    );
    let _ = writeln!(
        out,
        "# function: {name}\n\n{}\n",
        schema.description.content
    );
    let example = examples.join("functions").join(name).join("function.tf");
    if let Some(example) = read_example(&example)? {
        let _ = writeln!(out, "## Example Usage\n\n```terraform\n{example}\n```\n");
    }
    let parameters: Vec<String> = schema
        .parameters
        .iter()
        .map(|p| format!("{} {}", p.name, function_type(&p.param_type)))
        .collect();
    let _ = writeln!(
        out,
        "## Signature\n\n<!-- signature generated by `terraform-provider-statuspulse gen-docs` -->\n\
         ```text\nprovider::{PROVIDER_NAME}::{name}({}) {}\n```\n",
        parameters.join(", "),
        function_type(&schema.return_type)
    );
    let _ = writeln!(out, "## Arguments\n");
    for (
        index,
        Parameter {
            name,
            param_type,
            description,
            ..
        },
    ) in schema.parameters.iter().enumerate()
    {
        let (type_name, _) = type_text(&match param_type {
            Type::String => AttributeType::String,
            Type::Number => AttributeType::Number,
            Type::Bool => AttributeType::Bool,
            _ => AttributeType::Any,
        });
        let _ = writeln!(
            out,
            "{}. `{name}` ({type_name}) {}",
            index + 1,
            description.content
        );
    }
    Ok(out.trim_end().to_owned() + "\n")
}

/// Terraform's type keyword in a function signature.
fn function_type(value: &Type) -> String {
    match value {
        Type::String => "string".into(),
        Type::Number => "number".into(),
        Type::Bool => "bool".into(),
        other => other.to_string(),
    }
}

/// The catalog as the server serves it: names, kinds and descriptions all come from
/// `statuspulse_api::Scope`, the one copy both sides compile.
fn render_scope_catalog(out: &mut String) {
    let _ = writeln!(out, "## Scope Catalog\n");
    let _ = writeln!(out, "| Scope | Kind | Description |");
    let _ = writeln!(out, "|-------|------|-------------|");
    for scope in Scope::ALL {
        let kind = match scope.kind() {
            ScopeKind::Resource => "resource",
            ScopeKind::Management => "management",
        };
        let _ = writeln!(
            out,
            "| `{}` | {kind} | {} |",
            scope.as_str(),
            scope.description()
        );
    }
    let _ = writeln!(out);
}

fn render_schema(out: &mut String, schema: &Schema) {
    let attributes: BTreeMap<&String, &Attribute> = schema.block.attributes.iter().collect();
    let _ = writeln!(
        out,
        "<!-- schema generated by `terraform-provider-statuspulse gen-docs` -->"
    );
    let _ = writeln!(out, "## Schema\n");
    let sections = [
        ("Required", AttributeConstraint::Required),
        ("Optional", AttributeConstraint::Optional),
        ("Read-Only", AttributeConstraint::Computed),
    ];
    let mut nested = Vec::new();
    for (title, constraint) in sections {
        let in_section: Vec<_> = attributes
            .iter()
            .filter(|(_, a)| section_of(&a.constraint) == constraint)
            .collect();
        if in_section.is_empty() {
            continue;
        }
        let _ = writeln!(out, "### {title}\n");
        for (name, attribute) in in_section {
            let sensitive = sensitivity(attribute);
            let (type_text, object) = type_text(&attribute.attr_type);
            let see_below = if object.is_some() {
                format!(" (see [below for nested schema](#nestedatt--{name}))")
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "- `{name}` ({type_text}{sensitive}) {}{see_below}",
                attribute.description.content
            );
            if let Some(object) = object {
                nested.push(((*name).clone(), object));
            }
        }
        let _ = writeln!(out);
    }
    render_blocks(out, &schema.block.blocks, "");
    for (name, fields) in nested {
        let _ = writeln!(
            out,
            "<a id=\"nestedatt--{name}\"></a>\n### Nested Schema for `{name}`\n\nRead-Only:\n"
        );
        for (field, field_type) in fields {
            let _ = writeln!(out, "- `{field}` ({})", type_text(&field_type).0);
        }
        let _ = writeln!(out);
    }
}

/// How the registry marks an attribute whose value Terraform redacts or never stores.
fn sensitivity(attribute: &Attribute) -> &'static str {
    match (attribute.sensitive, attribute.write_only) {
        (_, true) => ", Sensitive, [Write-only](https://developer.hashicorp.com/terraform/language/resources/ephemeral#write-only-arguments)",
        (true, false) => ", Sensitive",
        _ => "",
    }
}

/// Nested blocks (at most one of each, in this provider): a list, then each block's attributes.
/// The blocks of a schema (`parent` empty) or of a block (`parent` its dotted path), each with its
/// nested schema, recursively: a block's own blocks are listed under it and described after it.
fn render_blocks(
    out: &mut String,
    blocks: &std::collections::HashMap<String, NestedBlock>,
    parent: &str,
) {
    let blocks = block_map(blocks);
    if blocks.is_empty() {
        return;
    }
    let anchor = |name: &str| {
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{}--{name}", parent.replace('.', "--"))
        }
    };
    let heading = if parent.is_empty() {
        "### Blocks\n"
    } else {
        "Blocks:\n"
    };
    let _ = writeln!(out, "{heading}");
    for (name, block) in &blocks {
        let _ = writeln!(
            out,
            "- `{name}` (Block, at most one) {} (see [below for nested schema](#nestedblock--{}))",
            block.description.content,
            anchor(name)
        );
    }
    let _ = writeln!(out);
    if !parent.is_empty() {
        return;
    }
    render_block_schemas(out, blocks, parent);
}

fn block_map(blocks: &std::collections::HashMap<String, NestedBlock>) -> BTreeMap<&String, &Block> {
    blocks
        .iter()
        .map(|(name, nested)| {
            let block = match nested {
                NestedBlock::Single(b)
                | NestedBlock::List(b)
                | NestedBlock::Set(b)
                | NestedBlock::Map(b)
                | NestedBlock::Group(b)
                | NestedBlock::Optional(b) => b,
            };
            (name, block)
        })
        .collect()
}

/// The nested schema of each block, then of the blocks inside it.
fn render_block_schemas(out: &mut String, blocks: BTreeMap<&String, &Block>, parent: &str) {
    for (name, block) in blocks {
        let path = if parent.is_empty() {
            (*name).clone()
        } else {
            format!("{parent}.{name}")
        };
        let _ = writeln!(
            out,
            "<a id=\"nestedblock--{}\"></a>\n### Nested Schema for `{path}`\n",
            path.replace('.', "--")
        );
        let attributes: BTreeMap<&String, &Attribute> = block.attributes.iter().collect();
        for (title, constraint) in [
            ("Required", AttributeConstraint::Required),
            ("Optional", AttributeConstraint::Optional),
            ("Read-Only", AttributeConstraint::Computed),
        ] {
            let in_section: Vec<_> = attributes
                .iter()
                .filter(|(_, a)| section_of(&a.constraint) == constraint)
                .collect();
            if in_section.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{title}:\n");
            for (field, attribute) in in_section {
                let _ = writeln!(
                    out,
                    "- `{field}` ({}{}) {}",
                    type_text(&attribute.attr_type).0,
                    sensitivity(attribute),
                    attribute.description.content
                );
            }
            let _ = writeln!(out);
        }
        if !block.blocks.is_empty() {
            render_blocks(out, &block.blocks, &path);
            render_block_schemas(out, block_map(&block.blocks), &path);
        }
    }
}

fn section_of(constraint: &AttributeConstraint) -> AttributeConstraint {
    match constraint {
        AttributeConstraint::OptionalComputed => AttributeConstraint::Optional,
        other => other.clone(),
    }
}

/// The registry's wording for a type, plus the fields of an object element to document below.
fn type_text(attr_type: &AttributeType) -> (String, Option<BTreeMap<String, AttributeType>>) {
    match attr_type {
        AttributeType::String => ("String".into(), None),
        AttributeType::Number => ("Number".into(), None),
        AttributeType::Bool => ("Boolean".into(), None),
        AttributeType::List(inner) | AttributeType::Set(inner) | AttributeType::Map(inner) => {
            let outer = match attr_type {
                AttributeType::List(_) => "List",
                AttributeType::Set(_) => "Set",
                _ => "Map",
            };
            let (inner_text, object) = type_text(inner);
            (format!("{outer} of {inner_text}"), object)
        }
        AttributeType::Object(fields) => (
            "Object".into(),
            Some(fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        ),
        // `Any`, and whatever the framework adds later: Terraform's dynamic type.
        _ => ("Dynamic".into(), None),
    }
}
