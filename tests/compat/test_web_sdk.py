"""The mParticle Web SDK (npm ``@mparticle/web-sdk`` 2.68.0) in headless Debian Chromium, against Fermion
over TLS.

A page served by the test from 127.0.0.1 (https) loads the SDK from ``tests/compat/js/node_modules``, points
it at a Fermion server (https, a certificate from ``fermion tls dev-cert``'s code) with either the URL options
or the custom-domain option, and runs a user's life: anonymous page view and event, login, user attributes,
a purchase, modify, alias of the anonymous user into the known one, logout. Then the test runs the pipeline
and reads Fermion's stores: events under the right MPIDs, identities and attributes on the profile, the
alias.

Chromium is Debian's (/usr/bin/chromium, installed by .ci/run); Playwright never downloads a browser here.
"""

from __future__ import annotations

import functools
import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fermion.cli.tls import make_dev_cert
from fermion.clock import FrozenClock
from fermion.platform import Input
from fermion.runtime import Runtime
from tests.compat.conftest import live_server
from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
SDK = Path(__file__).parent / "js" / "node_modules" / "@mparticle" / "web-sdk" / "dist" / "mparticle.js"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PAGE = """<!doctype html><html><head><title>Fermion shop</title><script src="/mparticle.js"></script></head>
<body><h1>Fermion shop</h1></body></html>"""

pytestmark = pytest.mark.skipif(
    not IN_CI and (not CHROMIUM.exists() or not SDK.exists()),
    reason="needs Debian's chromium and `npm ci` in tests/compat/js (make test, .ci/run do both; CI fails)",
)


@pytest.fixture
def runtime(frozen_runtime: Runtime) -> Runtime:
    return frozen_runtime


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "tls" / "cert.pem", tmp_path / "tls" / "key.pem"
    make_dev_cert(cert, key, ["127.0.0.1", "localhost"])
    return cert, key


