//! What each kind of connection knows of its vendor: where the issuer is, and how the vendor
//! states groups, multi-factor authentication and a verified email in its ID tokens.
//!
//! Every OIDC kind is found through discovery (`{issuer}/.well-known/openid-configuration`);
//! the native kinds build the issuer from their settings (an Okta domain, an Azure AD tenant, a
//! OneLogin subdomain), and `endpoint_override` replaces only the vendor's base URL, so a test
//! IdP (or a sovereign cloud) is reached while the vendor's paths and claim handling stay.

use serde_json::Value;
use statuspulse_api::v1::SsoConnection;

/// Azure AD's multi-tenant aliases, whose discovery issuer is a template.
const AZURE_MULTI_TENANT: &[&str] = &["common", "organizations"];
/// The placeholder in a templated Azure AD issuer.
pub const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// The issuer a connection trusts and how its tokens are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connector {
    /// Where discovery is: `{discovery_base}/.well-known/openid-configuration`.
    pub discovery_base: String,
    /// The issuer discovery must announce (for Azure `common`, the template).
    pub issuer: String,
    pub vendor: Vendor,
    /// Azure `common`/`organizations`: the tenants whose tokens are accepted (`tid`).
    pub allowed_tenants: Option<Vec<String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    Okta,
    AzureAd,
    OneLogin,
    Generic,
}

impl Connector {
    /// The connector of an OIDC connection; `None` for `saml`.
    pub fn of(connection: &SsoConnection) -> Option<Connector> {
        let base = |default: String| {
            connection
                .endpoint_override
                .as_deref()
                .map_or(default, |o| o.trim_end_matches('/').to_owned())
        };
        match connection.kind.as_str() {
            "okta" => {
                let okta = connection.okta.as_ref()?;
                let root = base(format!("https://{}", okta.domain));
                let issuer = match &okta.authorization_server_id {
                    Some(id) => format!("{root}/oauth2/{id}"),
                    None => root,
                };
                Some(Connector {
                    discovery_base: issuer.clone(),
                    issuer,
                    vendor: Vendor::Okta,
                    allowed_tenants: None,
                })
            }
            "azure_ad" => {
                let azure = connection.azure_ad.as_ref()?;
                let root = base("https://login.microsoftonline.com".to_owned());
                let tenant = azure.tenant_id.as_str();
                let multi = AZURE_MULTI_TENANT.contains(&tenant);
                Some(Connector {
                    discovery_base: format!("{root}/{tenant}/v2.0"),
                    issuer: if multi {
                        format!("{root}/{TENANT_PLACEHOLDER}/v2.0")
                    } else {
                        format!("{root}/{tenant}/v2.0")
                    },
                    vendor: Vendor::AzureAd,
                    allowed_tenants: multi.then(|| azure.allowed_tenants.clone()),
                })
            }
            "onelogin" => {
                let onelogin = connection.onelogin.as_ref()?;
                let issuer = format!(
                    "{}/oidc/2",
                    base(format!("https://{}.onelogin.com", onelogin.subdomain))
                );
                Some(Connector {
                    discovery_base: issuer.clone(),
                    issuer,
                    vendor: Vendor::OneLogin,
                    allowed_tenants: None,
                })
            }
            "oidc" => {
                let issuer = connection
                    .oidc
                    .as_ref()?
                    .issuer
                    .trim_end_matches('/')
                    .to_owned();
                Some(Connector {
                    discovery_base: issuer.clone(),
                    issuer,
                    vendor: Vendor::Generic,
                    allowed_tenants: None,
                })
            }
            _ => None,
        }
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.discovery_base)
    }

    /// The issuer a token of tenant `tid` must carry: the template filled in, for a templated
    /// issuer, when the tenant is allowed; the issuer itself otherwise.
    pub fn expected_issuer(&self, tid: Option<&str>) -> Result<String, &'static str> {
        match &self.allowed_tenants {
            None => Ok(self.issuer.clone()),
            Some(allowed) => {
                let tid = tid.ok_or("tenant_missing")?;
                if !allowed.iter().any(|t| t.eq_ignore_ascii_case(tid)) {
                    return Err("tenant_not_allowed");
                }
                Ok(self.issuer.replace(TENANT_PLACEHOLDER, tid))
            }
        }
    }

    /// Whether an `iss` (of the authorization response or a token) is one this connection
    /// accepts, before the token says which tenant it is.
    pub fn accepts_issuer(&self, iss: &str) -> bool {
        match &self.allowed_tenants {
            None => iss == self.issuer,
            Some(allowed) => allowed
                .iter()
                .any(|t| iss == self.issuer.replace(TENANT_PLACEHOLDER, t)),
        }
    }
}

/// The `amr` values that mean more than one factor (RFC 8176, and what Okta and Azure AD send).
/// `pwd` alone, `kba` (knowledge) and `wia` (Windows integrated) are single factors.
pub const MFA_AMR: &[&str] = &[
    "mfa", "otp", "hwk", "swk", "sms", "tel", "fpt", "face", "iris", "retina", "vbm", "pop", "sc",
    "rba", "ngcmfa",
];

