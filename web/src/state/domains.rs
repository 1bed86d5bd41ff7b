//! A store's custom domains: whether its engine serves them, the DNS record
//! each needs, and the add/remove form. Each change is one
//! `SetStoreCustomDomains` call with the whole list; the list shown is the
//! store's own, as the watch reports it.

use std::{collections::BTreeMap, rc::Rc};

use storeplane_proto::v1::Engine;
use yew::Reducible;

use crate::{
    api::{ApiError, FieldViolation},
    validate::{self, DOMAINS_FIELD, MAX_CUSTOM_DOMAINS},
};

/// Whether stores of `engine` can have custom domains: plugins built
/// against plugin API 0.1 cannot (the server refuses the same way). An
/// unknown engine gets the benefit of the doubt: the server decides.
pub fn engine_serves_domains(engine: Option<&Engine>) -> bool {
    engine.is_none_or(|e| !(e.plugin_api == "0.1" || e.plugin_api.starts_with("0.1.")))
}

/// The DNS record a custom domain needs: a CNAME to the store's platform
/// host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// The custom domain (the record's name).
    pub name: String,
    /// `<store name>.<base domain>`.
    pub target: String,
    /// Two labels (`example.com`): a zone apex, where DNS allows no CNAME
    /// and the provider's ALIAS/ANAME record has to stand in. (Deeper
    /// names can be apexes too, under suffixes such as `co.uk`.)
    pub apex: bool,
}

/// The record `domain` needs for store `store_name`; `None` when the
/// server has no base domain (no cluster: nothing to point at).
pub fn dns_record(domain: &str, store_name: &str, base_domain: &str) -> Option<DnsRecord> {
    let base = base_domain.trim_matches('.');
    (!base.is_empty()).then(|| DnsRecord {
        name: domain.to_owned(),
        target: format!("{store_name}.{base}"),
        apex: domain.split('.').count() == 2,
    })
}

/// A change sent to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainChange {
    /// Adds this domain at the end.
    Add(String),
    /// Removes this domain.
    Remove(String),
}

impl DomainChange {
    /// The full list to send: `current` with the change applied.
    pub fn apply(&self, current: &[String]) -> Vec<String> {
        match self {
            Self::Add(domain) => current.iter().chain([domain]).cloned().collect(),
            Self::Remove(domain) => current.iter().filter(|d| *d != domain).cloned().collect(),
        }
    }
}

/// The form's state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DomainsForm {
    /// The domain being typed.
    pub input: String,
    /// Add was pressed for this input: its client-side error shows.
    pub attempted: bool,
    /// The change in flight.
    pub saving: Option<DomainChange>,
    /// The server's word about the typed domain.
    pub input_error: Option<String>,
    /// The server's word about listed domains, by domain.
    pub errors: BTreeMap<String, String>,
    /// The server's message when it names no domain.
    pub form_error: Option<String>,
}

/// Changes to the form.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainsAction {
    /// The input changed.
    SetInput(String),
    /// Add pressed while the input has a client-side error.
    Attempted,
    /// A change went out.
    Saving(DomainChange),
    /// The server took it.
    Saved,
    /// The server refused it, or could not be reached.
    Failed {
        /// The list that was sent (violations name its indices).
        sent: Vec<String>,
        /// What to say when no violation names a domain.
        message: String,
        /// Per-field problems.
        violations: Vec<FieldViolation>,
    },
}

impl DomainsForm {
    /// The typed domain as it would be sent.
    pub fn domain(&self) -> String {
        validate::normalize_domain(&self.input)
    }

    /// Why the typed domain cannot be added to `current`, in the server's
    /// words (`platform_domain`: `ServerInfo.base_domain`).
    pub fn client_error(&self, current: &[String], platform_domain: &str) -> Option<String> {
        if current.len() >= MAX_CUSTOM_DOMAINS {
            return Some(format!(
                "at most {MAX_CUSTOM_DOMAINS} custom domains per store: remove one first"
            ));
        }
        let list = DomainChange::Add(self.domain()).apply(current);
        validate::custom_domains(&list, platform_domain)
            .remove(&format!("{DOMAINS_FIELD}[{}]", current.len()))
    }

    /// The message under the input: the server's, else the client's once
    /// Add was pressed (not while the first characters are typed).
    pub fn input_message(&self, current: &[String], platform_domain: &str) -> Option<String> {
        self.input_error.clone().or_else(|| {
            self.attempted
                .then(|| self.client_error(current, platform_domain))
                .flatten()
        })
    }
}

