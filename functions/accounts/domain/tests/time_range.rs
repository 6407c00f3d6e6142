//! The time bounds of the audit lists: every RFC 3339 time the document allows is read, none is a server error.

use lectern_accounts::audit::TimeRange;

#[test]
fn bounds_beyond_the_utc_range_are_read_not_a_panic() {
    // Valid RFC 3339 times whose UTC instant lies past year 9999 or before year 0.
    let range = TimeRange::parse(
        Some("0000-01-01T00:00:00+23:59"),
        Some("9999-12-31T23:59:59-23:59"),
    );
    assert!(range.is_ok());
}

#[test]
fn bounds_are_rfc_3339_times() {
    assert!(
        TimeRange::parse(
            Some("2025-01-02T03:04:05Z"),
            Some("2025-01-02T03:04:05.123+01:00")
        )
        .is_ok()
    );
    assert!(TimeRange::parse(Some("yesterday"), None).is_err());
    assert!(TimeRange::parse(None, Some("2025-01-02")).is_err());
}
