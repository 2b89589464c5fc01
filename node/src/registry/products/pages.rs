//! Console pages of product registrations (built in the next step).
