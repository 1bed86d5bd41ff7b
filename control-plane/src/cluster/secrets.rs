//! Reading the Secrets engines keep store credentials in, for the API's
//! audited reveal: the only place storeplane reads a Secret's values.

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;

use super::{
    KubeOps,
    error::{Error, ErrorKind},
};
use crate::domain::{self, Store, ports::SecretReader};

impl KubeOps {
    /// The decoded values of Secret `name` in `namespace`; `None` when it
    /// does not exist. A value that is not base64-encoded UTF-8 is an
    /// `Invalid` error naming its key (never its value).
    pub async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, Error> {
        let Some(object) = self.get(Some(namespace), "v1", "Secret", name).await? else {
            return Ok(None);
        };
        let data = object["data"].as_object().cloned().unwrap_or_default();
        data.into_iter()
            .map(|(key, value)| {
                let decoded = value
                    .as_str()
                    .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::Invalid,
                            format!("key {key:?} is not base64-encoded UTF-8"),
                        )
                    })?;
                Ok((key, decoded))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

#[async_trait]
impl SecretReader for KubeOps {
    async fn secret_values(
        &self,
        store: &Store,
        secret: &str,
    ) -> domain::Result<Option<BTreeMap<String, String>>> {
        let namespace = store.namespace();
        self.secret_data(&namespace, secret).await.map_err(|e| {
            let doing = match e.kind() {
                ErrorKind::Invalid => "decoding",
                _ => "reading",
            };
            domain::Error::internal(format!("{doing} Secret {namespace}/{secret}"), e)
        })
    }
}
