//! A staged batch as the set-based layers, the plan and the promotion read it: the feed it
//! was checked against, the file bound to the target, and its staging objects' names. The
//! three travel together through every stage after the load, so they are one value.
use crate::feed::Feed;
use crate::layout::StageNames;
use crate::validate::binding::Binding;

#[derive(Clone, Copy)]
pub struct Staged<'a> {
    pub feed: &'a Feed,
    pub binding: &'a Binding,
    pub names: &'a StageNames,
}

impl<'a> Staged<'a> {
    pub fn new(feed: &'a Feed, binding: &'a Binding, names: &'a StageNames) -> Self {
        Self {
            feed,
            binding,
            names,
        }
    }
}
