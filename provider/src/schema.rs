//! Small builders that keep the resource schemas readable; descriptions are Markdown because the
//! registry docs are generated from them.

use std::collections::HashMap;

use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, NestedBlock, Schema,
};

pub fn string() -> AttributeType {
    AttributeType::String
}

pub fn set_of_strings() -> AttributeType {
    AttributeType::Set(Box::new(AttributeType::String))
}

pub fn map_of_strings() -> AttributeType {
    AttributeType::Map(Box::new(AttributeType::String))
}

fn attribute(attr_type: AttributeType, constraint: AttributeConstraint, doc: &str) -> Attribute {
    Attribute {
        attr_type,
        description: Description::markdown(doc),
        constraint,
        sensitive: false,
        deprecated: false,
        write_only: false,
    }
}

pub fn required(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Required, doc)
}

pub fn optional(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Optional, doc)
}

pub fn optional_computed(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::OptionalComputed, doc)
}

pub fn computed(attr_type: AttributeType, doc: &str) -> Attribute {
    attribute(attr_type, AttributeConstraint::Computed, doc)
}

/// Marks an attribute sensitive so Terraform redacts it in plans and output.
pub fn sensitive(mut attribute: Attribute) -> Attribute {
    attribute.sensitive = true;
    attribute
}

/// Marks an attribute write-only (Terraform 1.11+: never in the plan or the state), and
/// sensitive for the Terraform versions that show it anyway in a diagnostic.
pub fn write_only(mut attribute: Attribute) -> Attribute {
    attribute.write_only = true;
    attribute.sensitive = true;
    attribute
}

/// A nested block that appears at most once (a list of at most one element in the state, read
/// with `value::serde_as_vec`).
pub fn optional_block(doc: &str, attributes: Vec<(&str, Attribute)>) -> NestedBlock {
    NestedBlock::Optional(Block {
        version: 1,
        attributes: attributes
            .into_iter()
            .map(|(n, a)| (n.to_owned(), a))
            .collect(),
        blocks: HashMap::new(),
        description: Description::markdown(doc),
        deprecated: false,
    })
}

/// A schema of plain attributes (no nested blocks), version 1.
pub fn schema<const N: usize>(doc: &str, attributes: [(&str, Attribute); N]) -> Schema {
    Schema {
        version: 1,
        block: Block {
            version: 1,
            attributes: attributes
                .into_iter()
                .map(|(name, attribute)| (name.to_owned(), attribute))
                .collect::<HashMap<_, _>>(),
            blocks: HashMap::new(),
            description: Description::markdown(doc),
            deprecated: false,
        },
    }
}