/// The violation an ALREADY_EXISTS answer is about, when it names a
/// domain of `sent` (the list the request carried): `custom_domains[i]`,
/// described without the server's own `custom_domains[i]: ` prefix.
pub fn conflict_violation(err: &ApiError, sent: &[String]) -> Option<FieldViolation> {
    let ApiError::AlreadyExists {
        resource_type,
        name,
        description,
        ..
    } = err
    else {
        return None;
    };
    if resource_type != "domain" {
        return None;
    }
    let index = sent.iter().position(|d| d == name)?;
    let reason = description
        .strip_prefix(&format!("{DOMAINS_FIELD}[{index}]: "))
        .unwrap_or(description);
    Some(FieldViolation {
        field: format!("{DOMAINS_FIELD}[{index}]"),
        description: if reason.is_empty() {
            format!("{name} is already served by another store")
        } else {
            reason.to_owned()
        },
    })
}

impl Reducible for DomainsForm {
    type Action = DomainsAction;

    fn reduce(self: Rc<Self>, action: Self::Action) -> Rc<Self> {
        let mut next = (*self).clone();
        match action {
            // One change at a time: what is sent is what is shown.
            DomainsAction::Saving(_) | DomainsAction::SetInput(_) if self.saving.is_some() => {
                return self;
            }
            DomainsAction::SetInput(input) => {
                next.input = input;
                next.attempted = false;
                next.input_error = None;
                next.form_error = None;
            }
            DomainsAction::Attempted => next.attempted = true,
            DomainsAction::Saving(change) => {
                next.form_error = None;
                next.input_error = None;
                if let DomainChange::Remove(domain) = &change {
                    next.errors.remove(domain);
                }
                next.saving = Some(change);
            }
            DomainsAction::Saved => {
                if let Some(DomainChange::Add(_)) = next.saving.take() {
                    next.input.clear();
                    next.attempted = false;
                }
            }
            DomainsAction::Failed {
                sent,
                message,
                violations,
            } => {
                let adding = match next.saving.take() {
                    Some(DomainChange::Add(domain)) => Some(domain),
                    _ => None,
                };
                let mut placed = false;
                for v in violations {
                    let domain = v
                        .field
                        .strip_prefix(DOMAINS_FIELD)
                        .and_then(|i| i.strip_prefix('['))
                        .and_then(|i| i.strip_suffix(']'))
                        .and_then(|i| i.parse::<usize>().ok())
                        .and_then(|i| sent.get(i));
                    match domain {
                        Some(d) if Some(d) == adding.as_ref() => {
                            next.input_error = Some(v.description);
                        }
                        Some(d) => {
                            next.errors.insert(d.clone(), v.description);
                        }
                        // The whole list (too many): about what was added.
                        None if v.field == DOMAINS_FIELD && adding.is_some() => {
                            next.input_error = Some(v.description);
                        }
                        None => continue,
                    }
                    placed = true;
                }
                if !placed {
                    next.form_error = Some(message);
                }
            }
        }
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(actions: Vec<DomainsAction>) -> DomainsForm {
        (*actions
            .into_iter()
            .fold(Rc::new(DomainsForm::default()), |s, a| s.reduce(a)))
        .clone()
    }

    fn list(domains: &[&str]) -> Vec<String> {
        domains.iter().map(|d| (*d).to_owned()).collect()
    }

    fn violation(field: &str, description: &str) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }

    #[test]
    fn only_plugin_api_0_1_engines_go_without_custom_domains() {
        let engine = |api: &str| Engine {
            plugin_api: api.into(),
            ..Engine::default()
        };
        assert!(!engine_serves_domains(Some(&engine("0.1.0"))));
        assert!(engine_serves_domains(Some(&engine("0.2.0"))));
        assert!(engine_serves_domains(Some(&engine("0.10.0"))));
        assert!(engine_serves_domains(None), "unknown: the server decides");
    }

    #[test]
    fn the_dns_record_points_at_the_stores_platform_host() {
        let record = dns_record("shop.example.com", "corner", "shops.example.");
        assert_eq!(
            record,
            Some(DnsRecord {
                name: "shop.example.com".into(),
                target: "corner.shops.example".into(),
                apex: false,
            })
        );
        assert!(dns_record("example.com", "corner", "shops.example").is_some_and(|r| r.apex));
        assert_eq!(dns_record("shop.example.com", "corner", ""), None);
    }

