//! Small XML helpers over roxmltree: namespaces, lookups, text, escaping and xs:dateTime.

use roxmltree::Node;

use crate::Refusal;

pub(crate) const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub(crate) const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub(crate) const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
pub(crate) const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

/// Whether `node` is the element `{ns}name`.
pub(crate) fn is(node: Node<'_, '_>, ns: &str, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(ns)
}

/// The direct child elements `{ns}name`.
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(*c, ns, name))
}

/// The first direct child element `{ns}name`.
pub(crate) fn child<'a, 'i>(
    node: Node<'a, 'i>,
    ns: &'a str,
    name: &'a str,
) -> Option<Node<'a, 'i>> {
    children(node, ns, name).next()
}

/// All the text inside `node`, every text node joined, trimmed. Joining (rather than the first
/// text node) matters: `admin@example.com<!---->.evil.com` is one value, not `admin@example.com`.
pub(crate) fn text(node: Node<'_, '_>) -> String {
    node.descendants()
        .filter(Node::is_text)
        .filter_map(|n| n.text())
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Escapes text for an attribute value or element content.
pub(crate) fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

/// An xs:dateTime (with a zone, as SAML requires UTC) as Unix seconds.
pub(crate) fn parse_instant(value: &str, what: &str) -> Result<i64, Refusal> {
    chrono::DateTime::parse_from_rfc3339(value.trim())
        .map(|t| t.timestamp())
        .map_err(|_| Refusal::Malformed(format!("{what} is not a UTC date and time")))
}

/// Unix seconds as an xs:dateTime in UTC.
pub(crate) fn format_instant(unix: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix, 0).map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_joins_the_pieces_around_a_comment() {
        let doc = roxmltree::Document::parse("<a>admin@example.com<!---->.evil.com</a>").unwrap();
        assert_eq!(text(doc.root_element()), "admin@example.com.evil.com");
    }

    #[test]
    fn instants_round_trip_and_accept_fractions() {
        assert_eq!(
            parse_instant("2026-11-30T00:00:00Z", "t").unwrap(),
            1_795_996_800
        );
        assert_eq!(
            parse_instant("2026-11-30T00:00:00.123Z", "t").unwrap(),
            1_795_996_800
        );
        assert_eq!(
            format_instant(1_795_996_800).unwrap(),
            "2026-11-30T00:00:00Z"
        );
        assert_eq!(
            parse_instant("2026-11-30T00:00:00", "t")
                .unwrap_err()
                .code(),
            "malformed"
        );
    }
}
