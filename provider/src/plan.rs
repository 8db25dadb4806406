//! The plan layer: each resource's state declares how it is planned ([`PlanRules`]), and the
//! functions here turn Terraform's proposal into the planned state the same way for every resource.
//!
//! What a plan must get right, and why it is declared rather than written per resource:
//! - a create plans every server-assigned attribute as unknown ("known after apply"), otherwise
//!   Terraform rejects the applied state as inconsistent with the plan;
//! - an update lists the attributes the server cannot change in place; Terraform replaces the
//!   object only when one of them actually differs, so listing them always is safe;
//! - a resource may force a replacement that no configuration change causes (an API key due for
//!   rotation or revoked outside Terraform) by planning an attribute as unknown, which makes it
//!   differ from the prior value;
//! - nothing happens at destroy planning: Terraform 1.0 never sends that call.

use tf_provider::value::Value;
use tf_provider::AttributePath;

/// A state attribute that a plan can mark as known only after apply.
pub trait KnownAfterApply {
    fn set_unknown(&mut self);
}

impl<T> KnownAfterApply for Value<T> {
    fn set_unknown(&mut self) {
        *self = Value::Unknown;
    }
}

/// How a resource is planned, declared on its state type.
pub trait PlanRules {
    /// Attributes the server cannot update in place: a change replaces the object.
    const REPLACE_ON_CHANGE: &'static [&'static str];

    /// The attributes only the server assigns. A create plans them as unknown; an update keeps
    /// the prior values, which Terraform's proposal already carries.
    fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply>;

    /// Fills optional attributes the configuration left null with the server's default, so the
    /// plan shows the value the object will have.
    fn fill_defaults(&mut self) {}

    /// Before an update is planned and validated: Terraform's proposal carries the prior values
    /// of optional computed attributes the configuration leaves out. A resource for which a
    /// change makes those prior values meaningless (a replacement) takes the configuration's.
    fn adopt_config(&mut self, _prior: &Self, _config: &Self) {}

    /// Replacements that are not configuration changes: the prior object is no longer one to keep,
    /// or a change (such as a nested block swapped for another) the server cannot make in place.
    fn force_replacement(&self, _planned: &mut Self, _replace: &mut Replacement) {}

    /// Called on the prior state with the planned one: server-assigned attributes that an
    /// in-place update recomputes (delivery state, a rotation's deadline) are planned unknown
    /// when the plan changes anything, and left as they are when it changes nothing, so that
    /// values moving on their own never show as a diff.
    fn recomputed_by_update(&self, _planned: &mut Self) {}
}

/// The attribute paths an update plan lists as requiring replacement.
#[derive(Debug, Default)]
pub struct Replacement(Vec<AttributePath>);

impl Replacement {
    /// Replaces the object even though `attribute` is unchanged in the configuration: planning it
    /// as unknown makes it differ from its prior value, which is what Terraform acts on.
    pub fn force(&mut self, attribute: &'static str, planned: &mut dyn KnownAfterApply) {
        planned.set_unknown();
        self.0.push(AttributePath::new(attribute));
    }

    /// [`Replacement::force`] on an attribute inside a nested block.
    pub fn force_at(&mut self, at: AttributePath, planned: &mut dyn KnownAfterApply) {
        planned.set_unknown();
        self.0.push(at);
    }

    /// Replaces the object when `attribute` differs from its prior value, for changes that only
    /// some values of an attribute make (a destination block swapped for another kind).
    pub fn when_changed(&mut self, attribute: &'static str) {
        self.0.push(AttributePath::new(attribute));
    }
}

/// The planned state of a new object.
pub fn plan_create<S: PlanRules>(proposed: S) -> S {
    let mut planned = proposed;
    planned.fill_defaults();
    for attribute in planned.server_assigned() {
        attribute.set_unknown();
    }
    planned
}

/// The planned state of an existing object and the paths whose change requires replacing it.
pub fn plan_update<S: PlanRules>(prior: &S, proposed: S) -> (S, Vec<AttributePath>) {
    let mut planned = proposed;
    planned.fill_defaults();
    let mut replace = Replacement(
        S::REPLACE_ON_CHANGE
            .iter()
            .map(|attribute| AttributePath::new(*attribute))
            .collect(),
    );
    prior.force_replacement(&mut planned, &mut replace);
    prior.recomputed_by_update(&mut planned);
    (planned, replace.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default, PartialEq)]
    struct Toy {
        name: Value<String>,
        size: Value<i64>,
        id: Value<String>,
        retired: Value<bool>,
    }

    impl PlanRules for Toy {
        const REPLACE_ON_CHANGE: &'static [&'static str] = &["name"];

        fn server_assigned(&mut self) -> Vec<&mut dyn KnownAfterApply> {
            vec![&mut self.id, &mut self.retired]
        }

        fn fill_defaults(&mut self) {
            if self.size.is_null() {
                self.size = Value::Value(3);
            }
        }

        fn force_replacement(&self, planned: &mut Self, replace: &mut Replacement) {
            if self.retired == Value::Value(true) {
                replace.force("retired", &mut planned.retired);
            }
        }
    }

    fn stored() -> Toy {
        Toy {
            name: Value::Value("a".into()),
            size: Value::Value(5),
            id: Value::Value("t_1".into()),
            retired: Value::Value(false),
        }
    }

    #[test]
    fn a_create_plans_server_assigned_attributes_as_unknown_and_fills_defaults() {
        let planned = plan_create(Toy {
            name: Value::Value("a".into()),
            ..Toy::default()
        });
        assert!(planned.id.is_unknown() && planned.retired.is_unknown());
        assert_eq!(planned.size, Value::Value(3));
        assert_eq!(planned.name, Value::Value("a".into()));
    }

    #[test]
    fn an_update_keeps_server_assigned_values_and_lists_what_cannot_change_in_place() {
        let (planned, replace) = plan_update(&stored(), stored());
        assert_eq!(planned, stored());
        assert_eq!(replace, [AttributePath::new("name")]);
    }

    #[test]
    fn a_forced_replacement_plans_its_attribute_as_unknown() {
        let mut prior = stored();
        prior.retired = Value::Value(true);
        let (planned, replace) = plan_update(&prior, prior.clone());
        assert!(planned.retired.is_unknown());
        assert_eq!(
            replace,
            [AttributePath::new("name"), AttributePath::new("retired")]
        );
    }
}