    #[test]
    fn the_typed_domain_is_checked_against_the_list_once_add_is_pressed() {
        let current = list(&["shop.example.com"]);
        let typing = run(vec![DomainsAction::SetInput("Shop.Example.com".into())]);
        assert_eq!(typing.domain(), "shop.example.com");
        assert_eq!(typing.input_message(&current, "localhost"), None);
        let pressed = run(vec![
            DomainsAction::SetInput("Shop.Example.com".into()),
            DomainsAction::Attempted,
        ]);
        assert_eq!(
            pressed.input_message(&current, "localhost").as_deref(),
            Some("\"shop.example.com\" is listed twice")
        );
        let platform = run(vec![DomainsAction::SetInput("x.localhost".into())]);
        assert!(
            platform
                .client_error(&current, "localhost")
                .is_some_and(|e| e.contains("platform's own domain"))
        );
        let full: Vec<String> = (0..MAX_CUSTOM_DOMAINS)
            .map(|i| format!("s{i}.example"))
            .collect();
        assert!(
            run(vec![DomainsAction::SetInput("new.example".into())])
                .client_error(&full, "")
                .is_some_and(|e| e.starts_with("at most 10"))
        );
        let edited = run(vec![
            DomainsAction::SetInput("bad".into()),
            DomainsAction::Attempted,
            DomainsAction::SetInput("bad.example".into()),
        ]);
        assert_eq!(edited.input_message(&current, ""), None);
    }

    #[test]
    fn changes_send_the_whole_list() {
        let current = list(&["a.example", "b.example"]);
        assert_eq!(
            DomainChange::Add("c.example".into()).apply(&current),
            list(&["a.example", "b.example", "c.example"])
        );
        assert_eq!(
            DomainChange::Remove("a.example".into()).apply(&current),
            list(&["b.example"])
        );
    }

    #[test]
    fn a_saved_addition_clears_the_input_and_nothing_changes_meanwhile() {
        let saving = run(vec![
            DomainsAction::SetInput("shop.example.com".into()),
            DomainsAction::Saving(DomainChange::Add("shop.example.com".into())),
            DomainsAction::SetInput("other.example".into()),
            DomainsAction::Saving(DomainChange::Remove("a.example".into())),
        ]);
        assert_eq!(saving.input, "shop.example.com");
        assert_eq!(
            saving.saving,
            Some(DomainChange::Add("shop.example.com".into()))
        );
        let saved = (*Rc::new(saving).reduce(DomainsAction::Saved)).clone();
        assert_eq!(saved.input, "");
        assert_eq!(saved.saving, None);
    }

    #[test]
    fn server_violations_land_next_to_the_domain_they_name() {
        let sent = list(&["old.example", "new.example"]);
        let form = run(vec![
            DomainsAction::SetInput("new.example".into()),
            DomainsAction::Saving(DomainChange::Add("new.example".into())),
            DomainsAction::Failed {
                sent: sent.clone(),
                message: "invalid request".into(),
                violations: vec![
                    violation("custom_domains[1]", "new is refused"),
                    violation("custom_domains[0]", "old is refused"),
                ],
            },
        ]);
        assert_eq!(form.input_error.as_deref(), Some("new is refused"));
        assert_eq!(
            form.errors.get("old.example").map(String::as_str),
            Some("old is refused")
        );
        assert_eq!(form.form_error, None, "every violation was placed");
        assert_eq!(form.input, "new.example", "kept to be corrected");
        let removed = (*Rc::new(form).reduce(DomainsAction::Saving(DomainChange::Remove(
            "old.example".into(),
        ))))
        .clone();
        assert!(removed.errors.is_empty() && removed.input_error.is_none());
    }

    #[test]
    fn a_refusal_naming_no_domain_shows_above_the_form() {
        let form = run(vec![
            DomainsAction::Saving(DomainChange::Remove("a.example".into())),
            DomainsAction::Failed {
                sent: vec![],
                message: "the store changed since you loaded it".into(),
                violations: vec![],
            },
        ]);
        assert_eq!(
            form.form_error.as_deref(),
            Some("the store changed since you loaded it")
        );
        assert_eq!(form.saving, None);
    }

    #[test]
    fn a_domain_taken_by_another_store_is_placed_by_the_resource_it_names() {
        let taken = |resource_type: &str, description: &str| ApiError::AlreadyExists {
            resource_type: resource_type.into(),
            name: "www.example.org".into(),
            description: description.into(),
            message: "domain \"www.example.org\" already exists: …".into(),
        };
        let sent = list(&["a.example", "www.example.org"]);
        assert_eq!(
            conflict_violation(
                &taken(
                    "domain",
                    "custom_domains[1]: www.example.org is already served by another store"
                ),
                &sent
            ),
            Some(violation(
                "custom_domains[1]",
                "www.example.org is already served by another store"
            ))
        );
        assert_eq!(
            conflict_violation(&taken("domain", ""), &sent).map(|v| v.description),
            Some("www.example.org is already served by another store".to_owned())
        );
        assert_eq!(conflict_violation(&taken("store", "x"), &sent), None);
        assert_eq!(conflict_violation(&taken("domain", "x"), &[]), None);
    }
}
