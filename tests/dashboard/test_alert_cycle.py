"""The alert cycle in real headless Chromium across a wall (a display screen), a desk and a tablet,
against the whole stack: pushed, received by each screen (shown to the sender), acknowledged per
person and kept on reload, acknowledged on behalf of the wall from the desk, updated, withdrawn
(the wall drops it by itself), and the banner never over the status and the clock.
Screenshots are kept in test-artifacts/ (look at them)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.stack import ROOT, start_stack

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.redis]

ARTIFACTS = ROOT / "test-artifacts"
PASSWORD = "alert cycle passphrase 42"
SIZES = {"wall": (1920, 1080), "desk": (1920, 1080), "tablet": (1024, 768)}

# Where the status and the clock are, whether the banner's box meets theirs, and whether they are
# what a person sees at their centre (nothing drawn over them).
UNCOVERED = """(screen) => {
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const out = {banner: box(document.querySelector(`.wf-${screen} .wf-banner`))};
  for (const name of ['conn', 'clock']) {
    const el = document.querySelector(`.wf-${screen} .wf-${name}`);
    const [l, t, r, b] = box(el);
    const hit = document.elementFromPoint((l + r) / 2, (t + b) / 2);
    out[name] = box(el);
    out[name + 'OnTop'] = !!hit && el.contains(hit);
  }
  return out;
}"""


def add_display(stack, name: str) -> str:
    """A wall screen's account through the real CLI; the URL that signs it in."""
    env = {**os.environ, "WATCHFLOOR_DATA_DIR": str(stack.data_dir), "REDIS_URL": ""}
    result = subprocess.run([sys.executable, "-m", "watchfloor.cli", "display", "add", name], capture_output=True,
                            text=True, cwd=ROOT, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    return stack.url.rstrip("/") + result.stdout.strip()[result.stdout.strip().index("/wall"):]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    stack = start_stack(tmp_path_factory.mktemp("alert-cycle"), env={"WATCHFLOOR_SCENARIO_SPEED": "20"})
    stack.add_user("officer", "operator", PASSWORD)
    stack.add_user("tess", "operator", PASSWORD)
    stack.add_user("visitor", "viewer", PASSWORD)
    stack.wall_url = add_display(stack, "wall-north")
    yield stack
    stack.stop()


def open_screens(stack, browser):
    """The wall (a display screen, by its token), the desk (officer) and the tablet (tess)."""
    pages, errors = {}, []
    for screen in ("wall", "desk", "tablet"):
        page = browser.new_context(viewport=dict(zip(("width", "height"), SIZES[screen], strict=True))).new_page()
        page.on("pageerror", lambda exc, s=screen: errors.append(f"{s}: {exc}"))
        if screen == "wall":
            page.goto(stack.wall_url)
        else:
            stack.sign_in(page, "officer" if screen == "desk" else "tess", PASSWORD, "" if screen == "desk" else "tablet")
        page.wait_for_selector(f".wf-{screen} .wf-conn-live", timeout=30_000)
        pages[screen] = page
    return pages, errors


def banner_has(page, screen: str, text: str) -> None:
    page.wait_for_selector(f".wf-{screen} .wf-banner:not([hidden]) .wf-alert-headline:has-text('{text}')", timeout=30_000)


def banner_lacks(page, screen: str, text: str) -> None:
    """The banner drops ``text`` by itself (nobody touches this screen): generous wait."""
    page.wait_for_function("""([screen, text]) => { const b = document.querySelector(`.wf-${screen} .wf-banner`);
        return b && (b.hidden || !b.textContent.includes(text)); }""", arg=[screen, text], timeout=30_000)


def overlaps(a: list[float], b: list[float]) -> bool:
    return not (a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1])


def sent_item(desk, headline: str):
    return desk.locator("#wf-sent-alerts .wf-sent-alert", has_text=headline)


def status_and_clock_in_view(page, screen: str) -> None:
    """The banner hangs under the header: the status and the clock are neither under its box nor
    drawn over; the screenshot is kept."""
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / f"alert-{screen}-{SIZES[screen][0]}x{SIZES[screen][1]}.png"))
    seen = page.evaluate(UNCOVERED, screen)
    for part in ("conn", "clock"):
        assert not overlaps(seen[part], seen["banner"]), (screen, part, seen)
        assert seen[part + "OnTop"], (screen, part, seen)
    assert page.locator(f".wf-{screen} .wf-conn").inner_text().startswith("LIVE")


def push(page, stack, headline: str, severity: str = "moderate") -> str:
    reply = page.request.post(stack.url + "api/alerts", data={"headline": headline, "severity": severity},
                              headers={"Origin": stack.url.rstrip("/")})
    assert reply.status == 201, reply.text()
    return reply.json()["id"]


