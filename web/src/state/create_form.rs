//! The create-store form: what was typed, which errors to show, and the
//! idempotency key of the submission in flight.

use std::{
    collections::{BTreeMap, BTreeSet},
    rc::Rc,
};

use yew::Reducible;

use crate::{
    api::FieldViolation,
    schema::ConfigSchema,
    validate::{self, DOMAINS_FIELD},
};

/// The form's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CreateForm {
    /// The store name as typed.
    pub name: String,
    /// The chosen engine id.
    pub engine: Option<String>,
    /// Config values as the controls hold them (text), by property name.
    pub values: BTreeMap<String, String>,
    /// Custom domains as typed (separated by commas, spaces or lines).
    pub domains: String,
    /// Fields the person has left at least once: their client-side errors
    /// show from then on (not while typing the first characters).
    pub touched: BTreeSet<String>,
    /// A submit was attempted: every client-side error shows.
    pub attempted: bool,
    /// The server's field violations, by field path (`name`,
    /// `config.admin_email`); each is cleared when its field changes.
    pub server_errors: BTreeMap<String, String>,
    /// The server's message when the submission failed.
    pub form_error: Option<String>,
    /// A submission is in flight.
    pub submitting: bool,
    /// The idempotency key of the current submission. Kept after a failure
    /// so that submitting the same values again (after a network error,
    /// say) cannot create a second store; dropped by any edit, since an
    /// edited form is a different request.
    pub request_id: Option<String>,
}

/// Changes to the form.
#[derive(Debug, Clone, PartialEq)]
pub enum FormAction {
    /// The name field changed.
    SetName(String),
    /// An engine was picked; its schema's defaults fill the config.
    SelectEngine {
        /// Engine id.
        engine: String,
        /// `ConfigSchema::initial_values` of its schema.
        defaults: BTreeMap<String, String>,
    },
    /// A config field changed.
    SetValue {
        /// Property name.
        key: String,
        /// The control's text.
        value: String,
    },
    /// The custom domains field changed.
    SetDomains(String),
    /// A field lost focus (`name`, `custom_domains` or `config.<key>`).
    Touch(String),
    /// Submit pressed while client-side errors remain.
    Attempted,
    /// Submit accepted: the request goes out with `request_id`.
    Submit {
        /// The key to use unless one is kept from an identical earlier try.
        request_id: String,
    },
    /// The server refused or could not be reached.
    Failed {
        /// What to say above the form.
        message: String,
        /// Per-field problems.
        violations: Vec<FieldViolation>,
    },
    /// The store was created.
    Succeeded,
}

impl CreateForm {
    fn edited(&mut self, field: &str) {
        self.server_errors.remove(field);
        // A whole-config violation (`config`) is about every field.
        self.server_errors.remove("config");
        self.request_id = None;
        self.form_error = None;
    }

    /// The custom domains to send, as the API takes them.
    pub fn custom_domains(&self) -> Vec<String> {
        self.domains
            .split(|c: char| c == ',' || c.is_whitespace())
            .map(validate::normalize_domain)
            .filter(|d| !d.is_empty())
            .collect()
    }

    /// Client-side problems, keyed like server violations. `domains` is
    /// the server's base domain when the chosen engine serves custom
    /// domains (they are checked then, all under `custom_domains`), `None`
    /// when it does not (the field is hidden and nothing is sent).
    pub fn client_errors(
        &self,
        schema: Option<&ConfigSchema>,
        domains: Option<&str>,
    ) -> BTreeMap<String, String> {
        let mut errors = BTreeMap::new();
        if let Err(why) = validate::store_name(&self.name) {
            errors.insert("name".to_owned(), why.to_string());
        }
        if self.engine.is_none() {
            errors.insert("engine".to_owned(), "choose an engine".to_owned());
        }
        if let Some(Err(config_errors)) = schema.map(|s| s.to_config(&self.values)) {
            errors.extend(config_errors);
        }
        if let Some(platform) = domains {
            let problems = validate::custom_domains(&self.custom_domains(), platform);
            if !problems.is_empty() {
                let text: Vec<String> = problems.into_values().collect();
                errors.insert(DOMAINS_FIELD.to_owned(), text.join("; "));
            }
        }
        errors
    }

    /// The message to show next to `field`, if any: the server's word
    /// first (it is the authority), else the client's once it is due —
    /// the name as soon as something is typed (it is cheap to get right
    /// while typing), other fields once left or after a submit attempt.
    pub fn error_for(&self, field: &str, client: &BTreeMap<String, String>) -> Option<String> {
        if let Some(server) = self.server_errors.get(field) {
            return Some(server.clone());
        }
        let due = self.attempted
            || self.touched.contains(field)
            || (field == "name" && !self.name.is_empty());
        client.get(field).filter(|_| due).cloned()
    }

