"""Schemathesis hooks of `scripts/schemathesis`: a bearer token for every secured operation.

Each operation of `/v1/users` and `/v1/auth` gets an account of its own (a collection and its items share one, so a
resource one operation makes is another's to read or delete), registered and verified on first use, so
what one operation does to its account (wrong passwords counting toward lockout, logout, deletion, a changed
email) cannot starve another; the operations of the family (profiles, controls, progress...) share one parent
account, so that what the stateful phase creates is the caller's own when the next operation uses it. `/v1/admin` operations share the admin account the runner promoted. Schemathesis
drops every cached token and calls `get` again when a request answers 401 (the operation ended its own session:
logout, logout-all, deletion, a password change); signing in again also restores a soft-deleted account. An
account that can no longer sign in (locked by wrong passwords, suspended by an admin operation) is replaced.

Acting as the admin, the fuzzer may also suspend or demote the admin itself, or the second admin the runner made
for this: only the last active admin is guarded. `after_call` puts such an admin back at once, through the other
one, so admin operations keep running as an admin.

It also replaces schemathesis' `positive_data_acceptance` check (the runner excludes the built-in one) with the
same check minus one kind of answer: a 400 naming a field for a reason no schema can state. A schema can say what
a token, cursor, upload key, password or scope looks like, but not whether the server issued that token, whether
this is the account's password, whether the owner holds the scope, or whether a new password is on the list of
common ones. Each such refusal is listed below by operation, field and the server's message, so any other 400 to a
schema-valid request (a constraint the document fails to state) still fails the run.

Also imported by the runner for the same account helpers (it needs no schemathesis for that).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

PASSWORD = "correct horse battery staple 42"

# (method, path) -> {(field, part of the server's message)}: the 400 answers to schema-valid requests that depend
# on server state, not on the request's shape.
NOT_A_SHAPE = {
    # Tokens and challenges the server never issued (or already spent).
    ("POST", "/v1/auth/verify-email"): {("token", "invalid, used or expired")},
    ("POST", "/v1/auth/reset-password"): {("token", "invalid, used or expired")},
    ("POST", "/v1/auth/refresh"): {("token", "invalid, used or expired")},
    ("POST", "/v1/auth/2fa/verify"): {("token", "invalid, used or expired")},
    # A new password on the common-passwords list, or built from the account's email.
    ("POST", "/v1/auth/register"): {("password", "too common"), ("password", "email address")},
    # Not the account's password; or an address that is the account's already or taken by another.
    ("POST", "/v1/users/me/password"): {
        ("current_password", "is not correct"),
        ("new_password", "too common"),
        ("new_password", "email address"),
    },
    ("POST", "/v1/users/me/email"): {
        ("password", "is not correct"),
        ("email", "already the account's address"),
        ("email", "cannot be used"),
    },
    ("POST", "/v1/auth/2fa/disable"): {("password", "is not correct")},
    # An upload the caller never made.
    ("POST", "/v1/users/me/avatar/confirm"): {("key", "not an avatar upload of yours"), ("key", "nothing was uploaded")},
    # A permission the owner does not hold.
    ("POST", "/v1/users/me/api-keys"): {("scopes", "you do not hold")},
    # Cursors the server did not sign for this list; filters that do not combine (a rule across parameters,
    # which OpenAPI cannot state).
    ("GET", "/v1/users/me/security-events"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/admin/users"): {
        ("query.cursor", "invalid or tampered cursor"),
        ("email", "search by email alone"),
        ("status", "together with a role"),
    },
    ("GET", "/v1/admin/audit-logs"): {
        ("query.cursor", "invalid or tampered cursor"),
        ("query.action", "not with user_id"),
    },
    # The operations routes: what a schema cannot state (a CIDR block, an expiry in the future, role and tier names
    # the accounts define, variant names, repeated variants), and the bulk request's rules across fields.
    ("POST", "/v1/admin/ip-rules"): {
        ("cidr", "a CIDR block"),
        ("reason", "characters"),
        ("expires_at", "in the future"),
        ("expires_at", "an RFC 3339 time"),
    },
    ("PUT", "/v1/admin/flags/{key}"): {
        ("rollout_percent", "0 to 100"),
        ("targeting.roles[*]", "a role name"),
        ("targeting.tiers[*]", "a tier name"),
        ("targeting.age_bands[*]", "an age band"),
        ("targeting.locales[*]", "language tag"),
        ("variants[*]", "matching"),
        ("variants[*]", "named twice"),
    },
    ("PUT", "/v1/admin/settings"): {
        ("support_email", "an email address"),
        ("min_client_version.ios", "dot-separated numbers"),
        ("min_client_version.android", "dot-separated numbers"),
        ("min_client_version.web", "dot-separated numbers"),
        ("default_locale", "language tag"),
    },
    ("POST", "/v1/admin/users/bulk"): {
        ("user_ids", "either user_ids or filter"),
        ("tier", "needed to set the tier"),
        ("tier", "only with set_tier"),
        ("cursor", "only with a filter"),
        ("query.cursor", "invalid or tampered cursor"),
        ("cursor", "invalid or tampered cursor"),
    },
    # The exams domain: a parent, topic or question that does not exist (or is of another kind), rules across
    # fields (a level only on courses, a parent for every kind but institutions, right answers among the options),
    # and cursors of other lists.
    ("POST", "/v1/hierarchy/nodes"): {
        ("parent_id", "no such node"),
        ("parent_id", "needs a parent"),
        ("parent_id", "have no parent"),
        ("parent_id", "goes under"),
        ("level", "needs a level"),
        ("level", "only courses have a level"),
    },
    ("PATCH", "/v1/hierarchy/nodes/{node_id}"): {("level", "only courses have a level")},
    ("GET", "/v1/hierarchy/institutions"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/hierarchy/nodes/{node_id}/children"): {("query.cursor", "invalid or tampered cursor")},
    ("POST", "/v1/questions"): {
        ("topic_id", "no such topic"),
        ("topic_id", "not a topic"),
        ("answer.correct", "past the last option"),
        ("answer.correct", "one right option"),
    },
    ("PUT", "/v1/questions/{question_id}"): {
        ("question.topic_id", "no such topic"),
        ("question.topic_id", "not a topic"),
        ("question.answer.correct", "past the last option"),
        ("question.answer.correct", "one right option"),
    },
    ("GET", "/v1/questions"): {("query.cursor", "invalid or tampered cursor")},
    # Exactly one of two parameters, and a mix naming a difficulty twice or weighing all at 0.
    ("GET", "/v1/questions/random"): {
        ("query.course", "exactly one of course and topic"),
        ("query.mix", "each difficulty at most once"),
        ("query.mix", "at least one weight above 0"),
    },
    ("GET", "/v1/questions/{question_id}/history"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/questions/{question_id}/comments"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/admin/questions/pending"): {("query.cursor", "invalid or tampered cursor")},
    # Exams: rules across fields (exactly one source; a count for drawn exams, none or the list's length for a
    # list; a time limit exactly for timed exams; a mix only for drawn ones), a mix naming a difficulty twice or
    # weighing all at 0, and listed questions or topics that are not approved questions, or listed twice.
    ("POST", "/v1/exams/start"): {
        ("source", "exactly one of course, topics and questions"),
        ("count", "how many questions to draw"),
        ("count", "absent or its length"),
        ("mix", "only for drawn exams"),
        ("mix", "each difficulty at most once"),
        ("mix", "at least one weight above 0"),
        ("time_limit_seconds", "a timed exam needs one"),
        ("time_limit_seconds", "practice has no time limit"),
        ("source.questions[*]", "no such approved question"),
        ("source.questions[*]", "listed twice"),
        ("source.topics[*]", "listed twice"),
        # Assignments and certificates: an assignment id only with mode assignment (which needs one and takes
        # every other setting from the assignment); certifying only for a timed exam drawn from a course.
        ("assignment_id", "only with mode assignment"),
        ("assignment_id", "the assignment to attempt"),
        ("source", "an assignment's attempt takes"),
        ("count", "an assignment's attempt takes"),
        ("mix", "an assignment's attempt takes"),
        ("time_limit_seconds", "an assignment's attempt takes"),
        ("pass_mark", "an assignment's attempt takes"),
        ("shuffle_questions", "an assignment's attempt takes"),
        ("shuffle_options", "an assignment's attempt takes"),
        ("navigation", "an assignment's attempt takes"),
        ("certifying", "an assignment's attempt takes"),
        ("certifying", "only a timed exam certifies"),
        ("certifying", "only an exam drawn from a course certifies"),
    },
    # An assignment: the source rules of a start (exactly one source, a count for drawn ones and a list's length
    # otherwise, nothing listed twice, a mix only for drawn ones), a due date after now (the server's clock).
    ("POST", "/v1/assignments"): {
        ("source", "exactly one of course, topics and questions"),
        ("count", "how many questions to draw"),
        ("count", "absent or its length"),
        ("mix", "only for drawn exams"),
        ("mix", "each difficulty at most once"),
        ("mix", "at least one weight above 0"),
        ("source.questions[*]", "listed twice"),
        ("source.topics[*]", "listed twice"),
        ("due_at", "must be in the future"),
    },
    # At least one of two optional fields.
    ("PATCH", "/v1/certificates/{certificate_id}"): {("share_name", "give share_name, share_score or both")},
    # Onboarding steps: ids unique across the list (a rule across items).
    ("PUT", "/v1/admin/onboarding"): {("steps[*].id", "used by an earlier step")},
    ("GET", "/v1/exams/history"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/users/me/abilities"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/questions/most-missed"): {
        ("query.course", "exactly one of course and topic"),
        ("query.cursor", "invalid or tampered cursor"),
    },
    # Learner profiles: rules of the calendar (a birth year after this one, a child older than 17), of the time
    # zone database (a well-formed name it does not know), of the JSON's encoded size and depth, and of consent
    # across two fields (a child needs it, an own profile takes none).
    # An account's zone, by the same rule as a profile's (`lectern_shared::locale`).
    ("PATCH", "/v1/users/me"): {("timezone", "not a known IANA time zone")},
    ("POST", "/v1/profiles"): {
        ("birth_year", "is in the future"),
        ("birth_year", "a child profile is for ages"),
        ("timezone", "not a known IANA time zone"),
        ("preferences", "at most"),
        ("parental_consent", "must be true"),
        ("parental_consent", "only for a child profile"),
    },
    ("PATCH", "/v1/profiles/{profile_id}"): {
        ("birth_year", "is in the future"),
        ("birth_year", "a child profile is for ages"),
        ("timezone", "not a known IANA time zone"),
        ("preferences", "at most"),
    },
    ("POST", "/v1/profiles/{profile_id}/avatar/confirm"): {
        ("key", "not an avatar upload of this profile"),
        ("key", "nothing was uploaded"),
    },
    # Authors' games: an age range upside down, two variants with one key or overrides over their size (rules
    # across fields and of encoded size).
    ("POST", "/v1/games"): {("max_age", "at least min_age"), ("variants", "distinct slug keys")},
    ("PUT", "/v1/games/{game_id}"): {("max_age", "at least min_age"), ("variants", "distinct slug keys")},
    ("GET", "/v1/games"): {("query.cursor", "invalid or tampered cursor"), ("query.q", "search within a skill")},
    # Curriculum modules: games and prerequisite modules that do not exist (stored state).
    ("POST", "/v1/curriculum"): {("games", "no such game"), ("prerequisites", "no such module")},
    ("PUT", "/v1/curriculum/{module_id}"): {("games", "no such game"), ("prerequisites", "no such module")},
    # Results: the device's clock against the server's (a result from the future or over a year old), a game that
    # is not published, a variant the game does not have.
    ("POST", "/v1/profiles/{profile_id}/progress"): {
        ("played_at", "is in the future"),
        ("played_at", "more than a year ago"),
        ("game_id", "no such published game"),
        ("variant", "not a variant of this game"),
    },
    ("GET", "/v1/profiles/{profile_id}/progress"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/profiles/{profile_id}/achievements"): {("query.cursor", "invalid or tampered cursor")},
    # Starting play: a game that is not published (stored state). Controls: allowed hours that start when they end
    # (a rule across two fields).
    ("POST", "/v1/profiles/{profile_id}/play"): {("game_id", "no such published game")},
    ("PUT", "/v1/profiles/{profile_id}/controls"): {("allowed_hours", "start and end differ")},
    # Not the parent's PIN, or none set.
    ("POST", "/v1/family/pin/switch"): {("pin", "is not correct"), ("pin", "no parent PIN is set")},
    # Notifications: a cursor of another list; quiet hours that start when they end (a rule across two fields),
    # in a well-formed zone the time zone database does not know.
    ("GET", "/v1/notifications"): {("query.cursor", "invalid or tampered cursor")},
    ("PUT", "/v1/users/me/notification-preferences"): {
        ("quiet_hours.end", "start and end to differ"),
        ("quiet_hours.timezone", "not a known IANA time zone"),
        ("reminder.timezone", "not a known IANA time zone"),
    },
    # Webhooks: an https URL whose host does not resolve or resolves to an address webhooks never reach (the SSRF
    # guard: loopback, private, link-local, metadata...), which depends on DNS, not on the URL's shape; cursors
    # of another list.
    ("POST", "/v1/webhooks"): {("url", "could not be resolved"), ("url", "which webhooks never reach")},
    ("PATCH", "/v1/webhooks/{endpoint_id}"): {
        ("url", "could not be resolved"),
        ("url", "which webhooks never reach"),
    },
    ("GET", "/v1/webhooks"): {("query.cursor", "invalid or tampered cursor")},
    ("GET", "/v1/webhooks/{endpoint_id}/deliveries"): {("query.cursor", "invalid or tampered cursor")},
}


# Operations that act as the admin: the admin routes, and the exams domain's authoring routes (the admin holds
# every permission, so they run past the permission check instead of answering 403 to a learner every time).
# Webhooks need `webhooks:manage`, which admins hold.
ADMIN_PATHS = ("/v1/admin/", "/v1/hierarchy/", "/v1/questions", "/v1/webhooks")
# Single operations that act as the admin for the same reason: grading needs `exams:grade`.
ADMIN_OPERATIONS = {"/v1/exams/{exam_id}/grade"}

# Operations served to a parent (the learning routes), and the one served to a child's device session.
PARENT_PREFIXES = ("/v1/profiles", "/v1/family")
DEVICE_OPERATIONS = {"/v1/family/pin/switch"}


# Conditional writes (`If-Match`) that answer 412 when the version named is no longer the current one.
STALE_VERSION_WRITES = {("PUT", "/v1/admin/settings")}


def refused_for_state_not_shape(method: str, path: str, status: int, body) -> bool:
    """Whether a 400 names only fields refused for one of the reasons in [`NOT_A_SHAPE`]."""
    allowed = NOT_A_SHAPE.get((method.upper(), path))
    # A write against a version another write replaced meanwhile: the server's state, not the request's shape.
    if status == 412 and (method.upper(), path) in STALE_VERSION_WRITES:
        return True
    if status != 400 or not allowed or not isinstance(body, dict):
        return False
    errors = body.get("errors")
    if not isinstance(errors, list) or not errors:
        return False
    return all(
        isinstance(e, dict)
        and any(same_field(e.get("field"), field) and part in str(e.get("message", "")) for field, part in allowed)
        for e in errors
    )


def same_field(given, listed: str) -> bool:
    """`listed` names `given`; `[*]` in it stands for any position (`source.questions[*]`)."""
    if not isinstance(given, str):
        return False
    if "[*]" not in listed:
        return given == listed
    return re.fullmatch(re.escape(listed).replace(re.escape("[*]"), r"\[[0-9]+\]"), given) is not None


def call(base: str, method: str, path: str, body: dict | None = None, token: str | None = None):
    """One JSON request; returns (status, parsed body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def mailed_token(outbox: Path, to: str, page: str, timeout: float = 30.0) -> str:
    """The token of the newest `<page>?token=` link mailed to `to` (the notifications worker sends it soon after)."""
    deadline = time.monotonic() + timeout
    pattern = re.compile(rf"/{re.escape(page)}\?token=([A-Za-z0-9_-]+)")
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml"), reverse=True):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] != to:
                continue
            part = message.get_body(preferencelist=("plain",))
            found = part and pattern.search(part.get_content())
            if found:
                return found.group(1)
        time.sleep(0.05)
    raise RuntimeError(f"no {page} link was mailed to {to} within {timeout:.0f} s")


def sign_up(base: str, outbox: Path, address: str, role: str = "learner") -> None:
    """Registers `address` with [`PASSWORD`] and `role` and verifies it through the mailed link."""
    registration = {"email": address, "password": PASSWORD, "display_name": "Schemathesis", "role": role}
    status, body = call(base, "POST", "/v1/auth/register", registration)
    if status != 202:
        raise RuntimeError(f"registering {address}: {status} {body}")
    token = mailed_token(outbox, address, "verify-email")
    status, body = call(base, "POST", "/v1/auth/verify-email", {"token": token})
    if status != 204:
        raise RuntimeError(f"verifying {address}: {status} {body}")


def device_token(base: str, parent_token: str) -> str:
    """An access token of a device session acting as a new child of the parent signed in with `parent_token`."""
    child = {"display_name": "St child", "birth_year": time.gmtime().tm_year - 5, "parental_consent": True}
    status, body = call(base, "POST", "/v1/profiles", child, token=parent_token)
    if status != 201:
        raise RuntimeError(f"creating a child profile: {status} {body}")
    status, body = call(base, "POST", f"/v1/profiles/{body['profile_id']}/device-sessions", token=parent_token)
    if status != 201:
        raise RuntimeError(f"minting a device session: {status} {body}")
    return body["access_token"]


def sign_in(base: str, address: str) -> str | None:
    """An access token for `address`, or None when it cannot sign in (locked, suspended, gone)."""
    status, body = call(base, "POST", "/v1/auth/login", {"email": address, "password": PASSWORD})
    if status == 200 and isinstance(body, dict) and "access_token" in body:
        return body["access_token"]
    return None


# The runner imports this file for the helpers above; only schemathesis, run by the runner, sets these variables.
if "LECTERN_ST_BASE_URL" in os.environ:
    import schemathesis
    from schemathesis.core.failures import Failure
    from schemathesis.specs.openapi.checks import positive_data_acceptance as builtin_positive_data_acceptance

    @schemathesis.check
    def positive_data_acceptance_of_shape(ctx, response, case):
        """`positive_data_acceptance`, except for the refusals of [`NOT_A_SHAPE`]."""
        try:
            return builtin_positive_data_acceptance(ctx, response, case)
        except Failure:
            try:
                body = response.json()
            except ValueError:
                body = None
            if refused_for_state_not_shape(case.method, case.operation.path, response.status_code, body):
                return None
            raise

    def _collections(case) -> set[str]:
        """Paths that have items (`/v1/users/me/api-keys` for `/v1/users/me/api-keys/{key_id}`)."""
        paths = case.operation.schema.raw_schema.get("paths", {})
        return {re.sub(r"/\{[^}]+\}$", "", p) for p in paths if p.endswith("}")}

    def _account_key(case, _ctx) -> str:
        path = case.operation.path
        # Authoring the catalog, the curriculum and achievements, and awarding one, need permissions only the
        # admin holds among the harness' accounts.
        authoring = (
            path.startswith(("/v1/games", "/v1/curriculum", "/v1/achievements")) and case.method.upper() != "GET"
        ) or path == "/v1/profiles/{profile_id}/achievements/{achievement_id}"
        # The admin routes, and the exams domain's authoring and grading operations (see ADMIN_PATHS).
        if path.startswith(ADMIN_PATHS) or path in ADMIN_OPERATIONS or authoring:
            return "admin"
        # The family's operations (profiles and everything under them) share one parent account, so that a profile
        # the stateful phase creates is the caller's own when the next operation uses it. The device's PIN switch
        # keeps an account of its own: each device token it mints is a new child of that account.
        if path.startswith(PARENT_PREFIXES) and path not in DEVICE_OPERATIONS:
            return "family"
        # A collection and its items share an account: what one operation makes (an API key, a session), the
        # stateful phase hands to another (to read or delete), and another account would rightly answer 404.
        collection = re.sub(r"/\{[^}]+\}$", "", path)
        if collection != path or collection in _collections(case):
            return f"collection {collection}"
        return case.operation.label

    @schemathesis.auth(cache_by_key=_account_key)
    class Accounts:
        """Bearer tokens: the admin's for admin routes, else the operation's own account's."""

        def __init__(self) -> None:
            self.base = os.environ["LECTERN_ST_BASE_URL"]
            self.outbox = Path(os.environ["LECTERN_ST_OUTBOX"])
            self.admin = os.environ["LECTERN_ST_ADMIN_EMAIL"]
            self.addresses: dict[str, str] = {}
            self.serial = 0
            self.lock = threading.Lock()

        def _fresh_address(self, key: str) -> str:
            with self.lock:
                self.serial += 1
                slug = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")[:40]
                return f"st-{self.serial}-{slug}@example.com"

        def get(self, case, ctx) -> str | None:
            if not case.operation.definition.raw.get("security"):
                return None  # a public operation: no account to spend on it
            key = _account_key(case, ctx)
            if key == "admin":
                token = sign_in(self.base, self.admin)
                if token is None:
                    raise RuntimeError("the admin account cannot sign in")
                return token
            address = self.addresses.get(key)
            token = sign_in(self.base, address) if address else None
            if token is None:
                address = self._fresh_address(key)
                parent = case.operation.path.startswith(PARENT_PREFIXES)
                sign_up(self.base, self.outbox, address, "parent" if parent else "learner")
                token = sign_in(self.base, address)
                if token is None:
                    raise RuntimeError(f"{address} cannot sign in right after signing up")
                self.addresses[key] = address
            if case.operation.path in DEVICE_OPERATIONS:
                return device_token(self.base, token)
            return token

        def set(self, case, data: str, ctx) -> None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"

    ADMIN_CHANGES = {"/v1/admin/users/{user_id}/suspend", "/v1/admin/users/{user_id}/role"}

    @schemathesis.hook
    def after_call(ctx, case, response) -> None:
        """Puts back an admin of the harness that the call just suspended or demoted, through the other one."""
        if case.operation.path not in ADMIN_CHANGES or response.status_code != 200:
            return
        admins: dict[str, str] = json.loads(os.environ["LECTERN_ST_ADMINS"])
        try:
            changed = response.json()
        except ValueError:
            return
        user_id = changed.get("user_id") if isinstance(changed, dict) else None
        if user_id not in admins or (changed.get("status") == "active" and changed.get("role") == "admin"):
            return
        base = os.environ["LECTERN_ST_BASE_URL"]
        other = next(address for id_, address in admins.items() if id_ != user_id)
        token = sign_in(base, other)
        if token is None:
            raise RuntimeError(f"{other} cannot sign in to put {admins[user_id]} back")
        if changed.get("status") == "suspended":
            call(base, "POST", f"/v1/admin/users/{user_id}/activate", token=token)
        status, body = call(base, "PATCH", f"/v1/admin/users/{user_id}/role", {"role": "admin"}, token=token)
        if status != 200:
            raise RuntimeError(f"could not put {admins[user_id]} back: {status} {body}")
        print(f"schemathesis_hooks: {admins[user_id]} was made {changed.get('status')} {changed.get('role')}; put back",
              file=sys.stderr, flush=True)
