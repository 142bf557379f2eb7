//! Filling templates (saved replies): `{variable}` placeholders replaced by
//! values from the peer's profile, mine, and `--var k=v`; `{{` and `}}` are
//! literal braces. Used by `mchat send --template` and the TUI.

use mchat_shared::api::{User, UserBrief};
use std::collections::BTreeMap;

/// Why a template could not be filled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A `{name}` with no value.
    #[error(
        "the template uses the variable '{name}', which has no value here (known: {known}); give it with --var {name}=VALUE"
    )]
    Unknown { name: String, known: String },
    /// A `{` with no `}`.
    #[error("the template has an opening brace that is never closed (two in a row make a literal brace)")]
    Unclosed,
    /// A `}` with no `{`.
    #[error("the template has a closing brace with no opening one (two in a row make a literal brace)")]
    LoneClose,
    /// `{}` or `{not a name}`.
    #[error(
        "the template has a placeholder '{0}' that is not a variable name (letters, digits and '_'; two braces in a row make a literal brace)"
    )]
    BadName(String),
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Fills `body`'s `{variables}` from `vars`.
pub fn render(body: &str, vars: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '}' => return Err(TemplateError::LoneClose),
            '{' => {
                let mut name = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                if !closed {
                    return Err(TemplateError::Unclosed);
                }
                let key = name.trim();
                if !is_name(key) {
                    return Err(TemplateError::BadName(name));
                }
                match vars.get(key) {
                    Some(v) => out.push_str(v),
                    None => {
                        return Err(TemplateError::Unknown {
                            name: key.to_string(),
                            known: vars.keys().cloned().collect::<Vec<_>>().join(", "),
                        });
                    }
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The variables a template body uses, in order of first use (for help
/// texts and the TUI). Malformed placeholders are left out.
pub fn variables(body: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut rest = body.replace("{{", "").replace("}}", "");
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else { break };
        let name = rest[start + 1..start + len].trim().to_string();
        if is_name(&name) && !seen.contains(&name) {
            seen.push(name);
        }
        rest = rest[start + len + 1..].to_string();
    }
    seen
}

fn first_word(name: &str) -> String {
    name.split_whitespace().next().unwrap_or(name).to_string()
}

fn put(vars: &mut BTreeMap<String, String>, key: &str, value: Option<&str>) {
    if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
        vars.insert(key.to_string(), v.to_string());
    }
}

/// Variables from what a conversation shows of the peer (name, first_name,
/// username, role) and from my own profile (my_name, my_first_name,
/// my_username, my_headline).
pub fn brief_vars(peer: &UserBrief, me: &User) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    put(&mut vars, "name", Some(&peer.display_name));
    put(&mut vars, "first_name", Some(&first_word(&peer.display_name)));
    put(&mut vars, "username", Some(&peer.username));
    put(&mut vars, "role", Some(peer.role.as_str()));
    put(&mut vars, "my_name", Some(&me.display_name));
    put(&mut vars, "my_first_name", Some(&first_word(&me.display_name)));
    put(&mut vars, "my_username", Some(&me.username));
    put(&mut vars, "my_headline", me.profile.headline.as_deref());
    vars
}

/// Everything [`brief_vars`] gives, plus the peer's profile: headline,
/// experience, level, expertise and interests (comma-separated). Fields the
/// peer left empty are not set, so a template using them asks for `--var`.
pub fn peer_vars(peer: &User, me: &User) -> BTreeMap<String, String> {
    let brief = UserBrief {
        username: peer.username.clone(),
        display_name: peer.display_name.clone(),
        role: peer.role,
        availability: peer.availability,
        last_seen: peer.last_seen,
    };
    let mut vars = brief_vars(&brief, me);
    let p = &peer.profile;
    put(&mut vars, "headline", p.headline.as_deref());
    put(&mut vars, "experience", p.experience.as_deref());
    put(&mut vars, "level", p.level.as_deref());
    put(&mut vars, "expertise", Some(&p.expertise.join(", ")));
    put(&mut vars, "interests", Some(&p.interests.join(", ")));
    vars
}

#[cfg(test)]
mod tests {
    use super::*;
    use mchat_shared::api::{Profile, Role};
    use proptest::prelude::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn user(username: &str, display: &str, role: Role) -> User {
        User {
            username: username.into(),
            display_name: display.into(),
            role,
            availability: None,
            mentor_approved: None,
            profile: Profile::default(),
            created_at: mchat_shared::Timestamp::UNIX_EPOCH,
            last_seen: None,
        }
    }

    #[test]
    fn fills_variables_and_keeps_escaped_braces() {
        let v = vars(&[("first_name", "Ana"), ("topic", "lifetimes")]);
        assert_eq!(
            render("Hi {first_name}! About {topic}: use {{braces}}.", &v).unwrap(),
            "Hi Ana! About lifetimes: use {braces}."
        );
        assert_eq!(render("{ first_name }", &v).unwrap(), "Ana");
        assert_eq!(render("no variables", &v).unwrap(), "no variables");
        assert_eq!(render("ünïcödé {topic} ✓", &v).unwrap(), "ünïcödé lifetimes ✓");
    }

    #[test]
    fn unknown_variable_names_it_and_lists_the_known_ones() {
        let v = vars(&[("name", "Ana Lima"), ("first_name", "Ana")]);
        let err = render("Hi {nmae}", &v).unwrap_err();
        assert_eq!(
            err,
            TemplateError::Unknown {
                name: "nmae".into(),
                known: "first_name, name".into()
            }
        );
        let text = err.to_string();
        assert!(
            text.contains("'nmae'") && text.contains("first_name, name"),
            "{text}"
        );
        assert!(text.contains("--var nmae=VALUE"), "{text}");
    }

    #[test]
    fn malformed_braces_are_errors() {
        let v = vars(&[("a", "1")]);
        assert_eq!(render("oops {a", &v), Err(TemplateError::Unclosed));
        assert_eq!(render("oops } here", &v), Err(TemplateError::LoneClose));
        assert!(matches!(render("{}", &v), Err(TemplateError::BadName(_))));
        assert!(matches!(
            render("{two words}", &v),
            Err(TemplateError::BadName(_))
        ));
    }

    #[test]
    fn lists_the_variables_a_body_uses() {
        assert_eq!(
            variables("Hi {first_name}, {{not}} {topic} and {first_name} {bad name}"),
            vec!["first_name".to_string(), "topic".to_string()]
        );
    }

    #[test]
    fn profile_variables_come_from_both_users() {
        let mut peer = user("ana", "Ana Lima", Role::Mentee);
        peer.profile.interests = vec!["rust".into(), "sql".into()];
        peer.profile.level = Some("2nd year CS".into());
        let mut me = user("mona", "Mona Reyes", Role::Mentor);
        me.profile.headline = Some("Staff engineer".into());
        let v = peer_vars(&peer, &me);
        assert_eq!(v["name"], "Ana Lima");
        assert_eq!(v["first_name"], "Ana");
        assert_eq!(v["username"], "ana");
        assert_eq!(v["role"], "mentee");
        assert_eq!(v["interests"], "rust, sql");
        assert_eq!(v["level"], "2nd year CS");
        assert_eq!(v["my_name"], "Mona Reyes");
        assert_eq!(v["my_first_name"], "Mona");
        assert_eq!(v["my_headline"], "Staff engineer");
        // Empty fields are not set, so a template using them asks for --var.
        assert!(!v.contains_key("headline"));
        assert!(!v.contains_key("expertise"));
    }

    proptest! {
        /// Text without braces comes back unchanged.
        #[test]
        fn text_without_braces_is_unchanged(s in "[^{}]*") {
            prop_assert_eq!(render(&s, &BTreeMap::new()).unwrap(), s);
        }

        /// Doubling every brace makes any text a template of itself.
        #[test]
        fn escaped_text_renders_to_itself(s in ".*") {
            let escaped = s.replace('{', "{{").replace('}', "}}");
            prop_assert_eq!(render(&escaped, &BTreeMap::new()).unwrap(), s);
        }

        /// A value is inserted verbatim, braces and all (no second expansion).
        #[test]
        fn values_are_not_expanded_again(v in ".*") {
            let vars = vars(&[("x", v.as_str())]);
            prop_assert_eq!(render("<{x}>", &vars).unwrap(), format!("<{v}>"));
        }
    }
}
