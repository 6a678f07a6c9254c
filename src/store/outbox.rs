use sqlx::PgConnection;
use uuid::Uuid;

pub struct NewNotification<'a> {
    pub id: Uuid,
    pub merchant_id: Uuid,
    pub event_type: &'a str,
    pub order_id: Option<Uuid>,
    pub sequence: i64,
    pub payload: &'a serde_json::Value,
}

pub async fn insert(conn: &mut PgConnection, new: &NewNotification<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO webhook_outbox (id, merchant_id, event_type, order_id, sequence, payload)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new.id)
    .bind(new.merchant_id)
    .bind(new.event_type)
    .bind(new.order_id)
    .bind(new.sequence)
    .bind(sqlx::types::Json(new.payload))
    .execute(conn)
    .await?;
    Ok(())
}
