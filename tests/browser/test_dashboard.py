"""A new user in a real browser on the real local stack: sign up, onboarding, connect the fake OpenAI,
push usage, alert on it, explore costs by URL; the demo workspace's every page at two widths.
Figures on the page are compared with the API's to the cent; every page must load with no console
error, no failed request and no serious accessibility violation."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from devstack.fakes.openai import ADMIN_KEY as OPENAI_KEY
from devstack.stripe_local import LOCAL_SECRET_KEY
from tests.browser.account_steps import verify_email
from tests.browser.conftest import dollars, signup, workspace_of

pytestmark = pytest.mark.e2e

PAGES = ["", "costs", "forecast", "insights", "alerts", "connections", "members", "billing", "onboarding"]


def _reload_until(tab, selector: str, attempts: int = 24) -> None:
    """Reloads until ``selector`` is on the page (waiting for the sync worker or the alert evaluator)."""
    for attempt in range(attempts):
        if attempt:
            tab.page.reload()
        try:
            tab.page.wait_for_selector(selector, timeout=5000)
        except PlaywrightTimeout:
            continue  # not yet: read the page again
        return
    shown = tab.page.locator("main").inner_text()[:1500]  # read 5 s after the last load: what it settled on
    raise AssertionError(f"{selector} never appeared on {tab.page.url}; the page showed:\n{shown}")


def _wait_for(condition, attempts: int = 120) -> None:
    for _ in range(attempts):
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError("condition never held")


def _answer_to_page(tab, request: str, action) -> dict:
    """The JSON the page was given, while ``action`` ran, for the first URL containing ``request``.
    A month-end projection counts the share of today still to come, so a request a moment later may
    differ by a cent: the page is compared with its own answer, not with a fresh one."""
    with tab.page.expect_response(lambda r: request in r.url) as answer:
        action()
    assert answer.value.ok, answer.value.text()
    return answer.value.json()


def _push(base: str, key: str, events: list[dict]) -> dict:
    r = httpx.post(f"{base}/api/webhooks/provider-usage", content=json.dumps({"events": events}),
                   headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


def _event(cost: str, **kw) -> dict:
    return {"id": uuid.uuid4().hex, "timestamp": (datetime.now(UTC) - timedelta(seconds=5)).isoformat(),
            "provider": "openai", "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "cost": cost, **kw}


def _login_demo(tab, stack) -> str:
    demo = re.search(r"Demo login:\s+(\S+) / (\S+)", "".join(stack.banner))
    tab.goto("/app/login")
    tab.page.get_by_label("Email", exact=True).fill(demo.group(1))
    tab.page.get_by_label("Password", exact=True).fill(demo.group(2))
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.locator(".kpis").wait_for()
    return workspace_of(tab)


def _csrf(tab) -> dict:
    return {"X-CSRF-Token": next(c["value"] for c in tab.context.cookies() if c["name"] == "cp_csrf")}


def _api(tab, path: str) -> dict:
    r = tab.page.request.get(tab.base + path)  # the page's own cookie session
    assert r.ok, r.text()
    return r.json()


def test_sign_up_connect_the_fake_openai_create_a_first_alert_and_see_synced_spend(tab):
    signup(tab, "onboard")
    ws = workspace_of(tab)
    page = tab.page
    page.get_by_label("Provider", exact=True).select_option("openai")
    page.get_by_label("Label", exact=True).fill("OpenAI prod")
    page.get_by_label("Admin API key").fill(OPENAI_KEY)
    page.get_by_role("button", name="Connect").click()
    page.get_by_text("Connected OpenAI prod").wait_for()
    page.get_by_label("Name", exact=True).fill("Daily OpenAI over $100")
    page.get_by_label("Amount (USD)").fill("100")
    page.get_by_role("button", name="Create alert").click()
    page.get_by_text("Your alert is watching spend.").wait_for()
    assert tab.axe() == []
    page.get_by_role("link", name="See spend").click()
    _reload_until(tab, ".plot[data-drawn]")
    _wait_for(lambda: _api(tab, f"/api/workspaces/{ws}/connections")["connections"][0]["last_success_at"])
    # The first sync has finished, but spend can still move (its rollups, today's provisional
    # figure): once it settles, a reloaded page shows what the API says.
    seen: list[tuple[str, str, str, str]] = []

    def page_agrees_with_api() -> bool:
        pe = _answer_to_page(tab, f"/api/workspaces/{ws}/summary", page.reload)["forecast"]["period_end"]
        page.locator(".plot[data-drawn]").wait_for()
        seen.append((page.locator("[data-figure=month-to-date]").inner_text(),
                     dollars(Decimal(pe["spent_so_far"]) + Decimal(pe["today_so_far"])),
                     page.locator("[data-figure=projected]").inner_text(), dollars(pe["projected"])))
        return seen[-1][0] == seen[-1][1] and seen[-1][2] == seen[-1][3]

    for _ in range(20):
        if page_agrees_with_api():
            break
        time.sleep(0.5)
    shown, summed, projected_shown, projected = seen[-1]
    assert shown == summed and shown != "$0.00", seen[-3:]  # the last reads, page beside API
    assert projected_shown == projected, seen[-3:]
    assert "openai" in page.locator(".legend").inner_text()
    assert _api(tab, f"/api/workspaces/{ws}/alerts")["alerts"][0]["name"] == "Daily OpenAI over $100"
    assert tab.problems == []


def test_ingest_key_push_usage_explore_costs_by_url_and_download_csv(tab):
    signup(tab, "push")
    ws = workspace_of(tab)
    page = tab.page
    page.get_by_label("Push usage from my code").check()
    page.get_by_label("Key name").fill("backend")
    page.get_by_role("button", name="Create ingest key").click()
    key = page.locator("[data-secret=ingest-key]").input_value()
    assert key.startswith("cpk_live_") and key in page.locator("pre").first.inner_text()
    result = _push(tab.base, key, [_event("1.005", feature="search"),
                                   _event("2.1234", model="gpt-4o-mini", feature="chat"),
                                   _event("0.3333", feature="search", provider="anthropic", model="claude-sonnet-4")])
    assert result["summary"]["accepted"] == 3
    tab.goto(f"/app/workspaces/{ws}/costs")
    page.locator("[data-figure=total]").wait_for()
    api_total = _api(tab, f"/api/workspaces/{ws}/usage?group_by=provider")["totals"][0]["spend"]
    assert page.locator("[data-figure=total]").inner_text() == dollars(api_total) == "$3.46"

    page.get_by_label("Group by").select_option("model")
    page.get_by_label("Provider filter").fill("openai")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"group_by=model"))
    page.locator("[data-figure='spend:gpt-4o-mini']").wait_for()
    url = page.url
    assert "provider=openai" in url
    page.reload()
    page.locator("[data-figure='spend:gpt-4o-mini']").wait_for()
    assert page.url == url and page.get_by_label("Group by").input_value() == "model"
    assert page.get_by_label("Provider filter").input_value() == "openai"
    by_model = _api(tab, f"/api/workspaces/{ws}/usage?group_by=model&provider=openai")
    api_mini = sum(Decimal(p["spend"]) for p in by_model["series"] if p["group"]["model"] == "gpt-4o-mini")
    assert page.locator("[data-figure='spend:gpt-4o-mini']").inner_text() == dollars(api_mini) == "$2.12"
    assert page.locator("[data-figure=total]").inner_text() == dollars(by_model["totals"][0]["spend"]) == "$3.13"
    assert page.locator("table.sortable tbody tr").count() == 2

    page.get_by_role("button", name="Show as table").click()
    assert page.locator("figure table").count() == 1
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    text = Path(download.value.path()).read_text()
    assert "gpt-4o-mini" in text and "claude" not in text
    assert tab.problems == []


def test_a_threshold_alert_fires_on_pushed_usage_and_is_acknowledged_from_the_banner(tab, stack):
    email = signup(tab, "alert")
    ws = workspace_of(tab)
    page = tab.page
    verify_email(tab, stack, email)  # alert emails go to verified addresses only
    auth = {"X-CSRF-Token": next(c["value"] for c in tab.context.cookies() if c["name"] == "cp_csrf")}
    key = tab.page.request.post(f"{tab.base}/api/workspaces/{ws}/ingest-keys", data={"name": "app"},
                                headers=auth).json()["key"]
    tab.goto(f"/app/workspaces/{ws}/alerts")
    page.get_by_role("button", name="New alert").click()
    page.get_by_label("Name", exact=True).fill("OpenAI today over $5")
    page.get_by_label("Amount (USD)").fill("5")
    page.get_by_label("Scope value").fill("openai")
    page.get_by_role("button", name="Create alert").click()
    page.get_by_text("Created “OpenAI today over $5”.").wait_for()
    _push(tab.base, key, [_event("3.50")])
    _push(tab.base, key, [_event("2.25")])
    tab.goto(f"/app/workspaces/{ws}")
    _reload_until(tab, ".banner")
    banner = page.locator(".banner").first
    assert "OpenAI today over $5" in banner.inner_text() and "$5.75" in banner.inner_text()
    tab.goto(f"/app/workspaces/{ws}/alerts")
    _reload_until(tab, ".pill.sent")
    assert "email: sent" in page.locator("ul.history").inner_text()
    outbox = stack.banner_url("Outbox (emails sent):")
    mails = httpx.get(f"{outbox}/messages.json", params={"to": email}).json()
    assert any("$5.75" in m["subject"] for m in mails)
    tab.goto(f"/app/workspaces/{ws}")
    page.locator(".banner").get_by_role("button", name="Acknowledge").click()
    page.locator(".banner").wait_for(state="detached")
    firing = _api(tab, f"/api/workspaces/{ws}/alerts/history")["firings"][0]
    assert firing["status"] == "acknowledged" and firing["acknowledged_by"] == email
    assert tab.problems == []


def test_demo_pages_at_both_widths_with_no_errors_and_no_serious_accessibility_violations(tab, stack):
    demo = re.search(r"Demo login:\s+(\S+) / (\S+)", "".join(stack.banner))
    tab.goto("/")
    tab.page.get_by_label("Email", exact=True).fill(demo.group(1))
    tab.page.get_by_label("Password", exact=True).fill(demo.group(2))
    tab.shoot("login")
    tab.api_calls.clear()
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.locator(".plot[data-drawn]").wait_for()
    assert len(tab.api_calls) <= 3, tab.api_calls  # login, me, summary
    ws = workspace_of(tab)
    violations = {}
    for section in PAGES:
        tab.goto(f"/app/workspaces/{ws}/{section}".rstrip("/"))
        tab.page.locator("main h1, main .card").first.wait_for()
        tab.page.wait_for_load_state("networkidle")
        tab.shoot(section or "overview")
        found = tab.axe()
        if found:
            violations[section or "overview"] = found
    assert violations == {}
    assert tab.problems == []


def test_a_plan_limit_shows_which_limit_and_which_plan_lifts_it(tab, stack):
    demo = re.search(r"Demo login:\s+(\S+) / (\S+)", "".join(stack.banner))
    tab.goto("/app/login")
    tab.page.get_by_label("Email", exact=True).fill(demo.group(1))
    tab.page.get_by_label("Password", exact=True).fill(demo.group(2))
    tab.page.get_by_role("button", name="Log in").click()
    tab.page.locator(".kpis").wait_for()
    tab.goto(f"/app/workspaces/{workspace_of(tab)}/connections")
    tab.expected_statuses.add(402)
    tab.page.get_by_role("button", name="Connect a provider").click()
    tab.page.get_by_label("Admin API key").fill(OPENAI_KEY)
    tab.page.get_by_role("button", name="Connect", exact=True).click()
    error = tab.page.locator(".error").first
    error.wait_for()
    text = error.inner_text()
    assert "Plan limit reached" in text and "connections" in text
    assert "free plan" in text.lower() and "pro" in text.lower()
    assert tab.problems == []


def test_logging_out_ends_the_session_and_a_forged_post_is_refused(tab):
    signup(tab, "logout")
    ws = workspace_of(tab)
    forged = tab.page.request.post(f"{tab.base}/api/workspaces/{ws}/ingest-keys", data={"name": "forged"})
    assert forged.status == 403 and forged.json()["error"]["code"] == "csrf_rejected"
    tab.page.get_by_role("button", name="Log out").click()
    tab.page.get_by_role("button", name="Log in").wait_for()
    assert not [c for c in tab.context.cookies() if c["name"] == "cp_session"]
    tab.expected_statuses.add(401)
    assert tab.page.request.get(f"{tab.base}/api/me").status == 401
    tab.expected_statuses.discard(401)
    assert tab.problems == []


def test_the_demo_first_screen_shows_the_open_spike_and_where_the_month_ends_to_the_cent(tab, stack):
    ws = _login_demo(tab, stack)
    page = tab.page
    s = _answer_to_page(tab, f"/api/workspaces/{ws}/summary", page.reload)
    page.locator(".plot[data-drawn]").wait_for()
    spike = next(f for f in s["open_firings"] if f["kind"] == "spike")
    banner = page.locator(f"[data-firing='{spike['firing_id']}']")
    text = banner.inner_text()
    assert "Unusual daily spend" in text and dollars(spike["figure"]) in text and dollars(spike["threshold"]) in text
    # the title is the headline, the alert's name beside it (not "Unusual daily spend: Unusual spend: ...")
    assert banner.locator(".firing-title strong").inner_text() == spike["headline"]
    assert f"{spike['alert_name']}: {spike['headline']}" not in text and text.count("Unusual") == 2
    assert "gpt-4o" in banner.locator(".drivers").inner_text() and "Since 20" in text
    assert banner.get_by_role("button", name="Snooze 1 day").is_visible()
    pe = s["forecast"]["period_end"]
    budget = Decimal(pe["budget"])
    assert Decimal(pe["lower"]) < budget < Decimal(pe["upper"])  # the demo's month ends near its budget
    assert page.locator("[data-figure=projected]").inner_text() == dollars(pe["projected"])
    assert f"{round(pe['probability_over_budget'] * 100)}% chance of passing it" in page.locator(".risk").inner_text()
    assert page.locator("[data-figure=today]").inner_text() == dollars(s["today_vs_usual"]["today"])
    page.get_by_label("Group by").select_option("model")
    page.locator(".legend", has_text="gpt-4o").wait_for()
    assert tab.problems == []


def test_the_first_screen_asks_for_its_data_alongside_who_is_logged_in(tab, stack):
    _login_demo(tab, stack)
    page = tab.page
    page.locator(".plot[data-drawn]").wait_for()
    events: list[tuple[str, str]] = []

    def seen(what: str, url: str) -> None:
        if "/api/" in url:
            events.append((what, url.split("?")[0].rsplit("/", 1)[-1]))

    page.on("request", lambda r: seen("sent", r.url))
    page.on("response", lambda r: seen("answered", r.url))
    page.reload()
    page.locator(".plot[data-drawn]").wait_for()
    page.wait_for_load_state("networkidle")
    # the URL names the workspace: its summary need not wait for /api/me's answer, and is asked for once
    assert events.index(("sent", "summary")) < events.index(("answered", "me")), events
    assert sorted(name for what, name in events if what == "sent") == ["me", "summary"], events
    assert tab.problems == []


def test_forecast_page_takes_a_typed_budget_and_explains_its_accuracy(tab, stack):
    ws = _login_demo(tab, stack)
    page = tab.page
    page.get_by_role("link", name="Forecast").click()
    page.locator("[data-figure=fc-probability]").wait_for()
    page.get_by_label("Budget (USD)").fill("2000")
    api = _answer_to_page(tab, f"/api/workspaces/{ws}/forecast?budget=2000",
                          page.get_by_role("button", name="Show chance").click)
    page.wait_for_url(re.compile(r"budget=2000"))
    page.locator("h2", has_text="Chance of passing $2,000.00").wait_for()
    pe = api["period_end"]
    assert page.locator("[data-figure=fc-projected]").inner_text() == dollars(pe["projected"])
    assert page.locator("[data-figure=fc-probability]").inner_text() == f"{round(pe['probability_over_budget'] * 100)}%"
    assert f"between {dollars(pe['lower'])} and {dollars(pe['upper'])}" in page.locator(".kpis").inner_text()
    assert page.locator("[data-figure=accuracy]").inner_text() == api["accuracy"]["summary"]
    assert "off by about $" in api["accuracy"]["summary"]
    page.locator(".plot[data-drawn]").wait_for()
    page.reload()  # the typed budget is in the URL
    page.locator("h2", has_text="Chance of passing $2,000.00").wait_for()
    tab.expected_statuses.add(400)
    page.get_by_label("Budget (USD)").fill("-5")
    page.get_by_role("button", name="Show chance").click()
    assert "budget" in page.locator(".error").inner_text().lower()
    assert tab.problems == []


def test_insights_page_shows_each_finding_with_its_saving_to_the_cent(tab, stack):
    ws = _login_demo(tab, stack)
    tab.goto(f"/app/workspaces/{ws}/insights")
    tab.page.locator(".insight").first.wait_for()
    body = _api(tab, f"/api/workspaces/{ws}/insights")
    assert body["insights"], body
    assert tab.page.locator(".insight").count() == len(body["insights"])
    assert any(i["figures"].get("name") == "agent-beta" for i in body["insights"])  # the feature launched 10 days ago
    for n, insight in enumerate(body["insights"]):
        card = tab.page.locator(".insight").nth(n)
        assert insight["title"] in card.inner_text()
        saving = card.locator(f"[data-figure='saving:{n}']").inner_text()
        if insight["saving"]["monthly"]:
            assert f"Saves about {dollars(insight['saving']['monthly'])} a month." in saving
        assert insight["saving"]["how"] in saving
    assert tab.problems == []


def test_a_member_is_not_offered_what_the_role_forbids_and_the_server_refuses_it(tab, browser, stack):
    from tests.browser.conftest import Tab

    owner_email = signup(tab, "owner")
    ws = workspace_of(tab)
    member = Tab(browser, stack.base)
    try:
        member_email = signup(member, "member")
        tab.goto(f"/app/workspaces/{ws}/members")
        tab.page.get_by_label("Email", exact=True).fill(member_email)
        tab.page.get_by_label("Role", exact=True).select_option("member")
        tab.page.get_by_role("button", name="Add member").click()
        tab.page.locator("tr", has_text=member_email).wait_for()
        alert = {"name": "Owner's alert", "kind": "threshold", "amount": "10", "period": {"kind": "daily"},
                 "channels": [{"type": "email"}]}
        assert tab.page.request.post(f"{tab.base}/api/workspaces/{ws}/alerts", data=alert,
                                     headers=_csrf(tab)).status == 201

        page = member.page
        member.goto(f"/app/workspaces/{ws}/members")
        page.locator("tr", has_text=owner_email).wait_for()
        assert page.get_by_role("button", name="Remove").count() == 0
        assert page.get_by_role("heading", name="Add a member").count() == 0
        assert page.locator("tr", has_text=owner_email).locator("select").count() == 0
        member.goto(f"/app/workspaces/{ws}/alerts")
        page.get_by_text("Owner's alert").wait_for()
        assert page.get_by_role("button", name="New alert").count() == 0
        assert page.get_by_role("button", name="Delete").count() == 0
        member.goto(f"/app/workspaces/{ws}/billing")
        page.get_by_text("Only owners change the plan.").wait_for()
        assert page.get_by_role("button", name=re.compile("Upgrade")).count() == 0
        member.goto(f"/app/workspaces/{ws}/connections")
        page.get_by_role("heading", name="Connections").wait_for()
        assert page.get_by_role("button", name="Connect a provider").count() == 0
        assert page.get_by_role("button", name="Create ingest key").count() == 0
        assert member.axe() == []

        member.expected_statuses.add(403)
        request, auth = page.request, _csrf(member)
        alert_id = _api(member, f"/api/workspaces/{ws}/alerts")["alerts"][0]["alert_id"]
        owner_id = next(m["user_id"] for m in _api(member, f"/api/workspaces/{ws}/members")["members"]
                        if m["email"] == owner_email)
        refused = {
            "checkout": request.post(f"{tab.base}/api/workspaces/{ws}/billing/checkout", data={"plan": "pro"},
                                     headers=auth),
            "new alert": request.post(f"{tab.base}/api/workspaces/{ws}/alerts", data=alert, headers=auth),
            "delete alert": request.delete(f"{tab.base}/api/workspaces/{ws}/alerts/{alert_id}", headers=auth),
            "ingest key": request.post(f"{tab.base}/api/workspaces/{ws}/ingest-keys", data={"name": "x"}, headers=auth),
            "role": request.patch(f"{tab.base}/api/workspaces/{ws}/members/{owner_id}", data={"role": "member"},
                                  headers=auth),
            "delete workspace": request.delete(f"{tab.base}/api/workspaces/{ws}", headers=auth),
        }
        assert {k: r.status for k, r in refused.items()} == dict.fromkeys(refused, 403)
        assert all(r.json()["error"]["code"] for r in refused.values())
        assert [a["name"] for a in _api(tab, f"/api/workspaces/{ws}/alerts")["alerts"]] == ["Owner's alert"]
        assert _api(tab, f"/api/workspaces/{ws}/billing")["plan"]["name"] == "free"
        assert member.problems == []
    finally:
        member.close()
    assert tab.problems == []


def test_upgrade_through_the_fake_stripe_and_see_the_plan_change(tab):
    signup(tab, "upgrade")
    ws = workspace_of(tab)
    page = tab.page
    tab.goto(f"/app/workspaces/{ws}/billing")
    assert page.locator("[data-figure=plan]").inner_text() == "Free"
    page.get_by_role("button", name="Upgrade to Pro").click()
    page.get_by_role("button", name="Pay").click()  # the fake Stripe's hosted page
    page.wait_for_url(re.compile(rf"/app/workspaces/{ws}/billing\?checkout=success"))
    _reload_until(tab, "[data-figure=plan]:text-is('Pro')")
    assert _api(tab, f"/api/workspaces/{ws}/billing")["plan"]["name"] == "pro"
    assert page.get_by_role("button", name="Manage in the customer portal").is_visible()
    tab.shoot("billing-pro")
    assert tab.problems == []


def test_after_a_downgrade_the_owner_chooses_what_stays_active(tab, stack):
    email = signup(tab, "downgrade")
    ws = workspace_of(tab)
    page = tab.page
    tab.goto(f"/app/workspaces/{ws}/billing")
    page.get_by_role("button", name="Upgrade to Pro").click()
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(rf"/app/workspaces/{ws}/billing\?checkout=success"))
    _reload_until(tab, "[data-figure=plan]:text-is('Pro')")
    auth = {"X-CSRF-Token": next(c["value"] for c in tab.context.cookies() if c["name"] == "cp_csrf")}
    names = [f"Rule {i}" for i in range(1, 5)]  # Free keeps 3 alert rules
    for name in names:
        r = page.request.post(f"{tab.base}/api/workspaces/{ws}/alerts", headers=auth, data={
            "name": name, "kind": "threshold", "amount": 50, "period": {"kind": "monthly"},
            "channels": [{"type": "email", "to": [email]}]})
        assert r.status == 201, r.text()
    # cancel in the fake Stripe's portal, then its period ends: back on Free with one rule too many
    page.get_by_role("button", name="Manage in the customer portal").click()
    page.get_by_role("button", name="Cancel at period end").click()
    page.get_by_role("button", name="Don't cancel").wait_for()
    stripe, control = stack.banner_url("Fake Stripe:"), {"Authorization": f"Bearer {LOCAL_SECRET_KEY}"}
    subs = httpx.get(f"{stripe}/_fake/subscriptions", headers=control).json()
    sub_id = next(s["id"] for s in subs if s["cancel_at_period_end"] and s["status"] != "canceled")
    assert httpx.post(f"{stripe}/_fake/subscriptions/{sub_id}/end_period", headers=control).is_success
    tab.goto(f"/app/workspaces/{ws}/billing")
    _reload_until(tab, "[data-figure=plan]:text-is('Free')")
    # the plan changes, then the webhook's reconcile pauses the fourth rule: a page read between the
    # two shows Free with four active, so read it again until the pause is there
    _reload_until(tab, "section.card:has-text('What stays active on the Free plan') "
                       ">> text=Alert rules: keep up to 3 (3 chosen)")
    card = page.locator("section.card", has_text="What stays active on the Free plan")
    boxes = {name: card.get_by_label(f"{name} (threshold)") for name in names}
    assert [n for n, b in boxes.items() if b.is_checked()] == names[:3]  # the oldest stay active
    assert boxes["Rule 4"].is_disabled()  # three are chosen: a fourth cannot be
    boxes["Rule 1"].uncheck()
    boxes["Rule 4"].check()
    assert tab.axe() == []
    tab.shoot("billing-keep")
    card.get_by_role("button", name="Keep these active").click()
    _wait_for(lambda: {a["name"]: a["status"] for a in _api(tab, f"/api/workspaces/{ws}/alerts")["alerts"]}
              == {"Rule 1": "paused", "Rule 2": "active", "Rule 3": "active", "Rule 4": "active"})
    card.get_by_text("Alert rules: keep up to 3 (3 chosen)").wait_for()
    expect(boxes["Rule 1"]).not_to_be_checked()  # the page read again shows the server's choice
    expect(boxes["Rule 4"]).to_be_checked()
    assert page.get_by_role("button", name="Upgrade to Pro").is_visible()  # a canceled subscription can buy again


def test_a_spike_alert_from_the_form_keeps_its_floor(tab, stack):
    """The spike alert's floor (``min_excess``): shown at its default, saved as typed, shown again."""
    email = signup(tab, "floor")
    ws = workspace_of(tab)
    page = tab.page
    verify_email(tab, stack, email)
    tab.goto(f"/app/workspaces/{ws}/alerts")
    page.get_by_role("button", name="New alert").click()
    page.get_by_label("Name", exact=True).fill("Runaway spend")
    page.get_by_label("Kind").select_option("spike")
    floor = page.get_by_label("Alert once the extra spend reaches (USD)")
    expect(floor).to_have_value("1")
    floor.fill("2.50")
    assert tab.axe() == []
    tab.shoot("alert-spike-form")
    page.get_by_role("button", name="Create alert").click()
    page.get_by_text("Created “Runaway spend”.").wait_for()
    [rule] = _api(tab, f"/api/workspaces/{ws}/alerts")["alerts"]
    assert (rule["kind"], rule["min_excess"]) == ("spike", "2.5")
    page.get_by_text("spike · from $2.50 extra").wait_for()  # the rules list says it