def test_the_alert_cycle_closes_across_a_wall_a_desk_and_a_tablet(stack, browser):
    pages, errors = open_screens(stack, browser)
    wall, desk, tablet = pages["wall"], pages["desk"], pages["tablet"]
    stamp = int(time.time())
    first, second, third = (f"Evacuate Boylston St ({stamp})", f"Storm cell over Newton ({stamp})",
                            f"Water station 20 closed ({stamp})")

    # Pushed from the desk's composer: on the wall and the tablet (its sender has acknowledged it).
    desk.click("[data-action='compose-alert']")
    desk.fill("#wf-al-headline", first)
    desk.fill("#wf-al-text", "Move spectators west of Exeter St.")
    desk.select_option("#wf-al-severity", "extreme")
    desk.click("[data-action='push-alert']")
    desk.wait_for_selector(".wf-composer .wf-form-result.wf-ok:has-text('Pushed')", timeout=15_000)
    desk.click("[data-action='compose-close']")
    for screen in ("wall", "tablet"):
        banner_has(pages[screen], screen, first)
        status_and_clock_in_view(pages[screen], screen)

    # Received by each screen, shown to the sender on the desk.
    item = sent_item(desk, first)
    for who in ("wall-north (wall)", "tess (tablet)", "officer (desk)"):
        item.locator(f".wf-receipt[data-who='{who}']").wait_for(timeout=15_000)
    assert item.locator(".wf-ackd[data-who='officer']").count() == 1

    # Acknowledged per person, kept on the server: a reload of the tablet does not bring it back.
    tablet.locator(".wf-tablet .wf-ack").first.click()
    tablet.wait_for_selector(".wf-tablet .wf-banner", state="hidden", timeout=30_000)
    item.locator(".wf-ackd[data-who='tess']").wait_for(timeout=15_000)
    assert wall.locator(".wf-wall .wf-banner").is_visible(), "a person's acknowledgement is not the wall's"
    tablet.reload()
    tablet.wait_for_selector(".wf-tablet .wf-conn-live", timeout=30_000)
    push(desk, stack, second)
    banner_has(tablet, "tablet", second)  # its alerts are loaded, and the acknowledged one stays down
    assert first not in tablet.locator(".wf-tablet .wf-banner").inner_text()

    # Someone else's alert on the desk: under the header there too; withdrawn by its sender, it goes.
    third_id = push(tablet, stack, third, "severe")
    banner_has(desk, "desk", third)
    status_and_clock_in_view(desk, "desk")
    banner_has(wall, "wall", third)
    reply = tablet.request.delete(stack.url + f"api/alerts/{third_id}", headers={"Origin": stack.url.rstrip("/")})
    assert reply.status == 200, reply.text()
    banner_lacks(desk, "desk", third)
    banner_lacks(wall, "wall", third)

    # The desk acknowledges for the wall: the wall drops that alert without anyone touching it.
    banner_has(wall, "wall", second)
    item.locator("[data-action='ack-for'][data-for='wall-north']").click()
    desk.wait_for_selector(".wf-sent .wf-form-result.wf-ok:has-text('Acknowledged for wall-north')", timeout=15_000)
    banner_lacks(wall, "wall", first)
    item.locator(".wf-ackd[data-who='wall-north']:has-text('(by officer)')").wait_for(timeout=15_000)

    # Withdrawn from the desk (two clicks): the wall and the tablet drop it by themselves.
    sent_item(desk, second).locator("[data-action='withdraw-alert']").click()
    sent_item(desk, second).locator("[data-action='withdraw-alert']").click()
    desk.wait_for_selector(".wf-sent .wf-form-result.wf-ok:has-text('Withdrawn')", timeout=15_000)
    wall.wait_for_selector(".wf-wall .wf-banner", state="hidden", timeout=30_000)
    tablet.wait_for_selector(".wf-tablet .wf-banner", state="hidden", timeout=30_000)
    wall.screenshot(path=str(ARTIFACTS / "alert-wall-withdrawn-1920x1080.png"))

    # Updated from the desk: a new version shows again on the wall and the tablet, marked as updated.
    item.locator("[data-action='update-alert']").click()
    assert desk.input_value("#wf-al-headline") == first
    desk.fill("#wf-al-headline", first + " and Dartmouth St")
    desk.click("[data-action='push-alert']")
    desk.wait_for_selector(".wf-composer .wf-form-result.wf-ok:has-text('Updated (version 2)')", timeout=15_000)
    desk.click("[data-action='compose-close']")
    for screen, page in (("wall", wall), ("tablet", tablet)):
        banner_has(page, screen, first + " and Dartmouth St")
        assert "UPDATED" in page.locator(f".wf-{screen} .wf-alert-tag").first.inner_text()
    wall.screenshot(path=str(ARTIFACTS / "alert-wall-updated-1920x1080.png"))
    desk.screenshot(path=str(ARTIFACTS / "alert-desk-open-alerts-1920x1080.png"))
    # ... and withdrawn: gone everywhere, and from the desk's open alerts.
    for _ in range(2):
        sent_item(desk, first).locator("[data-action='withdraw-alert']").click()
    for screen, page in (("wall", wall), ("tablet", tablet)):
        page.wait_for_selector(f".wf-{screen} .wf-banner", state="hidden", timeout=30_000)
    desk.wait_for_function("(text) => !document.querySelector('#wf-sent-alerts').textContent.includes(text)",
                           arg=first, timeout=15_000)
    assert not errors, errors
    for page in pages.values():
        page.context.close()


def test_a_viewer_is_offered_no_push_button_and_cannot_push(stack, browser):
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    stack.sign_in(page, "visitor", PASSWORD, "")
    page.wait_for_selector(".wf-desk .wf-conn-live", timeout=30_000)
    assert page.locator("[data-action='compose-alert']").count() == 0
    assert page.locator(".wf-composer").count() == 0 and page.locator(".wf-sent").count() == 0
    refused = page.request.post(stack.url + "api/alerts", data={"headline": "not mine to send"},
                                headers={"Origin": stack.url.rstrip("/")})
    assert refused.status == 403
    page.close()
