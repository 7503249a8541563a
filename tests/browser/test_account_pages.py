"""The account pages in a real browser on the local stack: the links sent by email (verify, reset a
forgotten password, an invitation), the account page (change password, sessions, log out
everywhere) and invitations on the members page."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.browser.account_steps import mail_link, verify_email
from tests.browser.conftest import PASSWORD, signup, workspace_of

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "another long browser password"


def _login(tab, email: str, password: str) -> None:
    tab.goto("/app/login")
    tab.page.get_by_label("Email", exact=True).fill(email)
    tab.page.get_by_label("Password", exact=True).fill(password)
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.wait_for_url(re.compile(r"/app/workspaces/ws_\w+$"))


def test_verify_then_forget_and_reset_the_password(tab, stack):
    email = signup(tab, "account")
    verify_email(tab, stack, email)
    assert "#token" not in tab.page.url  # the secret leaves the address bar once read
    tab.goto("/app/account")
    tab.page.get_by_text(f"{email}: verified").wait_for()
    assert tab.axe() == []
    tab.shoot("account")
    # a forgotten password
    tab.goto("/app/forgot-password")
    tab.page.get_by_label("Email").fill(email)
    tab.page.get_by_role("button", name="Email me a link").click()
    tab.page.get_by_text("If an account has this address").wait_for()
    tab.goto(mail_link(stack, email, "Reset your CostPilot password"))
    tab.page.get_by_label("New password").fill(NEW_PASSWORD)
    tab.page.get_by_role("button", name="Set the password").click()
    tab.page.get_by_text("every session was logged out").wait_for()
    _login(tab, email, NEW_PASSWORD)
    assert tab.problems == []


def test_sessions_and_log_out_everywhere(tab, stack, browser):
    from tests.browser.conftest import Tab

    email = signup(tab, "sessions")
    other = Tab(browser, stack.base)
    try:
        _login(other, email, PASSWORD)
        tab.goto("/app/account")
        rows = tab.page.locator(".account table.data tbody tr")
        rows.first.wait_for()
        assert rows.count() >= 2 and "(this session)" in tab.page.locator(".account table.data").inner_text()
        tab.page.once("dialog", lambda d: d.accept())
        tab.page.get_by_role("button", name="Log out everywhere").click()
        tab.page.wait_for_url(re.compile(r"/app/login$"))
        other.expected_statuses.add(401)
        other.goto("/app/account")
        other.page.get_by_role("button", name="Log in").wait_for()  # that session ended too
    finally:
        other.close()
    assert tab.problems == []


def test_an_invitation_by_email_signs_a_stranger_up_into_the_workspace(tab, stack, browser):
    from tests.browser.conftest import Tab

    signup(tab, "inviter")
    ws = workspace_of(tab)
    invitee = f"invitee-{uuid.uuid4().hex[:8]}@example.com"
    tab.goto(f"/app/workspaces/{ws}/members")
    tab.page.get_by_label("Email to invite").fill(invitee)
    tab.page.get_by_role("button", name="Send invitation").click()
    tab.page.locator("table.data", has_text=invitee).wait_for()
    assert tab.axe() == []
    tab.shoot("invitations")
    guest = Tab(browser, stack.base)
    try:
        guest.goto(mail_link(stack, invitee, "You are invited"))
        guest.page.get_by_text(f"invited {invitee} as member").wait_for()
        assert guest.axe() == []
        guest.page.get_by_label("Choose a password").fill(PASSWORD)
        guest.page.get_by_role("button", name="Create my account and join").click()
        guest.page.wait_for_url(re.compile(rf"/app/workspaces/{ws}$"))
        assert guest.problems == []
    finally:
        guest.close()
    tab.page.reload()
    tab.page.get_by_text(invitee).first.wait_for()
    assert tab.problems == []


def test_rename_create_and_delete_a_workspace_and_a_member_leaves(tab, stack, browser):
    from tests.browser.conftest import Tab

    signup(tab, "owner")
    ws = workspace_of(tab)
    page = tab.page
    tab.goto(f"/app/workspaces/{ws}/members")
    page.get_by_label("Name", exact=True).fill("Renamed team")
    page.get_by_role("button", name="Rename").click()
    page.get_by_text("Renamed to “Renamed team”.").wait_for()
    switcher = page.locator("header .switch select")
    assert switcher.locator("option").all_inner_texts()[0] == "Renamed team"
    # the last owner cannot leave: the server says why, nothing changes
    tab.expected_statuses.add(409)
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Leave this workspace").click()
    page.get_by_text("a workspace must keep at least one owner").wait_for()
    # a second workspace from the switcher, then deleted after typing its name
    switcher.select_option(label="+ New workspace…")
    page.wait_for_url(re.compile(r"/app/new-workspace$"))
    page.get_by_label("Name", exact=True).fill("Side project")
    page.get_by_role("button", name="Create workspace").click()
    page.wait_for_url(re.compile(r"/app/workspaces/ws_\w+/onboarding$"))
    second = workspace_of(tab)
    assert second != ws and "Side project" in switcher.locator("option").all_inner_texts()
    tab.goto(f"/app/workspaces/{second}/members")
    delete = page.get_by_role("button", name="Delete workspace")
    assert delete.is_disabled()
    page.get_by_label("Type “Side project” to delete it").fill("Side project")
    assert tab.axe() == []
    tab.shoot("workspace-settings")
    delete.click()
    page.wait_for_url(re.compile(rf"/app/workspaces/{ws}$"))
    assert switcher.locator("option").all_inner_texts() == ["Renamed team", "+ New workspace…"]
    # a member (joined by invitation, no workspace of their own) leaves and is offered a new one
    invitee = f"leaver-{uuid.uuid4().hex[:8]}@example.com"
    tab.goto(f"/app/workspaces/{ws}/members")
    page.get_by_label("Email to invite").fill(invitee)
    page.get_by_role("button", name="Send invitation").click()
    page.locator("table.data", has_text=invitee).wait_for()
    guest = Tab(browser, stack.base)
    try:
        guest.goto(mail_link(stack, invitee, "You are invited"))
        guest.page.get_by_label("Choose a password").fill(PASSWORD)
        guest.page.get_by_role("button", name="Create my account and join").click()
        guest.page.wait_for_url(re.compile(rf"/app/workspaces/{ws}$"))
        guest.goto(f"/app/workspaces/{ws}/members")
        assert guest.page.get_by_role("button", name="Rename").count() == 0  # a member cannot rename
        assert guest.page.get_by_role("button", name="Delete workspace").count() == 0
        guest.page.once("dialog", lambda d: d.accept())
        guest.page.get_by_role("button", name="Leave this workspace").click()
        guest.page.get_by_text("You have no workspace yet.").wait_for()
        assert guest.page.get_by_role("button", name="Create workspace").is_visible()
        assert guest.problems == []
    finally:
        guest.close()
    tab.page.reload()
    tab.page.locator("table.data").first.wait_for()
    assert invitee not in tab.page.locator("table.data").first.inner_text()
    assert tab.problems == []