def test_an_sms_channel_is_verified_by_its_code_and_picked_for_an_alert(tab, stack):
    signup(tab, "sms")
    ws = workspace_of(tab)
    page = tab.page
    number = f"+1415555{uuid.uuid4().int % 10_000:04d}"
    if number.endswith("0000"):  # the fake Twilio answers undelivered to those
        number = number[:-1] + "1"
    tab.goto(f"/app/workspaces/{ws}/alerts")
    page.get_by_role("button", name="New alert").click()
    page.get_by_label("Name", exact=True).fill("Texted over $20")
    page.get_by_label("Amount (USD)").fill("20")
    page.get_by_label("Channel", exact=True).select_option("sms")
    page.get_by_text("Verify a number before the alert can text it.").wait_for()
    page.get_by_label("Add a number (E.164)").fill(number)
    page.get_by_role("button", name="Send code").click()
    code_field = page.get_by_label(f"Code sent to {number}")
    code_field.wait_for()
    outbox = stack.banner_url("Outbox (emails sent):")
    texts: list[dict] = []

    def code_arrived() -> bool:
        texts[:] = [m for m in httpx.get(f"{outbox}/sms.json").json() if m["to"] == number]
        return bool(texts)

    _wait_for(code_arrived)
    code = re.search(r"\b(\d{6})\b", texts[-1]["body"]).group(1)
    verify = page.get_by_role("button", name="Verify", exact=True)
    assert verify.is_disabled()  # six digits first
    code_field.fill(code)
    verify.click()
    chosen = page.get_by_label("Verified number")
    chosen.wait_for()
    assert chosen.input_value() == number and code_field.count() == 0
    page.get_by_role("button", name="Create alert").click()
    page.get_by_text("Created “Texted over $20”.").wait_for()
    [alert] = _api(tab, f"/api/workspaces/{ws}/alerts")["alerts"]
    assert [(c["type"], c.get("number")) for c in alert["channels"]] == [("sms", number)]
    numbers = _api(tab, f"/api/workspaces/{ws}/sms/numbers")["numbers"]
    assert [(n["number"], n["status"]) for n in numbers] == [(number, "verified")]
    assert tab.problems == []
