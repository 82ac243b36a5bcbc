//! The RIB: routes by origin, from which the FIB's next hops are derived.
//!
//! For each (prefix, face) the FIB next hop's cost is the lowest cost among that face's routes
//! for the prefix, whatever their origin. Routes are exact-prefix: the FIB's longest-prefix
//! match provides inheritance (NFD's CHILD_INHERIT default); the CAPTURE flag is recorded and
//! reported but does not suppress shorter routes.

use std::collections::BTreeMap;
use std::time::Instant;

use nfwd_tlv::Name;

use super::face::FaceId;

/// One route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Next-hop face.
    pub face: FaceId,
    /// Origin (app 0, static 255, ...).
    pub origin: u64,
    /// Cost.
    pub cost: u64,
    /// Flags (CHILD_INHERIT 1, CAPTURE 2).
    pub flags: u64,
    /// When the route expires, if it does.
    pub expires: Option<Instant>,
    /// The face registered this prefix for itself: an application on this node offering it.
    /// Towards such a face the forwarder pops a function it is asked for
    /// (`docs/protocol.md` §4 rule 5); a route configured towards another forwarder is not.
    pub hosted: bool,
}

/// What the RIB says about one FIB next hop: its cost (the lowest among its routes) and
/// whether any of its routes is `hosted`.
pub type NextHopAttrs = (u64, bool);

/// The routing information base.
#[derive(Debug, Default)]
pub struct Rib {
    routes: BTreeMap<Name, Vec<Route>>,
}

impl Rib {
    /// Adds or replaces the route (prefix, face, origin). Returns the FIB next hop's attributes
    /// afterwards.
    pub fn add(&mut self, prefix: &Name, route: Route) -> NextHopAttrs {
        let routes = self.routes.entry(prefix.clone()).or_default();
        routes.retain(|r| !(r.face == route.face && r.origin == route.origin));
        let face = route.face;
        routes.push(route);
        Self::attrs_of(routes, face).unwrap_or((0, false))
    }

    /// Removes the route (prefix, face, origin). Returns `None` if there was no such route,
    /// else `Some(remaining)`: the face's new FIB cost there, or `None` if its next hop must go.
    pub fn remove(
        &mut self,
        prefix: &Name,
        face: FaceId,
        origin: u64,
    ) -> Option<Option<NextHopAttrs>> {
        let routes = self.routes.get_mut(prefix)?;
        let before = routes.len();
        routes.retain(|r| !(r.face == face && r.origin == origin));
        if routes.len() == before {
            return None;
        }
        let cost = Self::attrs_of(routes, face);
        if routes.is_empty() {
            self.routes.remove(prefix);
        }
        Some(cost)
    }

    fn attrs_of(routes: &[Route], face: FaceId) -> Option<NextHopAttrs> {
        let cost = routes
            .iter()
            .filter(|r| r.face == face)
            .map(|r| r.cost)
            .min()?;
        Some((cost, routes.iter().any(|r| r.face == face && r.hosted)))
    }

    /// Removes every route through `face`; returns the prefixes that had one.
    pub fn remove_face(&mut self, face: FaceId) -> Vec<Name> {
        let mut touched = Vec::new();
        self.routes.retain(|prefix, routes| {
            let before = routes.len();
            routes.retain(|r| r.face != face);
            if routes.len() != before {
                touched.push(prefix.clone());
            }
            !routes.is_empty()
        });
        touched
    }

    /// Removes routes expired at `now`; returns (prefix, face, remaining cost or None).
    pub fn expire(&mut self, now: Instant) -> Vec<(Name, FaceId, Option<NextHopAttrs>)> {
        let mut out = Vec::new();
        for (prefix, routes) in &mut self.routes {
            let expired: Vec<FaceId> = routes
                .iter()
                .filter(|r| r.expires.is_some_and(|t| t <= now))
                .map(|r| r.face)
                .collect();
            routes.retain(|r| r.expires.is_none_or(|t| t > now));
            for face in expired {
                out.push((prefix.clone(), face, Self::attrs_of(routes, face)));
            }
        }
        self.routes.retain(|_, r| !r.is_empty());
        out
    }

    /// Earliest route expiry.
    #[must_use]
    pub fn next_expiry(&self) -> Option<Instant> {
        self.routes
            .values()
            .flatten()
            .filter_map(|r| r.expires)
            .min()
    }

    /// The routes of exactly `prefix`.
    #[must_use]
    pub fn get(&self, prefix: &Name) -> Option<&[Route]> {
        self.routes.get(prefix).map(Vec::as_slice)
    }

    /// All routes, by prefix.
    pub fn iter(&self) -> impl Iterator<Item = (&Name, &Vec<Route>)> {
        self.routes.iter()
    }

    /// Number of prefixes with routes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.routes.len()
    }

    /// True if there are no routes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}
