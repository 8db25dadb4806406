//! Users: a person as one connection's identity provider knows them. Created at their first
//! sign-in and updated at each one, so their email, name and groups are what the IdP said last.

use crate::platform::db::{list_for_storage, WriteTx};
use crate::platform::ids;

/// Who just signed in, as the connection admitted them.
pub struct SignedIn<'a> {
    pub workspace_id: &'a str,
    pub connection_id: &'a str,
    pub subject: &'a str,
    pub email: Option<&'a str>,
    pub name: Option<&'a str>,
    pub idp_groups: &'a [String],
    pub groups: &'a [String],
}

pub struct Upserted {
    pub id: String,
    pub created: bool,
}

/// Creates the user of (connection, subject) or updates it, inside the sign-in's transaction.
pub async fn upsert(
    tx: &mut WriteTx<'_>,
    user: &SignedIn<'_>,
    now: i64,
) -> Result<Upserted, sqlx::Error> {
    let idp_groups = list_for_storage(user.idp_groups);
    let groups = list_for_storage(user.groups);
    let email = user.email.map(|e| truncate(e, 320));
    let name = user.name.map(|n| truncate(n, 200));
    // Insert first (two first sign-ins racing both land here; one inserts), else update.
    let id = ids::new_id(ids::USER);
    let inserted = sqlx::query(
        "INSERT INTO users (id, workspace_id, connection_id, subject, email, name, idp_groups, \
         groups, created_at, updated_at, last_sign_in_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) \
         ON CONFLICT (connection_id, subject) DO NOTHING",
    )
    .bind(&id)
    .bind(user.workspace_id)
    .bind(user.connection_id)
    .bind(user.subject)
    .bind(&email)
    .bind(&name)
    .bind(&idp_groups)
    .bind(&groups)
    .bind(now)
    .execute(&mut *tx.tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Upserted { id, created: true });
    }
    let (id,): (String,) = sqlx::query_as(
        "UPDATE users SET email = $1, name = $2, idp_groups = $3, groups = $4, \
         updated_at = $5, last_sign_in_at = $5 WHERE connection_id = $6 AND subject = $7 \
         RETURNING id",
    )
    .bind(&email)
    .bind(&name)
    .bind(&idp_groups)
    .bind(&groups)
    .bind(now)
    .bind(user.connection_id)
    .bind(user.subject)
    .fetch_one(&mut *tx.tx)
    .await?;
    Ok(Upserted { id, created: false })
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
