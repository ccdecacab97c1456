//! The batch's state machine (DESIGN.md) and its verdict, typed: the one place that knows
//! which states exist, which transitions are allowed, and how each is spelled in
//! `airlock.batches`. The writers in the parent module refuse any other transition.
use serde::{Deserialize, Serialize};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Where a batch is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Its file is being read into staging.
    Loading,
    /// Validated: waiting for a decision.
    Validated,
    /// A promotion is running.
    Promoting,
    /// Its good rows are in production.
    Promoted,
    /// Set aside with a note; everything kept.
    Quarantined,
    /// Ended without touching production.
    Aborted,
    /// The load did not finish (or its staging was lost): nothing of it can be promoted.
    LoadFailed,
    /// A promotion did not commit; production unchanged, it can be approved again.
    PromoteFailed,
    /// A swap put back the table it replaced.
    Undone,
}

use State::*;

impl State {
    pub const ALL: [State; 9] = [
        Loading,
        Validated,
        Promoting,
        Promoted,
        Quarantined,
        Aborted,
        LoadFailed,
        PromoteFailed,
        Undone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Loading => "loading",
            Validated => "validated",
            Promoting => "promoting",
            Promoted => "promoted",
            Quarantined => "quarantined",
            Aborted => "aborted",
            LoadFailed => "load_failed",
            PromoteFailed => "promote_failed",
            Undone => "undone",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The allowed transitions, all of them.
    pub fn may_become(self, to: State) -> bool {
        matches!(
            (self, to),
            (Loading, Validated | LoadFailed | Aborted)
                // Validated again: judged anew after rows were held back.
                | (Validated, Validated | Promoting | Quarantined | Aborted | LoadFailed)
                // Back to validated: the promotion was refused, or rows it found bad were
                // set aside and the batch waits for a new approval.
                | (Promoting, Promoted | PromoteFailed | Validated)
                | (PromoteFailed, Promoting | Aborted | LoadFailed)
                // Released from quarantine with a note: judged again, waiting for a decision.
                | (Quarantined, Validated | Aborted | LoadFailed)
                | (LoadFailed, Aborted)
                | (Promoted, Undone)
        )
    }

    /// The states that may become `to`.
    pub fn before(to: State) -> Vec<State> {
        State::ALL
            .into_iter()
            .filter(|from| from.may_become(to))
            .collect()
    }

    /// Nothing of the batch reached production, and it can still be ended.
    pub fn unfinished(self) -> bool {
        self.may_become(Aborted)
    }

    /// A person may approve it: validated, or a promotion that did not commit.
    pub fn approvable(self) -> bool {
        self.may_become(Promoting)
    }

    /// A process is working on it (or was, until `reconcile` says otherwise).
    pub fn at_work(self) -> bool {
        matches!(self, Loading | Promoting)
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for State {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What validation concluded (DESIGN.md: clean, review or abort).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No issue at all.
    Clean,
    /// Issues within the policy: a person should look, the good rows may go.
    Review,
    /// A policy threshold is breached: nothing is promoted without an explicit override.
    Abort,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Clean => "clean",
            Verdict::Review => "review",
            Verdict::Abort => "abort",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        [Verdict::Clean, Verdict::Review, Verdict::Abort]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Both travel as text, as the catalog's CHECK constraints spell them.
macro_rules! as_text {
    ($t:ty) => {
        impl<'a> FromSql<'a> for $t {
            fn from_sql(
                ty: &Type,
                raw: &'a [u8],
            ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                let s = <&str as FromSql>::from_sql(ty, raw)?;
                <$t>::parse(s).ok_or_else(|| format!("unknown {}: {s}", stringify!($t)).into())
            }

            fn accepts(ty: &Type) -> bool {
                <&str as FromSql>::accepts(ty)
            }
        }

        impl ToSql for $t {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut bytes::BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.as_str().to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <&str as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }
    };
}

as_text!(State);
as_text!(Verdict);

#[cfg(test)]
mod tests {
    use super::*;

    /// The transitions as DESIGN.md draws them; every other pair is refused.
    #[test]
    fn only_the_designed_transitions_are_allowed() {
        let allowed = [
            (Loading, Validated),
            (Loading, LoadFailed),
            (Loading, Aborted),
            (Validated, Validated),
            (Validated, Promoting),
            (Validated, Quarantined),
            (Validated, Aborted),
            (Validated, LoadFailed),
            (Promoting, Promoted),
            (Promoting, PromoteFailed),
            (Promoting, Validated),
            (PromoteFailed, Promoting),
            (PromoteFailed, Aborted),
            (PromoteFailed, LoadFailed),
            (Quarantined, Validated),
            (Quarantined, Aborted),
            (Quarantined, LoadFailed),
            (LoadFailed, Aborted),
            (Promoted, Undone),
        ];
        for from in State::ALL {
            for to in State::ALL {
                assert_eq!(
                    from.may_become(to),
                    allowed.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
        assert!(
            State::ALL
                .iter()
                .all(|s| State::parse(s.as_str()) == Some(*s))
        );
        assert_eq!(State::parse("bogus"), None);
        assert!(!Aborted.unfinished() && !Undone.unfinished() && !Promoted.unfinished());
        assert_eq!(State::before(Promoting), vec![Validated, PromoteFailed]);
    }
}
