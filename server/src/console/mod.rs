//! The web console at `/console/` (SPEC "Web console", issue 14): the dashboard of the product
//! page, served by the server itself, for people who do not write HCL.
//!
//! Decisions, and why:
//! - **Pages are shells; the API does the work.** A page is server-rendered HTML (its forms,
//!   labels and tables); the data in it and every action go through the existing `/v1` handlers,
//!   called by the page's script with the session cookie and `X-CSRF-Token`. Authorization is
//!   therefore the API's and only the API's: there is no route that only the console has, and
//!   this module cannot grow one by accident, as `tests/layers.rs` forbids it `management`,
//!   `authz` and `audit` (it reads who is signed in through `http::auth`, nothing else).
//! - **Templates: maud.** Templates are Rust macros, checked at compile time and escaped unless
//!   marked `PreEscaped` (nothing here is). Measured on this machine (2 cores, `-j2`), on top of
//!   what the workspace already builds (syn, quote, proc-macro2, itoa): maud adds 3 crates and
//!   0.9 s of build; askama 0.16 adds 5 crates (its parser on winnow) and 7.4 s. Cold, alone:
//!   8.2 s and 19.4 s. No Node build, no CDN.
//! - **One script, one stylesheet** (`console.js`, `console.css`), compiled in with
//!   `include_str!` and served under a name carrying their SHA-256 (`/console/assets/
//!   console-<hash>.js`) with an `ETag` and a year of immutable caching: a new build is a new
//!   URL. No inline script or style anywhere, so the policy is
//!   `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src
//!   'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`. Data from the API is
//!   put into the page with `textContent`, never as markup.
//! - **Sign-in.** People sign in through their workspace's SSO connection (`/v1/sso/login?email=`,
//!   the SSO issue's flow, back to `return_to` under `/console/`). Before any SSO exists, the
//!   bootstrap operator signs in with the admin key: the page sends it once, as a Bearer
//!   credential, to `POST /v1/sessions`, which opens a server-side key session (the cookie of
//!   the SSO sessions, `__Host-` over HTTPS, HttpOnly, SameSite=Lax) and forgets the key; the
//!   page clears the field. The session acts as the key and ends when the key is revoked.
//! - **Tabs sign out together.** Every page checks its session when it gains focus and every
//!   10 s (`GET /v1/sessions?active=true&limit=1`, which any session may call); a refusal
//!   signs the page out and tells the other tabs at once over a `BroadcastChannel`. So a session
//!   revoked elsewhere is signed out in every open tab within about 10 s, and the server refuses
//!   each of its requests from the moment of revocation.
//! - **Pages** (`pages::SETTINGS`, one navigation): Settings > Integrations > API Keys; Settings >
//!   Access > Service accounts, Role bindings, Environment clusters (one script controller for
//!   list, create, edit and delete, configured per page), with a key's or a service account's
//!   effective access in a dialog; Settings > Security > Configure SSO (the same controller:
//!   one form per kind of connection, only the chosen kind's block shown and sent, the client
//!   secret write-only), Sessions, View Audit Logs and Enable Audit Logging (retention, sinks,
//!   anomaly rules). What these needed of the API
//!   was added to the API, for every client: key sessions are listed by `GET /v1/sessions` and
//!   ended together by `POST /v1/sessions/revoke-all {"api_key_id"}` ("sign out everywhere" in
//!   a key session), and audit events are filtered by `actor_id`.
//! - **Downloads are links.** Export JSONL is `<a download href="/v1/audit-events/export">`: the
//!   browser streams the chain to disk with the session cookie (a GET, so no CSRF token), which
//!   a `fetch` into a `Blob` would hold whole in memory; navigations are outside
//!   `default-src`, so the policy needs no `blob:` exception either. A SAML connection's SP
//!   metadata and our OIDC discovery document are public, so their links need no cookie at all.
//! - **Secrets shown once** (a new key, a webhook sink's generated signing secret) share one
//!   panel, emptied after five minutes, on leaving, or on "Done".
//! - **Refusals are the server's, shown where they apply.** A problem's `field` names the
//!   control (`data-error-for`), which is marked `aria-invalid` and focused; Generate New Key
//!   asks `POST /v1/api-keys/check` first, so a refused key is never minted. The page repeats
//!   none of the rules: least privilege has one implementation.

pub(crate) mod assets;
mod pages;

use axum::routing::get;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

/// The console's pages and assets: not API routes, so not in the OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/console", get(pages::to_console))
        .route("/console/", get(pages::home))
        .route("/console/sign-in", get(pages::sign_in))
        .route(pages::API_KEYS_PATH, get(pages::api_keys))
        .route(pages::SERVICE_ACCOUNTS_PATH, get(pages::service_accounts))
        .route(pages::ROLE_BINDINGS_PATH, get(pages::role_bindings))
        .route(pages::CLUSTERS_PATH, get(pages::environment_clusters))
        .route(pages::SSO_PATH, get(pages::sso))
        .route(pages::SESSIONS_PATH, get(pages::sessions))
        .route(pages::AUDIT_LOGS_PATH, get(pages::audit_logs))
        .route(pages::AUDIT_LOGGING_PATH, get(pages::audit_logging))
        .route("/console/assets/{name}", get(assets::asset))
}