    /// Server violations that name no field of this form, to show above it.
    pub fn unplaced_errors(&self, schema: Option<&ConfigSchema>) -> Vec<(String, String)> {
        let known = |field: &str| {
            field == "name"
                || field == "engine"
                || field == DOMAINS_FIELD
                || field.strip_prefix("config.").is_some_and(|key| {
                    schema.is_some_and(|s| s.fields.iter().any(|f| f.key == key))
                })
        };
        self.server_errors
            .iter()
            .filter(|(field, _)| !known(field))
            .map(|(f, m)| (f.clone(), m.clone()))
            .collect()
    }
}

impl Reducible for CreateForm {
    type Action = FormAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            // Nothing changes while a submission is in flight (the controls
            // are disabled too): what is sent is what is shown.
            FormAction::SetName(_)
            | FormAction::SetDomains(_)
            | FormAction::SelectEngine { .. }
            | FormAction::SetValue { .. }
            | FormAction::Submit { .. }
                if self.submitting =>
            {
                return self;
            }
            FormAction::SetName(name) => {
                next.name = name;
                next.edited("name");
            }
            FormAction::SelectEngine { engine, defaults } => {
                if next.engine.as_ref() == Some(&engine) {
                    return self;
                }
                next.engine = Some(engine);
                next.values = defaults;
                next.touched.retain(|f| !f.starts_with("config."));
                next.server_errors.retain(|f, _| !f.starts_with("config"));
                next.edited("engine");
            }
            FormAction::SetValue { key, value } => {
                let field = format!("config.{key}");
                next.values.insert(key, value);
                next.edited(&field);
            }
            FormAction::SetDomains(domains) => {
                next.domains = domains;
                next.edited(DOMAINS_FIELD);
            }
            FormAction::Touch(field) => {
                if !next.touched.insert(field) {
                    return self;
                }
            }
            FormAction::Attempted => next.attempted = true,
            FormAction::Submit { request_id } => {
                next.attempted = true;
                next.submitting = true;
                next.form_error = None;
                next.request_id.get_or_insert(request_id);
            }
            FormAction::Failed {
                message,
                violations,
            } => {
                next.submitting = false;
                next.form_error = Some(message);
                next.server_errors = BTreeMap::new();
                for v in violations {
                    // One field holds every domain: `custom_domains[i]`
                    // violations show under it together.
                    let field = if v.field.starts_with(DOMAINS_FIELD) {
                        DOMAINS_FIELD.to_owned()
                    } else {
                        v.field
                    };
                    next.server_errors
                        .entry(field)
                        .and_modify(|text: &mut String| {
                            text.push_str("; ");
                            text.push_str(&v.description);
                        })
                        .or_insert(v.description);
                }
            }
            FormAction::Succeeded => next.submitting = false,
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(actions: Vec<FormAction>) -> CreateForm {
        (*actions
            .into_iter()
            .fold(Rc::new(CreateForm::default()), |s, a| s.reduce(a)))
        .clone()
    }

