"""Registration with approval in a real browser: someone finds their school by name and asks for its
admin's account from the sign-in page, is refused sign-in while it is pending (and told why), the block officer of that
school approves it in the Pending requests page, and the new account then signs in."""

from __future__ import annotations

import pytest

from tests.serve_app.dashboard.served_twin import PASSWORD
from tests.serve_app.dashboard.test_browser import artefacts, browser, expect, page, schools_of, sign_in, twin  # noqa: F401

pytestmark = pytest.mark.browser


def test_a_school_admin_asks_waits_is_approved_by_the_block_officer_then_signs_in(twin, page, artefacts):  # noqa: F811
    block = twin.accounts["block"]
    school = next(s for s in schools_of(twin, block.district, block.block) if s != twin.accounts["school"].school_id)
    email = f"hm.{school}@example.org"

    page.goto("/")
    page.click("#ask-account")
    form = page.locator("#register")
    form.locator("input[name=full_name]").fill("R. Selvi")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("select[name=role]").select_option("school_admin")
    name = next(r["name"] for r in twin.rows if r["id"] == school)
    form.locator("input[name=find]").fill(name)  # found by name: choosing it fills its place and code
    form.locator(f"#school-choices button[data-school='{school}']").click()
    expect(form.locator("input[name=school_id]")).to_have_value(school)
    expect(form.locator("input[name=district]")).to_have_value(block.district)
    expect(form.locator("input[name=block]")).to_have_value(block.block)
    page.screenshot(path=artefacts / "register.png")
    form.locator("button[type=submit]").click()
    expect(page.locator("#register-done")).to_be_visible()

    page.click("#register-done a")  # back to sign-in: refused while pending, and told why
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#login-error")).to_have_attribute("data-reason", "awaiting_approval")
    expect(page.locator("#login-error")).to_contain_text("awaiting approval")

    sign_in(page, block.email)
    page.click("#nav a[href='#/requests']")
    row = page.locator(f"#requests-table tr[data-email='{email}']")
    expect(row).to_contain_text(school)
    page.screenshot(path=artefacts / "requests.png")
    row.locator("[data-approve]").click()
    expect(row).to_have_attribute("data-status", "approved")
    page.click("#sign-out")
    page.wait_for_selector("#login")

    sign_in(page, email)
    expect(page.locator("#who")).to_contain_text(f"School admin · {block.district} / {block.block} / {school}")
    expect(page.locator("#nav a[href='#/requests']")).to_have_count(0)  # a school admin decides no requests
