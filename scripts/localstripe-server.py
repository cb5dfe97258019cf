"""Runs localstripe (a stateful fake of Stripe's API) on a free loopback port for the tests.

Usage: python localstripe-server.py PORT_FILE [PORT]

It binds 127.0.0.1:PORT (default 0: any free port), writes the port it got to PORT_FILE, and
serves until killed. The store starts empty (never loaded from or saved to disk).

localstripe speaks an older Stripe API than the one the billing adapter uses; what it lacks is
added here, each piece shaped from Stripe's API reference (and said so in the test notes):

- Prices (`POST /v1/prices`, `GET /v1/prices?lookup_keys[]=…`, `GET /v1/prices/{id}`): a price
  is kept as localstripe's Plan with the same id (Stripe's plans and prices share ids), its
  `lookup_key` beside it. `items[n][price]` in subscription requests is passed on as `plan`.
- `collection_method=send_invoice` (with `days_until_due`) on subscriptions: Stripe makes the
  subscription `active` at once and leaves its first invoice open for the customer to pay;
  localstripe only charges a card, and refuses a customer without one.
- `proration_behavior` on subscription updates (`create_prorations` is localstripe's own
  behaviour: an "Unused time" credit for the old price; `none` is accepted too).
- `POST /v1/billing_portal/sessions`: a customer-portal session `{id, object, customer,
  return_url, url, created, livemode}`; 404 `resource_missing` for an unknown customer.
- `Idempotency-Key`: a POST repeated with a key already seen answers the first answer again
  (Stripe keeps keys 24 hours), with `Idempotent-Replayed: true`.

And two controls for the tests, outside `/v1`: `POST /_test/fail?after=A&times=N&status=S` lets A
`/v1` requests through, then makes the next N answer S (default 500) with Stripe's error envelope, and `GET
/_test/requests` lists every `/v1` request as `{method, path, idempotencyKey}`.
"""

import json
import os
import secrets
import socket
import sys
import time

from aiohttp import web

from localstripe import resources
from localstripe.errors import UserError
from localstripe.server import app, get_post_data, json_response, unflatten_data

STATE = {"fail_after": 0, "fail": 0, "fail_status": 500, "requests": [], "replies": {}, "lookup": {}}


def price_of(plan):
    """A localstripe plan in Stripe's Price shape."""
    return {
        "id": plan.id,
        "object": "price",
        "active": plan.active,
        "currency": plan.currency,
        "unit_amount": plan.amount,
        "lookup_key": STATE["lookup"].get(plan.id),
        "product": plan.product,
        "recurring": {"interval": plan.interval, "interval_count": plan.interval_count},
        "type": "recurring",
        "livemode": False,
    }


def items_price_to_plan(data):
    for item in data.get("items") or []:
        if isinstance(item, dict) and "price" in item:
            item["plan"] = item.pop("price")