    fn violation(field: &str, description: &str) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }

    fn woo() -> FormAction {
        FormAction::SelectEngine {
            engine: "woocommerce".into(),
            defaults: BTreeMap::from([("admin_email".into(), String::new())]),
        }
    }

    #[test]
    fn the_name_is_checked_while_typing_other_fields_once_left() {
        let form = run(vec![woo(), FormAction::SetName("Bad".into())]);
        let client = form.client_errors(None, None);
        assert!(
            form.error_for("name", &client)
                .is_some_and(|e| e.contains("lowercase"))
        );
        let client = BTreeMap::from([("config.admin_email".to_owned(), "is required".to_owned())]);
        assert_eq!(form.error_for("config.admin_email", &client), None);
        let form = run(vec![woo(), FormAction::Touch("config.admin_email".into())]);
        assert!(form.error_for("config.admin_email", &client).is_some());
        let form = run(vec![woo(), FormAction::Attempted]);
        assert!(form.error_for("config.admin_email", &client).is_some());
    }

    #[test]
    fn a_retried_submission_reuses_its_request_id_until_the_form_changes() {
        let form = run(vec![
            woo(),
            FormAction::SetName("shop".into()),
            FormAction::Submit {
                request_id: "first".into(),
            },
            FormAction::Failed {
                message: "cannot reach the server".into(),
                violations: vec![],
            },
            FormAction::Submit {
                request_id: "second".into(),
            },
        ]);
        assert_eq!(form.request_id.as_deref(), Some("first"));
        let edited = (*Rc::new(form)
            .reduce(FormAction::Failed {
                message: "x".into(),
                violations: vec![],
            })
            .reduce(FormAction::SetName("shop2".into()))
            .reduce(FormAction::Submit {
                request_id: "third".into(),
            }))
        .clone();
        assert_eq!(edited.request_id.as_deref(), Some("third"));
    }

    #[test]
    fn a_double_submit_is_ignored_while_the_first_is_in_flight() {
        let form = run(vec![
            woo(),
            FormAction::SetName("shop".into()),
            FormAction::Submit {
                request_id: "first".into(),
            },
            FormAction::Submit {
                request_id: "second".into(),
            },
            FormAction::SetName("changed".into()),
        ]);
        assert!(form.submitting);
        assert_eq!(form.request_id.as_deref(), Some("first"));
        assert_eq!(form.name, "shop");
    }

    #[test]
    fn server_violations_show_by_field_until_that_field_changes() {
        let form = run(vec![
            woo(),
            FormAction::SetName("shop".into()),
            FormAction::Submit {
                request_id: "r".into(),
            },
            FormAction::Failed {
                message: "invalid request".into(),
                violations: vec![
                    violation("config.currency", "\"XYZ\" is not one of [\"USD\"]"),
                    violation("name", "store \"shop\" already exists"),
                    violation("tenant", "unknown tenant"),
                ],
            },
        ]);
        let none = BTreeMap::new();
        assert!(
            form.error_for("config.currency", &none)
                .is_some_and(|e| e.contains("XYZ"))
        );
        assert!(form.error_for("name", &none).is_some());
        assert_eq!(
            form.unplaced_errors(None),
            [
                (
                    "config.currency".to_owned(),
                    "\"XYZ\" is not one of [\"USD\"]".to_owned()
                ),
                ("tenant".to_owned(), "unknown tenant".to_owned())
            ],
            "without a schema, config fields are unknown too"
        );
        let form = (*Rc::new(form).reduce(FormAction::SetValue {
            key: "currency".into(),
            value: "EUR".into(),
        }))
        .clone();
        assert_eq!(form.error_for("config.currency", &none), None);
        assert!(
            form.error_for("name", &none).is_some(),
            "other fields keep theirs"
        );
    }

    #[test]
    fn custom_domains_are_split_normalized_and_checked_only_when_offered() {
        let form = run(vec![
            woo(),
            FormAction::SetDomains(" Shop.Example.com, www.shop.example.com\nbad ".into()),
        ]);
        assert_eq!(
            form.custom_domains(),
            ["shop.example.com", "www.shop.example.com", "bad"]
        );
        let offered = form.client_errors(None, Some("localhost"));
        assert_eq!(
            offered.get("custom_domains").map(String::as_str),
            Some("\"bad\" must be a full domain name such as shop.example.com")
        );
        assert!(
            !form
                .client_errors(None, None)
                .contains_key("custom_domains")
        );
        let empty = run(vec![woo(), FormAction::SetDomains(" , ".into())]);
        assert!(empty.custom_domains().is_empty());
        assert!(
            !empty
                .client_errors(None, Some(""))
                .contains_key("custom_domains")
        );
    }

    #[test]
    fn server_violations_of_single_domains_show_under_the_one_field() {
        let form = run(vec![
            woo(),
            FormAction::SetDomains("a.example b.example".into()),
            FormAction::Submit {
                request_id: "r".into(),
            },
            FormAction::Failed {
                message: "invalid request".into(),
                violations: vec![
                    violation("custom_domains[0]", "first"),
                    violation("custom_domains[1]", "second"),
                ],
            },
        ]);
        let none = BTreeMap::new();
        assert_eq!(
            form.error_for("custom_domains", &none).as_deref(),
            Some("first; second")
        );
        assert!(form.unplaced_errors(None).is_empty());
        let edited = (*Rc::new(form).reduce(FormAction::SetDomains("a.example".into()))).clone();
        assert_eq!(edited.error_for("custom_domains", &none), None);
    }

    #[test]
    fn choosing_another_engine_resets_its_config_to_that_engines_defaults() {
        let form = run(vec![
            woo(),
            FormAction::SetValue {
                key: "admin_email".into(),
                value: "me@example.com".into(),
            },
            FormAction::SelectEngine {
                engine: "medusa".into(),
                defaults: BTreeMap::from([("region".into(), "eu".into())]),
            },
        ]);
        assert_eq!(
            form.values,
            BTreeMap::from([("region".into(), "eu".into())])
        );
        assert_eq!(form.engine.as_deref(), Some("medusa"));
    }
}
