//! Table permissions in the SAM template: no function may scan the table. Every request path and job is a get, a
//! batch get or a query of one partition (each domain's key design), so a `Scan` allowed anywhere is either
//! unused — and a needless power over every account's data — or a request path that reads the whole table.

use crate::secrets::functions;

#[test]
fn no_function_may_scan_the_table() {
    for (name, lines) in functions() {
        for line in &lines {
            // SAM's CRUD and read policy templates include Scan; a wildcard does too.
            for refused in [
                "DynamoDBCrudPolicy",
                "DynamoDBReadPolicy",
                "dynamodb:Scan",
                "dynamodb:*",
            ] {
                assert!(
                    !line.contains(refused),
                    "{name} is allowed to scan the table ({line}); list the actions it uses instead"
                );
            }
        }
    }
}
