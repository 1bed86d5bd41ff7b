//! The admission plugins of kube-apiserver that the simulated cluster runs,
//! as pure functions over JSON objects: LimitRanger ([`limits`]),
//! ResourceQuota ([`quota`]) and PodSecurity ([`pod_security`]). The store
//! (`store::admit`) feeds them what they read from the cluster, in the
//! apiserver's order, under its lock so that quota checks and charges are
//! atomic.

pub(crate) mod limits;
pub(crate) mod pod_security;
pub(crate) mod pods;
pub(crate) mod quota;

/// Joins errors the way apimachinery's `utilerrors.NewAggregate` prints
/// them: one error as is, several (duplicates dropped) as `[a, b]`.
pub(crate) fn aggregate(errors: &[String]) -> Option<String> {
    let mut unique: Vec<&str> = Vec::new();
    for error in errors {
        if !unique.contains(&error.as_str()) {
            unique.push(error);
        }
    }
    match unique.as_slice() {
        [] => None,
        [one] => Some((*one).to_owned()),
        many => Some(format!("[{}]", many.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_print_like_apimachinery() {
        assert_eq!(aggregate(&[]), None);
        assert_eq!(aggregate(&["a".to_owned()]).as_deref(), Some("a"));
        assert_eq!(
            aggregate(&["a".to_owned(), "b".to_owned(), "a".to_owned()]).as_deref(),
            Some("[a, b]")
        );
    }
}