/// Whether the token proves multi-factor authentication: an `amr` method from [`MFA_AMR`], or
/// an `acr` the connection lists as multi-factor.
pub fn proves_mfa(amr: &[String], acr: Option<&str>, accepted_acr: &[String]) -> bool {
    amr.iter().any(|m| MFA_AMR.contains(&m.as_str()))
        || acr.is_some_and(|acr| accepted_acr.iter().any(|a| a == acr))
}

/// The groups a token asserts: the `groups` claim as an array of strings, or one string
/// (OneLogin sends a single group as a string; some IdPs a comma-separated list).
pub fn groups_claim(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(Value::String(text)) => text
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether the token's email is verified. Azure AD v2 tokens carry no `email_verified`; its
/// `xms_edov` claim (email domain owner verified) is what says the same.
pub fn email_verified(vendor: Vendor, email_verified: Option<bool>, extra: &Value) -> bool {
    if email_verified == Some(true) {
        return true;
    }
    vendor == Vendor::AzureAd && matches!(extra.get("xms_edov"), Some(Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use statuspulse_api::v1::{AzureAdSettings, OktaSettings, OneLoginSettings};

    fn connection(kind: &str) -> SsoConnection {
        serde_json::from_value(serde_json::json!({
            "id": "sso_1", "workspace_id": "ws_1", "name": "n", "kind": kind,
            "client_secret_set": false, "scopes": [], "email_domains": [], "require_mfa": false,
            "acr_values": [], "allowed_groups": [], "group_mappings": {}, "created_at": "",
        }))
        .unwrap()
    }

    #[test]
    fn native_connectors_know_their_vendor_and_take_an_override_of_the_base_only() {
        let mut okta = connection("okta");
        okta.okta = Some(OktaSettings {
            domain: "acme.okta.com".into(),
            authorization_server_id: Some("aus1".into()),
        });
        let c = Connector::of(&okta).unwrap();
        assert_eq!(c.issuer, "https://acme.okta.com/oauth2/aus1");
        assert_eq!(
            c.discovery_url(),
            "https://acme.okta.com/oauth2/aus1/.well-known/openid-configuration"
        );
        okta.endpoint_override = Some("http://127.0.0.1:9/".into());
        assert_eq!(
            Connector::of(&okta).unwrap().issuer,
            "http://127.0.0.1:9/oauth2/aus1"
        );

        let mut onelogin = connection("onelogin");
        onelogin.onelogin = Some(OneLoginSettings {
            subdomain: "acme".into(),
        });
        assert_eq!(
            Connector::of(&onelogin).unwrap().issuer,
            "https://acme.onelogin.com/oidc/2"
        );
    }

    #[test]
    fn azure_multi_tenant_issuers_are_templates_filled_only_with_allowed_tenants() {
        let mut azure = connection("azure_ad");
        azure.azure_ad = Some(AzureAdSettings {
            tenant_id: "common".into(),
            allowed_tenants: vec!["t-1".into()],
        });
        let c = Connector::of(&azure).unwrap();
        assert_eq!(
            c.issuer,
            "https://login.microsoftonline.com/{tenantid}/v2.0"
        );
        assert_eq!(
            c.expected_issuer(Some("t-1")).unwrap(),
            "https://login.microsoftonline.com/t-1/v2.0"
        );
        assert_eq!(c.expected_issuer(Some("t-2")), Err("tenant_not_allowed"));
        assert_eq!(c.expected_issuer(None), Err("tenant_missing"));
        assert!(c.accepts_issuer("https://login.microsoftonline.com/t-1/v2.0"));
        assert!(!c.accepts_issuer("https://login.microsoftonline.com/t-2/v2.0"));
        assert!(!c.accepts_issuer("https://login.microsoftonline.com/{tenantid}/v2.0"));

        azure.azure_ad.as_mut().unwrap().tenant_id = "t-9".into();
        let single = Connector::of(&azure).unwrap();
        assert_eq!(
            single.expected_issuer(Some("other")).unwrap(),
            single.issuer
        );
    }

    #[test]
    fn mfa_is_proved_by_a_multi_factor_amr_or_a_listed_acr_only() {
        let amr = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(proves_mfa(&amr(&["pwd", "mfa"]), None, &[]));
        assert!(proves_mfa(&amr(&["otp"]), None, &[]));
        assert!(!proves_mfa(&amr(&["pwd"]), None, &[]));
        assert!(!proves_mfa(
            &amr(&["pwd", "kba"]),
            Some("urn:x:1fa"),
            &["urn:x:2fa".into()]
        ));
        assert!(proves_mfa(&[], Some("urn:x:2fa"), &["urn:x:2fa".into()]));
    }

    #[test]
    fn groups_and_verified_email_follow_the_vendor() {
        use serde_json::json;
        assert_eq!(groups_claim(Some(&json!(["a", "b", 3]))), vec!["a", "b"]);
        assert_eq!(groups_claim(Some(&json!("a, b"))), vec!["a", "b"]);
        assert!(groups_claim(None).is_empty());
        assert!(email_verified(Vendor::Okta, Some(true), &json!({})));
        assert!(!email_verified(
            Vendor::Okta,
            None,
            &json!({"xms_edov": true})
        ));
        assert!(email_verified(
            Vendor::AzureAd,
            None,
            &json!({"xms_edov": true})
        ));
        assert!(!email_verified(Vendor::AzureAd, Some(false), &json!({})));
    }
}