@web.middleware
async def fake_middleware(request, handler):
    if not request.path.startswith("/v1/"):
        return await handler(request)
    key = request.headers.get("Idempotency-Key")
    STATE["requests"].append({"method": request.method, "path": request.path, "idempotencyKey": key})
    if STATE["fail"] > 0 and STATE["fail_after"] > 0:
        STATE["fail_after"] -= 1
    elif STATE["fail"] > 0:
        STATE["fail"] -= 1
        return json_response(
            {"error": {"type": "api_error", "message": "An unknown error occurred (injected by the test)."}},
            status=STATE["fail_status"],
        )
    if request.method == "POST" and key:
        seen = STATE["replies"].get(key)
        if seen is not None:
            status, body = seen
            return web.Response(
                status=status,
                body=body,
                content_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
    response = await handler(request)
    if request.method == "POST" and key and response.status < 500:
        STATE["replies"][key] = (response.status, response.body)
    return response


async def create_price(request):
    data = await get_post_data(request) or {}
    recurring = data.pop("recurring", {}) or {}
    lookup_key = data.pop("lookup_key", None)
    product_data = data.pop("product_data", None)
    product = data.pop("product", None) or product_data
    plan = resources.Plan(
        id="price_" + secrets.token_hex(8),
        currency=data.get("currency"),
        amount=data.get("unit_amount"),
        interval=recurring.get("interval"),
        interval_count=recurring.get("interval_count", 1),
        product=product,
        metadata=data.get("metadata"),
    )
    if lookup_key:
        for other, k in list(STATE["lookup"].items()):
            if k == lookup_key:
                if data.get("transfer_lookup_key") not in ("true", True):
                    raise UserError(400, "A price with this lookup_key already exists")
                del STATE["lookup"][other]
        STATE["lookup"][plan.id] = lookup_key
    return json_response(price_of(plan))


def list_prices(request):
    data = unflatten_data(request.query)
    keys = data.get("lookup_keys") or []
    if isinstance(keys, str):
        keys = [keys]
    if isinstance(keys, dict):  # lookup_keys[0]=…
        keys = list(keys.values())
    plans = [p for p in resources.Plan._api_list_all(None, limit=100)._list]
    chosen = [price_of(p) for p in plans if not keys or STATE["lookup"].get(p.id) in keys]
    return json_response({"object": "list", "url": "/v1/prices", "has_more": False, "data": chosen})


def get_price(request):
    return json_response(price_of(resources.Plan._api_retrieve(request.match_info["id"])))


async def portal_session(request):
    data = await get_post_data(request) or {}
    customer = data.get("customer")
    if not isinstance(customer, str):
        raise UserError(400, "Missing required param: customer.")
    resources.Customer._api_retrieve(customer)  # 404 for an unknown customer
    sid = "bps_" + secrets.token_hex(12)
    return json_response(
        {
            "id": sid,
            "object": "billing_portal.session",
            "customer": customer,
            "return_url": data.get("return_url"),
            "url": "https://billing.stripe.com/p/session/test_" + sid,
            "created": int(time.time()),
            "livemode": False,
        }
    )


async def fail(request):
    STATE["fail_after"] = int(request.query.get("after", "0"))
    STATE["fail"] = int(request.query.get("times", "1"))
    STATE["fail_status"] = int(request.query.get("status", "500"))
    return web.Response()


def requests_seen(request):
    return json_response(STATE["requests"])


# Subscriptions: prices as plans, and send_invoice as Stripe does it.
_sub_init = resources.Subscription.__init__
_sub_update = resources.Subscription._update
_sub_create_invoice = resources.Subscription._create_invoice


def sub_init(self, *args, collection_method=None, days_until_due=None, **kwargs):
    items_price_to_plan(kwargs)
    self._send_invoice = collection_method == "send_invoice"
    _sub_init(self, *args, **kwargs)
    self.collection_method = collection_method or "charge_automatically"
    self.days_until_due = days_until_due


def sub_create_invoice(self):
    if not getattr(self, "_send_invoice", False):
        return _sub_create_invoice(self)
    invoice = resources.Invoice(
        customer=self.customer, subscription=self.id, items=list(self.items._list), date=self.current_period_start
    )
    invoice._finalize()
    self.latest_invoice = invoice.id
    self.status = "active"


def sub_update(self, *args, proration_behavior=None, **kwargs):
    items_price_to_plan(kwargs)
    if proration_behavior is not None and proration_behavior not in ("create_prorations", "none", "always_invoice"):
        raise UserError(400, "Invalid proration_behavior")
    return _sub_update(self, *args, **kwargs)


resources.Subscription.__init__ = sub_init
resources.Subscription._update = sub_update
resources.Subscription._create_invoice = sub_create_invoice

app.middlewares.insert(0, fake_middleware)
app.router.add_post("/v1/prices", create_price)
app.router.add_get("/v1/prices", list_prices)
app.router.add_get("/v1/prices/{id}", get_price)
app.router.add_post("/v1/billing_portal/sessions", portal_session)
app.router.add_post("/_test/fail", fail)
app.router.add_get("/_test/requests", requests_seen)


def main() -> None:
    port_file = sys.argv[1]
    wanted = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", wanted))
    port = sock.getsockname()[1]
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.replace(tmp, port_file)
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    main()
