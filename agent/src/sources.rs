//! The stores one ExternalSecret reads from: `spec.secretStoreRef` and every entry's
//! `sourceRef.storeRef` (ESO's per-entry store), each resolved with the same checks as the main
//! store (controller class, a ClusterSecretStore's namespace conditions) and read under a
//! session of its own, whose credentials follow the same tenant rules (a SecretStore's from its
//! own namespace only; the agent's own token never serves a namespaced store).
//!
//! As in ESO, a store of another controller class anywhere in the spec leaves the whole
//! ExternalSecret to that controller. An error about an entry's store names the entry's
//! `sourceRef.storeRef` field.

use std::collections::BTreeMap;

use ferry_api::{ExternalSecret, SecretStoreRef};
use ferry_vault::Vault;

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::session::{SessionKey, StoreContext};
use crate::shape;
use crate::store_resolve::{self, Resolved};

/// The resolved stores of one ExternalSecret.
#[derive(Debug)]
pub struct Stores {
    /// The store of `spec.secretStoreRef`, when one is named.
    main: Option<StoreContext>,
    /// The store of each `sourceRef.storeRef`, with the first field that names it.
    by_ref: BTreeMap<SecretStoreRef, (String, StoreContext)>,
}

/// What resolving every store of an ExternalSecret gave.
#[derive(Debug)]
pub enum ResolvedStores {
    /// Every store is ours and admits the ExternalSecret.
    Ours(Box<Stores>),
    /// At least one store belongs to another controller class.
    OtherClass,
}

/// Resolves every store the ExternalSecret names. Stores of another class win over errors
/// (the object is then another controller's); otherwise the first error in document order is
/// returned, naming the entry's field for a `sourceRef.storeRef`.
pub async fn resolve(es: &ExternalSecret, ctx: &Ctx) -> Result<ResolvedStores> {
    let namespace = es.metadata.namespace.clone().unwrap_or_default();
    let class = &ctx.config.controller_class;
    let mut stores = Stores {
        main: None,
        by_ref: BTreeMap::new(),
    };
    let mut first_error = None;
    for (field, store_ref) in shape::store_refs(&es.spec) {
        let main = field == "spec.secretStoreRef";
        if !main && stores.by_ref.contains_key(store_ref) {
            continue;
        }
        let resolved =
            store_resolve::resolve_ref(store_ref, &namespace, &ctx.stores, &ctx.client, class);
        match resolved.await {
            Ok(Resolved::OtherClass) => return Ok(ResolvedStores::OtherClass),
            Ok(Resolved::Ours(store)) if main => stores.main = Some(*store),
            Ok(Resolved::Ours(store)) => {
                stores.by_ref.insert(store_ref.clone(), (field, *store));
            }
            Err(err) if first_error.is_none() => first_error = Some(in_field(field, err)),
            Err(_) => {}
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(ResolvedStores::Ours(Box::new(stores))),
    }
}

impl Stores {
    /// The store an entry reads from: its `sourceRef.storeRef`'s, else the main one.
    pub fn get(&self, store_ref: Option<&SecretStoreRef>) -> Result<&StoreContext> {
        let store = match store_ref {
            Some(r) => self.by_ref.get(r).map(|(_, store)| store),
            None => self.main.as_ref(),
        };
        store.ok_or_else(|| AgentError::ValidateSpec {
            field: "spec.secretStoreRef".to_owned(),
            message: "is required for entries without sourceRef.storeRef".to_owned(),
        })
    }

    /// A logged-in session for the store of `store_ref` (as [`Stores::get`]). A failure for
    /// an entry's store names the entry's field.
    pub async fn session(
        &self,
        ctx: &Ctx,
        store_ref: Option<&SecretStoreRef>,
    ) -> Result<(SessionKey, Vault)> {
        let store = self.get(store_ref)?;
        let got = ctx.sessions.get(store).await;
        match store_ref.and_then(|r| self.by_ref.get(r)) {
            Some((field, _)) => got.map_err(|err| in_field(field.clone(), err)),
            None => got,
        }
    }
}

/// `err`, named after the entry's `sourceRef.storeRef` field (the main store's errors name
/// the store already).
fn in_field(field: String, err: AgentError) -> AgentError {
    if field == "spec.secretStoreRef" {
        return err;
    }
    AgentError::ResolveSourceRef {
        field,
        source: Box::new(err),
    }
}
