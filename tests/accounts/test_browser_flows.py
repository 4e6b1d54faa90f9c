"""The flows people do in a browser from an email: confirm an address, reset a password.

A real SMTP server receives the emails, headless Chromium (JavaScript off: the pages must work
without it) opens the links against a live Lyo server, and the API is called over HTTP.
"""

import re
import time

import pytest
import requests
from playwright.sync_api import sync_playwright

from tests.browser import CHROMIUM_ARGS, chromium_path
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # alongside it are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(java_script_enabled=False)
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


def wait_for_email(smtp_server, to: str, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for received in smtp_server.messages:
            if to in received.rcpt_tos:
                return received.message
        time.sleep(0.05)
    raise AssertionError(f"no email to {to} within {timeout}s")


def link_in(message, pattern: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    links = re.findall(rf"https?://\S*{pattern}\S*/", text)
    assert links, text
    assert links[0] in html  # the HTML part carries the same link
    return links[0]


def token(base: str, email: str, password: str) -> requests.Response:
    return requests.post(
        f"{base}/api/v1/auth/token/", json={"email": email, "password": password}, timeout=10
    )


def test_verification_link_confirms_the_email_in_a_browser(live_server, smtp_server, browser_page):
    base = live_server.url
    email = "reader@example.com"
    registered = requests.post(
        f"{base}/api/v1/auth/register/",
        json={"email": email, "password": DEFAULT_PASSWORD, "display_name": "Reader"},
        timeout=10,
    )
    assert registered.status_code == 201
    before = token(base, email, DEFAULT_PASSWORD)
    assert before.status_code == 403
    assert before.json()["error"]["code"] == "email_unverified"

    message = wait_for_email(smtp_server, email)
    link = link_in(message, "/accounts/confirm-email/")
    assert link.startswith(base)

    page = browser_page
    page.goto(link)
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("button", name="Confirm email address").click()
    page.wait_for_url(f"{base}/accounts/confirmed/")
    assert page.locator("#confirmed").is_visible()
    assert "return to the Lyo app" in page.content()

    after = token(base, email, DEFAULT_PASSWORD)
    assert after.status_code == 200
    assert set(after.json()) == {"access", "refresh"}


def test_an_expired_or_forged_confirmation_link_says_so(live_server, browser_page):
    browser_page.goto(f"{live_server.url}/accounts/confirm-email/not-a-real-key/")
    assert "expired" in browser_page.content().lower()
    assert browser_page.get_by_role("button", name="Confirm email address").count() == 0


def test_password_reset_through_the_browser_page(live_server, smtp_server, browser_page):
    base = live_server.url
    user = UserFactory(email="forgetful@example.com")
    old_refresh = token(base, user.email, DEFAULT_PASSWORD).json()["refresh"]

    asked = requests.post(
        f"{base}/api/v1/auth/password/reset/", json={"email": user.email}, timeout=10
    )
    assert asked.status_code == 202
    link = link_in(wait_for_email(smtp_server, user.email), "/accounts/password/reset/key/")

    new_password = "a brand new passphrase 42"
    page = browser_page
    page.goto(link)
    page.get_by_label("New password", exact=False).first.fill(new_password)
    page.locator("input[name=password2]").fill(new_password)
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_selector("#password-changed")

    assert token(base, user.email, DEFAULT_PASSWORD).status_code == 401
    assert token(base, user.email, new_password).status_code == 200
    refreshed = requests.post(
        f"{base}/api/v1/auth/token/refresh/", json={"refresh": old_refresh}, timeout=10
    )
    assert refreshed.status_code == 401

    # The link is single-use.
    page.goto(link)
    assert page.locator("input[name=password1]").count() == 0