@pytest.fixture
def page_origin(tmp_path: Path, tls: tuple[Path, Path]) -> Iterator[str]:
    """An https server of the test page and the SDK's script on a free port."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    (root / "mparticle.js").write_bytes(SDK.read_bytes())
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web_input(runtime: Runtime) -> Input:
    runtime.tenancy.bootstrap()
    return runtime.tenancy.create_input(1, "Shop web", platform="web").input


# Runs in the page: each step resolves when the SDK's callback (or upload) is done.
SCRIPT = """
async ({key, options, user}) => {
  const wait = (ms) => new Promise((r) => setTimeout(r, ms));
  const identity = (call, request) => new Promise((resolve, reject) => {
    mParticle.Identity[call](request, (result) => {
      if (result.httpCode === 200) { resolve(result.getUser().getMPID()); }
      else { reject(new Error(call + " answered " + result.httpCode + " " + JSON.stringify(result.body))); }
    });
  });
  const ready = new Promise((resolve, reject) => {
    options.identityCallback = (result) => {
      if (result.httpCode === 200) { resolve(result.getUser().getMPID()); }
      else { reject(new Error("identify answered " + result.httpCode)); }
    };
  });
  mParticle.init(key, options);
  const anonymous = await ready;
  mParticle.logPageView("Landing", {path: "/"});
  mParticle.logEvent("Viewed Banner", mParticle.EventType.Navigation, {banner: "spring"});
  await wait(300);
  const known = await identity("login", {userIdentities: {customerid: user, email: user + "@example.com"}});
  const current = mParticle.Identity.getCurrentUser();
  current.setUserAttribute("plan", "pro");
  current.setUserAttribute("$FirstName", "Ann");
  current.setUserAttributeList("colors", ["red", "blue"]);
  mParticle.logEvent("Played Song", mParticle.EventType.Other, {song: "x"});
  const product = mParticle.eCommerce.createProduct("Mug", "SKU-1", 20, 2);
  const transaction = mParticle.eCommerce.createTransactionAttributes("ord-1", "Web Store", null, 40, 0, 0);
  mParticle.eCommerce.logProductAction(
    mParticle.ProductActionType.Purchase, [product], null, null, transaction);
  await wait(300);
  await identity("modify", {userIdentities: {customerid: user, email: user + "-new@example.com"}});
  const alias = mParticle.Identity.createAliasRequest(
    mParticle.Identity.getUser(anonymous), mParticle.Identity.getUser(known));
  const aliased = await new Promise(
    (resolve) => mParticle.Identity.aliasUsers(alias, (r) => resolve(r.httpCode)));
  const after = await identity("logout", {});
  mParticle.logEvent("After Logout", mParticle.EventType.Other);
  mParticle.upload();
  await wait(500);
  return {anonymous, known, after, aliased, alias};
}
"""


def sdk_options(api: str, family: str) -> dict[str, Any]:
    options: dict[str, Any] = {"isDevelopmentMode": True, "logLevel": "warning"}
    if family == "custom-domain":
        options["domain"] = api
    else:
        options.update(
            configUrl=f"{api}/JS/v2/",
            identityUrl=f"{api}/v1/",
            v3SecureServiceUrl=f"{api}/v3/JS/",
            aliasUrl=f"{api}/v1/identity/",
        )
    return options


def wait_for_event(runtime: Runtime, workspace: int, mpid: int, name: str) -> None:
    """Run the pipeline until ``name`` is stored for ``mpid`` (the SDK's last uploads end asynchronously)."""
    worker = runtime.new_worker()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        worker.drain()
        if name in {e.event_name for e in runtime.events.events_of(workspace, mpid)}:
            return
        time.sleep(0.2)
    raise AssertionError(f"{name} never arrived for {mpid}")


@pytest.mark.parametrize("family", ["url-options", "custom-domain"])
def test_a_users_life_in_the_browser_lands_on_the_right_profiles(
    runtime: Runtime,
    clock: FrozenClock,
    tls: tuple[Path, Path],
    page_origin: str,
    web_input: Input,
    family: str,
) -> None:
    from playwright.sync_api import sync_playwright

    user = f"web-{family}"
    workspace = web_input.workspace_id
    # The user already exists (signed up on another device), so this browser's anonymous profile stays apart
    # until the page aliases it.
    existing = runtime.identity.request(workspace, "identify", {"customerid": user}, cause="signed up").mpid
    with live_server(runtime, tls) as port, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{page_origin}/index.html")
            options = sdk_options(f"127.0.0.1:{port}", family)
            result = page.evaluate(SCRIPT, {"key": web_input.api_key, "options": options, "user": user})
            assert errors == []
        finally:
            browser.close()
        anonymous, known, after = int(result["anonymous"]), int(result["known"]), int(result["after"])
        assert result["aliased"] in (200, 202), result
        assert known == existing and anonymous != known and after != known
        wait_for_event(runtime, workspace, after, "After Logout")

    assert runtime.profiles.find_by_identity(workspace, "customer_id", user) == known
    profile = runtime.profiles.get(workspace, known)
    assert profile is not None
    assert profile.user_attributes == {"plan": "pro", "$FirstName": "Ann", "colors": ["red", "blue"]}
    assert profile.user_identities["customer_id"] == user
    assert f"{user}-new@example.com" in runtime.identity.identities(workspace, known)["email"]  # modify

    def names(mpid: int) -> set[tuple[str, str]]:
        return {(e.event_type, e.event_name) for e in runtime.events.events_of(workspace, mpid)}

    assert {("screen_view", "Landing"), ("custom_event", "Viewed Banner")} <= names(anonymous)
    assert {("custom_event", "Played Song"), ("commerce_event", "eCommerce - Purchase")} <= names(known)
    assert ("custom_event", "After Logout") in names(after)
    assert ("custom_event", "Played Song") not in names(after)

    # The alias is carried out once due: the anonymous history is copied to the known user.
    clock.advance((runtime.settings.alias_delay_s + 1) * 1000)
    runtime.new_worker().drain()
    assert {("screen_view", "Landing"), ("custom_event", "Viewed Banner")} <= names(known)
    assert runtime.inbox.status().parked == 0
