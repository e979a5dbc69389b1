"""`carelog users add|list|disable|password|token`: user administration from a shell.

Changes are recorded with the actor `system:cli-<login name>`: whoever has the shell and the
database settings administers users. A token's secret is printed once, on stdout, and never
stored; passwords are read with a hidden prompt (or from stdin), never from arguments.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import click
from rich.console import Console
from rich.table import Table

from api.authentication import Authenticator, Passwords
from api.token_use import TokenUse
from domain.errors import DomainError
from domain.user import User, UserRole
from domain.users import UserDesk
from integrations.clock import SystemClock
from integrations.persistence import open_desk, open_views
from integrations.settings import Settings, SettingsError

console = Console(stderr=True)


def _actor() -> str:
    try:
        who = getpass.getuser()
    except (KeyError, OSError):
        who = "unknown"
    return f"system:cli-{who}"


@contextmanager
def _users() -> Iterator[Authenticator]:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None
    desk = open_desk(settings, SystemClock())
    views = open_views(settings)
    try:
        yield Authenticator(UserDesk(desk), settings, uses=TokenUse(views, desk.clock.now))
    except DomainError as error:
        raise click.ClickException(error.message) from None
    finally:
        views.close()
        desk.close()


def _read_password(stdin: bool) -> str:
    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True,
                                err=True)
    if len(password) < 12:
        raise click.UsageError("a password has at least 12 characters")
    return password


@click.group()
def users() -> None:
    """Staff and client portal users, their passwords and API tokens."""


@users.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in UserRole]), required=True)
@click.option("--name", default=None, help="Display name (default: the username).")
@click.option("--account", "account_id", type=click.UUID, default=None,
              help="For a client: the one account the user belongs to.")
@click.option("--contact", "contact_id", type=click.UUID, default=None,
              help="For a client: the account's contact this user is.")
@click.option("--line", type=click.IntRange(1, 2), default=None, help="For an agent: 1 or 2.")
@click.option("--department", default=None, help="For an agent: the department.")
@click.option("--password", "with_password", is_flag=True,
              help="Ask for a password (people); machines use `carelog users token` instead.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def add(username: str, role: str, name: str | None, account_id: UUID | None,
        contact_id: UUID | None, line: int | None, department: str | None,
        with_password: bool, password_stdin: bool) -> None:
    """Add a user with a role."""
    password = (_read_password(password_stdin) if with_password or password_stdin else None)
    with _users() as auth:
        actor = _actor()
        auth.users.add_user(username=username, name=name or username, role=role, actor=actor,
                            account_id=account_id, contact_id=contact_id, line=line,
                            department=department)
        if password is not None:
            auth.users.set_password(username=username,
                                    password_hash=auth.passwords.hash(password), actor=actor)
    console.print(f"Added {username.strip().lower()} ({role}).")


@users.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def password(username: str, password_stdin: bool) -> None:
    """Set a user's password."""
    secret = _read_password(password_stdin)
    with _users() as auth:
        auth.users.set_password(username=username, password_hash=Passwords().hash(secret),
                                actor=_actor())
    console.print("Password set.")


def _row(user: User, last_used: dict[str, datetime]) -> dict[str, Any]:
    return {"username": user.username, "name": user.name, "role": user.role,
            "accountId": str(user.account_id) if user.account_id else None,
            "line": user.line, "department": user.department, "disabled": user.disabled,
            "password": user.password_hash is not None,
            "tokens": [{"id": tid, "label": t["label"], "role": t["role"],
                        "issuedAt": t["issued_at"].isoformat(),
                        "revokedAt": t["revoked_at"].isoformat() if t["revoked_at"] else None,
                        "lastUsedAt": (last_used[tid].isoformat() if tid in last_used
                                       else None)}
                       for tid, t in user.tokens.items()]}


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the users as JSON.")
def list_users(as_json: bool) -> None:
    """Every user, with role, account, state and tokens (never a secret), and when each token
    was last used (to the minute)."""
    with _users() as auth:
        users = auth.users.all()
        assert auth.uses is not None
        last_used = auth.uses.last_used(t for u in users for t in u.tokens)
        rows = [_row(u, last_used) for u in users]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table("username", "name", "role", "account", "line", "department", "state",
                  "password", "active tokens", "token last used")
    for r in rows:
        active = [t for t in r["tokens"] if t["revokedAt"] is None]
        used = max((t["lastUsedAt"] for t in active if t["lastUsedAt"]), default=None)
        table.add_row(r["username"], r["name"], r["role"], r["accountId"] or "",
                      str(r["line"] or ""), r["department"] or "",
                      "disabled" if r["disabled"] else "active",
                      "set" if r["password"] else "-", str(len(active)),
                      used[:16].replace("T", " ") if used else "never")
    Console().print(table)


@users.command("disable")
@click.argument("username")
@click.option("--reason", default="disabled by an administrator", show_default=True)
def disable(username: str, reason: str) -> None:
    """Disable a user: its sessions and tokens stop working at once, in every process."""
    with _users() as auth:
        auth.users.disable_user(username=username, reason=reason, actor=_actor())
    console.print(f"Disabled {username.strip().lower()}.")


@users.command("token")
@click.argument("username")
@click.option("--label", default="api", show_default=True, help="What the token is for.")
@click.option("--role", type=click.Choice([r.value for r in UserRole]), default=None,
              help="A narrower role for the token (an admin's token may hold any staff role).")
@click.option("--revoke", "revoke_id", type=click.UUID, default=None,
              help="Revoke this token (its id from `carelog users list --json`).")
def token(username: str, label: str, role: str | None, revoke_id: UUID | None) -> None:
    """Issue an API token (printed once on stdout), or revoke one with --revoke."""
    with _users() as auth:
        if revoke_id is not None:
            auth.users.revoke_token(username=username, credential_id=revoke_id,
                                    actor=_actor())
            console.print(f"Revoked token {revoke_id}.")
            return
        secret, credential = auth.issue_token(username, label, _actor(), role)
    console.print(f"Token {credential.id} ({credential.role}) for {username.strip().lower()}; "
                  "it is shown this once. Send it as `Authorization: Bearer <token>`.")
    click.echo(secret)
