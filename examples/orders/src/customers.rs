//! Customers: who can place orders.

use serde::Deserialize;

use crate::repo::{self, Customer, Db};

/// What `POST /customers` takes.
#[derive(Clone, Debug, Deserialize)]
pub struct NewCustomer {
    /// Full name.
    pub name: String,
    /// Email address; one customer per address.
    pub email: String,
}

/// Why a customer could not be registered.
#[derive(Debug)]
#[non_exhaustive]
pub enum CustomerError {
    /// The name is empty or the email has no `@`.
    Invalid(&'static str),
    /// Another customer has this email.
    EmailTaken,
    /// The database failed.
    Database(sqlx::Error),
}

impl std::fmt::Display for CustomerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CustomerError::Invalid(why) => f.write_str(why),
            CustomerError::EmailTaken => f.write_str("a customer with this email exists"),
            CustomerError::Database(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for CustomerError {}

/// Registers a customer.
#[tracing::instrument(skip(db, new), err)]
pub async fn register(db: &Db, new: NewCustomer) -> Result<Customer, CustomerError> {
    let name = new.name.trim();
    let email = new.email.trim().to_lowercase();
    if name.is_empty() {
        return Err(CustomerError::Invalid("the name is empty"));
    }
    if !email.contains('@') {
        return Err(CustomerError::Invalid("the email has no `@`"));
    }
    match repo::insert_customer(db, name, &email).await {
        Ok(id) => Ok(Customer {
            id,
            name: name.to_owned(),
            email,
        }),
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            Err(CustomerError::EmailTaken)
        }
        Err(e) => Err(CustomerError::Database(e)),
    }
}
