//! Authentication on the job channel.
//!
//! `SendJob` presents the coordinator's JWT as `authorization: Bearer <jwt>`; the node
//! redeems it once with the coordinator, which tells it the job and the engine wallet.
//! Every later call is signed by that wallet with [`cyxwiz_proto::auth`] (the method name
//! in the signature keeps a coordinator signature from being replayed here and vice
//! versa), so engines keep access to their job while the coordinator is down.
//!
//! Without a coordinator, `SendJob` carries no token: its header holds a `DirectJob` and
//! the request is signed by the escrow's user over that header (method `SendJob`); the
//! node admits it against the escrow on chain (decision 150).

use tonic::metadata::{MetadataMap, MetadataValue};

pub const AUTHORIZATION: &str = "authorization";

/// Adds `authorization: Bearer <token>` to `request`.
pub fn with_bearer<T>(mut request: tonic::Request<T>, token: &str) -> tonic::Request<T> {
    if let Ok(v) = MetadataValue::try_from(format!("Bearer {token}")) {
        request.metadata_mut().insert(AUTHORIZATION, v);
    }
    request
}

/// The bearer token in `metadata`, if any.
pub fn bearer(metadata: &MetadataMap) -> Option<&str> {
    metadata
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_round_trip_and_rejections() {
        let r = with_bearer(tonic::Request::new(()), "a.b.c");
        assert_eq!(bearer(r.metadata()), Some("a.b.c"));
        let mut md = MetadataMap::new();
        assert_eq!(bearer(&md), None);
        md.insert(AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(bearer(&md), None);
        md.insert(AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&md), None);
    }
}
