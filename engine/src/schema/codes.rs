//! The stable codes of schema diagnostics; `docs/schema.md` lists them all.
//!
//! A code never changes meaning once released; a retired code is not reused.

/// One diagnostic code and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Code {
    /// The code, such as `E003`.
    pub id: &'static str,
    /// A short title of the problem.
    pub title: &'static str,
}

macro_rules! codes {
    ($($name:ident = $id:literal, $title:literal;)*) => {
        $(
            #[doc = $title]
            pub const $name: Code = Code { id: $id, title: $title };
        )*
        /// Every code, in order.
        pub const ALL: &[Code] = &[$($name),*];
    };
}

codes! {
    SYNTAX = "E001", "the file is not well-formed YAML";
    WRONG_SHAPE = "E002", "a value has the wrong shape (mapping, list, text, number, boolean)";
    UNKNOWN_KEY = "E003", "a key that the language does not know";
    MISSING_FIELD = "E004", "a required field is missing";
    DUPLICATE_KEY = "E005", "the same key twice in one mapping";
    BAD_VALUE = "E006", "a value that is not allowed for its field";
    UNKNOWN_TYPE = "E010", "a variable type that does not exist";
    BAD_VARIABLE_NAME = "E011", "a variable name that expressions cannot use";
    BAD_DEFAULT = "E012", "a default that does not fit the variable's type";
    UNKNOWN_KIND = "E020", "a node kind that does not exist";
    DUPLICATE_ID = "E021", "two nodes with the same id";
    MISSING_NEXT = "E022", "a node that must continue has no `next`";
    UNKNOWN_TARGET = "E023", "`next`, a branch or `default` names a node that does not exist";
    UNKNOWN_HANDLER = "E024", "an `on_*` field names a node that does not exist";
    NO_START = "E025", "the schema has no start node";
    SEVERAL_STARTS = "E026", "the schema has more than one start node";
    FIELD_NOT_ALLOWED = "E027", "a field that this node kind does not take";
    TIMEOUT_PAIR = "E028", "`timeout` without `on_timeout`, or the reverse";
    BAD_DURATION = "E029", "a duration that does not parse, is zero or is over 100 years";
    FLOW_INTO_START = "E031", "a flow that leads back into the start node";
    TIMER_WAIT = "E033", "a timer needs exactly one of `wait` and `until`";
    NO_BRANCHES = "E034", "a gateway without branches";
    BAD_ID = "E035", "an id that is not a simple name";
    UNREACHABLE = "E040", "a node that cannot be reached from start";
    NO_WAY_TO_END = "E041", "a node from which no end can be reached";
    CLOSED_CYCLE = "E042", "a cycle with no way out";
    JOIN_NEVER_COMPLETES = "E043", "a join whose incoming branches cannot all arrive";
    GATEWAY_DEAD_END = "E044", "a gateway whose branches can all be false and has no default";
    UNKNOWN_VARIABLE = "E050", "a field names a variable that is not declared";
    VARIABLE_TYPE = "E051", "a field names a variable of the wrong type";
    EXPR_SYNTAX = "E052", "an expression or script that does not compile";
    UNDECLARED_READ = "E053", "an expression reads a variable that is not declared";
    UNDECLARED_WRITE = "E054", "a script assigns a variable that is not declared";
    WRONG_TYPE_WRITE = "E055", "a script assigns a value of the wrong type";
    SHADOWED_VARIABLE = "E056", "a script's `let` hides a context variable";
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let ids: HashSet<&str> = ALL.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), ALL.len());
        for code in ALL {
            assert!(code.id.len() == 4 && code.id.starts_with('E'), "{code:?}");
        }
    }
}
